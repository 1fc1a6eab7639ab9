// Eigenpruning step 2: estimate each component's effect on the loss.
//
// For a training example with input x [T, in] of matrix A, its partner's input x'
// (another example of the same batch, aligned from the end of the prompt) and
// g = dL/d(A x) [T, out], component E_i = s_i u_i v_iᵀ gets
//
//   ΔL_i = s_i · reduce_t (g_t·u_i)(v_i·(x'_t − x_t))          (paper §3)
//
// reduce = sum over positions: the first-order change of L when the whole input
// of E_i is swapped (default), or max over positions (the paper code's reduction; its
// whole computation is ScoreOptions::recipe = Official). The score
// of a component is the running maximum of ΔL_i over examples and partners.
// Positions where x or x' is a pad are left out.
//
// Computed once per block and batch: gu = g·U, xv = x·V (both [B, T, nb, r]), then
// for each partner shift ΔL = s · reduce_t gu[b] * (xv[b'] − xv[b]).
//
// The loss is the SUM over the batch of each example's answer cross-entropy (summed
// over the answer's tokens under teacher forcing; one token for the paper's tasks
// with GPT-2), so an example's gradient, hence its score, does not depend on what
// else is in the batch.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/prune/decompose.h"

namespace ep {

// Sum or Max over positions: enum class PositionReduce, core/prune/settings.h.

struct ScoreOptions {
  PositionReduce reduce = PositionReduce::Sum;
  // Partners per example: example b is paired with (b - k) mod B for k = 1..pairs
  // (k = 1 is the paper code's torch.roll(x, 1, dim=0)); never with itself, so a
  // batch of B uses min(pairs, B - 1).
  int64_t pairs = 1;
  // P: rows of the per-position activation sums, aligned to the END of the prompt
  // (row P-1 = last position). Every scored batch must have T <= P.
  int64_t positions = 0;
  // Micro-batches: at most this many rows (micro_batch) and padded tokens
  // (micro_batch_tokens) per forward + backward; 0 = no limit; at least one row.
  // Scoring keeps the autograd graph of what it runs at once; micro-batches keep one
  // micro-batch's graph, plus every row's projected input and gradient ([B, T, nb, r]
  // per matrix) until the batch's pairs are scored. Partners still come from the
  // whole batch: the scores are the unsplit batch's, whatever the micro-batch size.
  int64_t micro_batch = 0;
  int64_t micro_batch_tokens = 0;
  // Official (official_recipe.h; the decompositions must be of the folded matrices):
  // x is the residual stream entering the norm (Taps::record_norm_input); ΔL is
  // scaled by 1/B (the paper's code takes the mean loss over the batch); pads are
  // included in the max over positions and in the activation sums (Δx = 0 at a pad
  // pair or at BOS floors a score at 0); and the sums hold the LAST scored batch only
  // (the paper's x̄), replaced at every batch. Use reduce = Max and pairs = 1.
  Recipe recipe = Recipe::Eprunner;
};

// Rows per forward + backward for a batch of B rows padded to T positions.
int64_t micro_batch_rows(const ScoreOptions& opts, int64_t B, int64_t T);

// The state of a scoring pass: exactly mergeable (max, and float64 sums), so
// shards scored on different processes combine into the same state as one pass.
// The distributed layer all-reduces max_delta() with MAX and sums() with SUM in
// place, without knowing what they mean.
class ScoreState {
 public:
  ScoreState() = default;
  ScoreState(const std::vector<Decomposition>& decs, int64_t positions, torch::Device device);
  // The same from shapes: N components, each matrix's input features.
  ScoreState(int64_t n_components, const std::vector<int64_t>& in_features, int64_t positions,
             torch::Device device);

  // [N] float64: running max of ΔL per global component; -inf until scored.
  torch::Tensor& max_delta() { return max_; }
  const torch::Tensor& max_delta() const { return max_; }
  // One flat float64 buffer: each matrix's x sums [P, in] in order, then counts [P].
  torch::Tensor& sums() { return sums_; }
  const torch::Tensor& sums() const { return sums_; }

  int64_t positions() const { return positions_; }
  size_t n_matrices() const { return in_features_.size(); }
  torch::Tensor x_sum(size_t matrix) const;   // [P, in] view into sums()
  torch::Tensor counts() const;               // [P] view: real tokens seen per position
  torch::Tensor x_mean(size_t matrix) const;  // [P, in]; 0 where no token was seen
  torch::Tensor x_mean_all(size_t matrix) const;  // [in]: mean over every real token

  // max with max, sums with sums (same decompositions and P required).
  void merge(const ScoreState& other);

 private:
  torch::Tensor max_;   // [N] float64
  torch::Tensor sums_;  // [Σ P*in + P] float64
  std::vector<int64_t> in_features_, sum_offsets_;
  int64_t positions_ = 0;
};

// Scores batches against a fixed list of decompositions (projections prepared once).
class Scorer {
 public:
  Scorer(const std::vector<Decomposition>& decs, const ScoreOptions& opts);

  ScoreState make_state(torch::Device device) const;

  // Forward with taps, dL/d(output) of every decomposed matrix, then accumulate.
  // targets [B] int64: the answer token of each example; or [B, K]: answers of up
  // to K tokens, right-aligned (teacher_forced_batch()).
  void score_batch(CausalLM& model, const Batch& batch, const torch::Tensor& targets,
                   ScoreState& state) const;

  // The math on given tensors (no model): x [B, T, in] input of matrix `matrix`,
  // g [B, T, out] dL/d(output), mask [B, T] (1 = real token; undefined = all real).
  void accumulate(size_t matrix, const torch::Tensor& x, const torch::Tensor& g,
                  const torch::Tensor& mask, ScoreState& state) const;
  // accumulate() in its two halves: ΔL from the projections gu = project(g) and
  // xv = project(x) [B, T, nb, r] of a whole batch, and the per-position sums of x
  // (any rows of a batch padded to the same T).
  void accumulate_deltas(size_t matrix, const torch::Tensor& gu, const torch::Tensor& xv,
                         const torch::Tensor& mask, ScoreState& state) const;
  void accumulate_sums(size_t matrix, const torch::Tensor& x, const torch::Tensor& mask, ScoreState& state) const;
  // Adds the batch's real-token counts per position (once per batch); mask [B, T].
  void accumulate_counts(const torch::Tensor& mask, ScoreState& state) const;

  // ΔL [B, nb, r] of each example b with partner (b - shift) mod B.
  torch::Tensor pair_deltas(size_t matrix, const torch::Tensor& x, const torch::Tensor& g,
                            const torch::Tensor& mask, int64_t shift) const;

  const ScoreOptions& options() const { return opts_; }

 private:
  struct Prepared {
    MatrixRef matrix;
    BlockLayout layout;
    int64_t offset = 0;
    torch::Tensor s;      // [nb, r]
    torch::Tensor u_proj;  // split rows: [nb, bo, r]; else [out, nb*r]
    torch::Tensor v_proj;  // split cols: [nb, bi, r]; else [in, nb*r]
  };
  torch::Tensor project_input(const Prepared& p, const torch::Tensor& x) const;   // [B, T, nb, r]
  torch::Tensor project_output(const Prepared& p, const torch::Tensor& g) const;  // [B, T, nb, r]
  torch::Tensor deltas(const Prepared& p, const torch::Tensor& gu, const torch::Tensor& xv,
                       const torch::Tensor& mask, int64_t shift) const;          // [B, nb, r]
  // One forward + backward over `batch`: each matrix's input x and dL/d(output).
  struct Captured {
    std::vector<torch::Tensor> x, g;  // per matrix: [B, T, in], [B, T, out]
  };
  Captured forward_backward(CausalLM& model, const Batch& batch, const torch::Tensor& targets) const;

  std::vector<Prepared> prepared_;
  std::vector<int64_t> in_features_;
  int64_t n_components_ = 0;
  ScoreOptions opts_;
};

// Scores the given batches of examples (prompt token ids, answer token ids per
// example) into `state`: e.g. the batches of make_scoring_batches() dealt to this rank.
void score_examples(CausalLM& model, const Scorer& scorer,
                    const std::vector<std::vector<int64_t>>& prompts,
                    const std::vector<std::vector<int64_t>>& answers,
                    const std::vector<std::vector<int64_t>>& batches, int64_t pad_id,
                    ScoreState& state);

}  // namespace ep
