// The grid's [eigenprune] settings as core/prune's options, in one place: `run` (the
// cell executor) and `export` must decompose, score and freeze a model the same way,
// or an exported model would not be the one whose accuracy the results file holds.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/prune/decompose.h"
#include "core/prune/freeze.h"
#include "core/prune/score.h"
#include "runner/grid.h"

namespace ep::runner {

inline DecomposeOptions decompose_options(const grid::EigenpruneSpec& ep) {
  DecomposeOptions o;
  o.granularity = ep.granularity;
  o.route = ep.svd;
  o.fold_input_norm = ep.recipe == Recipe::Official;  // TransformerLens' folded matrices
  return o;
}

// positions: P, the longest teacher-forced training input (the rows of x̄).
inline ScoreOptions score_options(const grid::EigenpruneSpec& ep, int64_t positions) {
  ScoreOptions o;
  o.reduce = ep.position_reduction;
  o.pairs = ep.pairs;
  o.positions = positions;
  o.recipe = ep.recipe;  // the grid sets reduce = max and pairs = 1 with it
  return o;
}

inline FreezeOptions freeze_options(const grid::EigenpruneSpec& ep) {
  FreezeOptions o;
  o.bias = ep.bias;
  o.recipe = ep.recipe;
  return o;
}

// LASER (core/prune/methods.h) reduces the model's own whole matrices, whatever the
// recipe, and adds no bias; `layers`: the layers decomposed (empty: all).
inline DecomposeOptions laser_decompose_options(const grid::EigenpruneSpec& ep, std::vector<int64_t> layers) {
  DecomposeOptions o;
  o.granularity = Granularity::Matrix;
  o.route = ep.svd;
  o.layers = std::move(layers);
  return o;
}

inline FreezeOptions laser_freeze_options() {
  FreezeOptions o;
  o.bias = BiasMode::None;
  return o;
}

}  // namespace ep::runner
