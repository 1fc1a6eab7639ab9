// A grid that leaves a setting out gets core's default for it: the grid's defaults
// (torch-free, runner/grid.h) and core's option structs (LibTorch) must agree.
#include <gtest/gtest.h>

#include "core/prune/decompose.h"
#include "core/prune/freeze.h"
#include "core/prune/score.h"
#include "experiments/finetune.h"
#include "experiments/load_task.h"
#include "runner/grid.h"

TEST(GridDefaults, AreCoreDefaults) {
  const ep::grid::EigenpruneSpec spec;
  EXPECT_EQ(spec.position_reduction, ep::ScoreOptions{}.reduce);
  EXPECT_EQ(spec.bias, ep::FreezeOptions{}.bias);
  EXPECT_EQ(spec.pairs, ep::ScoreOptions{}.pairs);
  EXPECT_EQ(spec.svd, ep::DecomposeOptions{}.route);
  EXPECT_EQ(spec.granularity, ep::DecomposeOptions{}.granularity);
  const ep::grid::FineTuneSpec ft;
  EXPECT_EQ(ft.lr, ep::FinetuneOptions{}.lr);
  EXPECT_EQ(ft.batch_size, ep::FinetuneOptions{}.batch_size);
}
