// The grid keeps its own (torch-free) lists of accepted names; they must be the
// names core/ and experiments/ accept, or a grid that parses would fail later, in
// the middle of a run.
#include <gtest/gtest.h>

#include "runner/grid.h"

#ifdef EPRUNNER_WITH_MODELS
#include "core/model/causal_lm.h"
#include "core/prune/decompose.h"
#include "core/prune/freeze.h"
#include "core/prune/score.h"
#endif
#ifdef EPRUNNER_WITH_EXPERIMENTS
#include "experiments/task_registry.h"
#endif

namespace g = ep::grid;

#ifdef EPRUNNER_WITH_MODELS
TEST(GridNames, MatchCore) {
  for (auto name : g::kMatrixNames) EXPECT_EQ(ep::matrix_kind_name(ep::matrix_kind_from_name(name)), name);
  for (auto name : g::kGranularities) EXPECT_EQ(ep::granularity_name(ep::granularity_from_name(name)), name);
  for (auto name : g::kSvdRoutes) EXPECT_EQ(ep::svd_route_name(ep::svd_route_from_name(name)), name);
  for (auto name : g::kPositionReductions)
    EXPECT_EQ(ep::position_reduce_name(ep::position_reduce_from_name(name)), name);
  for (auto name : g::kBiasModes) EXPECT_EQ(ep::bias_mode_name(ep::bias_mode_from_name(name)), name);
  // And the grid's defaults are core's defaults.
  g::EigenpruneSpec spec;
  EXPECT_EQ(spec.position_reduction, ep::position_reduce_name(ep::ScoreOptions{}.reduce));
  EXPECT_EQ(spec.bias, ep::bias_mode_name(ep::FreezeOptions{}.bias));
  EXPECT_EQ(spec.pairs, ep::ScoreOptions{}.pairs);
  EXPECT_EQ(spec.svd, ep::svd_route_name(ep::DecomposeOptions{}.route));
  EXPECT_EQ(spec.granularity, ep::granularity_name(ep::DecomposeOptions{}.granularity));
}
#endif

#ifdef EPRUNNER_WITH_EXPERIMENTS
TEST(GridNames, MatchTheTaskRegistry) {
  for (auto kind : g::kTaskKinds) {
    const ep::TaskKind& k = ep::find_task_kind(kind);
    EXPECT_EQ(k.needs_data_dir, g::task_kind_needs_data(kind)) << kind;
    EXPECT_NO_THROW(ep::find_prompt_set(k, "paper")) << kind;
  }
  EXPECT_EQ(ep::task_kinds().size(), std::size(g::kTaskKinds)) << "a task kind was added: list it in runner/grid.h";
  for (auto kind : {"cb", "copa", "rte"}) EXPECT_NO_THROW(ep::find_prompt_set(ep::find_task_kind(kind), "lm-eval"));
}
#endif

TEST(GridNames, ListsAreNotEmpty) {
  EXPECT_EQ(std::size(g::kMatrixNames), 6u);
  EXPECT_EQ(std::size(g::kTaskKinds), 5u);
}
