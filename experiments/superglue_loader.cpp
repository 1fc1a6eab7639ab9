#include "experiments/superglue_loader.h"

#include "core/util/error.h"

namespace ep {

namespace {

std::vector<Record> parse_file(const std::filesystem::path& path, const SuperglueRecordParser& parse) {
  std::vector<Record> records;
  for (const JsonlRecord& json : read_jsonl(path)) records.push_back(parse(json));
  return records;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "\"" : ", \"") + n + "\"";
  return out;
}

}  // namespace

RecordSet load_superglue_folder(const std::filesystem::path& data_dir, const SuperglueRecordParser& parse) {
  EP_CHECK(std::filesystem::is_directory(data_dir),
           "{}: not a folder; expected the task's SuperGLUE folder with train.jsonl and val.jsonl", data_dir.string());
  RecordSet set;
  set.train = parse_file(data_dir / "train.jsonl", parse);
  set.test = parse_file(data_dir / "val.jsonl", parse);
  return set;
}

int64_t superglue_label(const JsonlRecord& record, const std::vector<std::string>& names) {
  auto it = record.value.find("label");
  EP_CHECK(it != record.value.end(), "{}: field 'label' is missing; expected one of {}", record.source,
           joined(names));
  const auto n = static_cast<int64_t>(names.size());
  if (it->is_number_integer()) {
    // Checked as written (dump), and unsigned values apart: 2^64 - 1 must not read as -1.
    const bool in_range = it->is_number_unsigned() ? it->get<uint64_t>() < static_cast<uint64_t>(n)
                                                   : it->get<int64_t>() >= 0 && it->get<int64_t>() < n;
    EP_CHECK(in_range, "{}: field 'label' is {}, out of range; expected 0..{} or one of {}", record.source,
             it->dump(), n - 1, joined(names));
    return it->get<int64_t>();
  }
  EP_CHECK(it->is_string(), "{}: field 'label' is a JSON {}; expected one of {}", record.source, it->type_name(),
           joined(names));
  const auto& text = it->get_ref<const std::string&>();
  for (int64_t i = 0; i < n; ++i)
    if (names[static_cast<size_t>(i)] == text) return i;
  EP_FAIL("{}: field 'label' is \"{}\", not a label of this task; expected one of {}", record.source, text,
          joined(names));
}

}  // namespace ep
