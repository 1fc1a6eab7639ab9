// The grid file (runner/grid.cpp over runner/toml_table.cpp and toml++): TOML syntax,
// then the schema: every key's type and range, enum names, task kinds and prompt
// sets, unknown keys. Input: the file's text; parsed in memory (grid::parse), so
// nothing is read from disk (paths are only resolved, never opened).
// Property: a grid that parses describes itself (what plans and fingerprints use).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/error.h"
#include "runner/grid.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const ep::grid::Grid g = ep::grid::parse(text, "/fuzz/grid.toml");
    size_t n = ep::grid::describe(g.eigenprune).size();
    for (const auto& m : g.models) {
      n += ep::grid::describe(m).size();
      for (const auto& t : g.tasks) n += ep::grid::prepends_bos(t, m, false);
    }
    for (const auto& t : g.tasks) n += ep::grid::describe(t).size();
    EP_FUZZ_ASSERT(!g.models.empty() && !g.tasks.empty() && !g.eigenprune.p.empty(),
                   "a grid without models, tasks or p parsed");
    (void)n;
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
  }
  return 0;
}
