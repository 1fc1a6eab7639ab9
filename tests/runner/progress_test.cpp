// The progress line rank 0 prints.
#include <gtest/gtest.h>

#include "runner/progress.h"

using ep::runner::Progress;

TEST(Progress, CountsCellsFailuresAndEta) {
  Progress p(4, /*live=*/false);
  EXPECT_EQ(p.status_line().rfind("cells 0/4", 0), 0u) << p.status_line();
  EXPECT_EQ(p.status_line().find("ETA"), std::string::npos);  // nothing to extrapolate from yet
  p.cell_done("a__b", true, 100, 1.0);
  p.cell_done("a__c", false, 0, 1.0);
  const std::string line = p.status_line();
  EXPECT_NE(line.find("cells 2/4 (1 failed)"), std::string::npos) << line;
  EXPECT_NE(line.find("ex/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA"), std::string::npos) << line;
  EXPECT_EQ(p.done(), 2);
  EXPECT_EQ(p.failed(), 1);
  p.cell_done("a__d", true, 1, 1.0);
  p.cell_done("a__e", true, 1, 1.0);
  EXPECT_EQ(p.status_line().find("ETA"), std::string::npos);  // all done
}
