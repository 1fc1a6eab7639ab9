// What a run records about itself.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "runner/grid.h"
#include "runner/provenance.h"

namespace {

// The checkout's commit as git says it now (a stale build would record an older one).
std::string head_commit() {
  std::string out;
  if (FILE* p = popen("git -C '" EP_SOURCE_DIR "' rev-parse --short=12 HEAD 2>/dev/null", "r")) {
    char buf[64];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.empty() ? "unknown" : out;
}

}  // namespace

TEST(Provenance, RecordsGridVersionsAndCommandLine) {
  const auto grid = ep::grid::parse("[[models]]\nname = \"m\"\npath = \"c\"\n[[tasks]]\nkind = \"int-sum\"\n"
                                    "[eigenprune]\np = [0.1]\n",
                                    "/grids/g.toml");
  const char* argv[] = {"eprunner", "run", "g.toml"};
  auto p = ep::runner::make_provenance(grid, 3, argv, "cpu x 1");
  EXPECT_EQ(p.grid_text, grid.text);
  EXPECT_EQ(p.grid_path, "/grids/g.toml");
  EXPECT_EQ(p.command_line, "eprunner run g.toml");
  EXPECT_EQ(p.eprunner_version, EP_PROJECT_VERSION);
  EXPECT_EQ(p.git_commit, head_commit());
  EXPECT_EQ(p.devices, "cpu x 1");
  EXPECT_FALSE(p.started_at.empty());
#ifdef EPRUNNER_WITH_MODELS
  EXPECT_FALSE(p.torch_version.empty());
  EXPECT_FALSE(p.mpi_version.empty());
#endif
}
