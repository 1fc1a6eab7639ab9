// JSON-lines data (experiments/jsonl.cpp) and the SuperGLUE loaders built on it
// (superglue_loader.cpp; cb_task.cpp, copa_task.cpp, rte_task.cpp: fields, labels,
// COPA's question and premise rewriting). Input: one file's text, parsed in memory,
// then written as both train.jsonl and val.jsonl of a task folder that each of the
// three SuperGLUE kinds loads.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/util/error.h"
#include "experiments/jsonl.h"
#include "experiments/task_registry.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    for (const ep::JsonlRecord& r : ep::parse_jsonl(text, "fuzz.jsonl")) {
      EP_FUZZ_ASSERT(r.value.is_object(), "%s: a record that is no object", r.source.c_str());
      for (const char* key : {"premise", "label", "idx"}) {
        if (!ep::has_field(r, key)) continue;
        try {
          (void)ep::string_field(r, key);
        } catch (const ep::Error&) {
        }
        try {
          (void)ep::int_field(r, key);
        } catch (const ep::Error&) {
        }
      }
    }
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
    return 0;  // the loaders would refuse it the same way
  }
  static const std::filesystem::path dir = [] {
    auto d = ep::fuzz::scratch() / "task";
    std::filesystem::create_directories(d);
    return d;
  }();
  ep::fuzz::write_file(dir / "train.jsonl", text);
  ep::fuzz::write_file(dir / "val.jsonl", text);
  for (const char* kind : {"cb", "copa", "rte"}) {
    try {
      const ep::RecordSet set = ep::find_task_kind(kind).load(dir);
      for (const auto& r : set.train)
        EP_FUZZ_ASSERT(r.label >= 0 && r.label < 3, "%s: label %lld", r.source.c_str(),
                       static_cast<long long>(r.label));
    } catch (const ep::Error& e) {
      ep::fuzz::refused(e);
    }
  }
  return 0;
}
