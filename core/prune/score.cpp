#include "core/prune/score.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <limits>

#include "core/prune/batching.h"
#include "core/prune/shape_text.h"
#include "core/util/error.h"

namespace ep {

// ---- ScoreState -----------------------------------------------------------------

namespace {
std::vector<int64_t> input_features(const std::vector<Decomposition>& decs) {
  std::vector<int64_t> in;
  for (const auto& d : decs) in.push_back(d.matrix.in_features);
  return in;
}
}  // namespace

ScoreState::ScoreState(const std::vector<Decomposition>& decs, int64_t positions,
                       torch::Device device)
    : ScoreState(total_components(decs), input_features(decs), positions, device) {}

ScoreState::ScoreState(int64_t n_components, const std::vector<int64_t>& in_features,
                       int64_t positions, torch::Device device)
    : in_features_(in_features), positions_(positions) {
  EP_CHECK(positions > 0, "scoring needs the number of positions P > 0 (the longest prompt), got {}",
           positions);
  const auto f64 = at::TensorOptions().dtype(at::kDouble).device(device);
  max_ = at::full({n_components}, -std::numeric_limits<double>::infinity(), f64);
  int64_t total = 0;
  for (int64_t in : in_features_) {
    sum_offsets_.push_back(total);
    total += positions * in;
  }
  sum_offsets_.push_back(total);  // counts
  sums_ = at::zeros({total + positions}, f64);
}

torch::Tensor ScoreState::x_sum(size_t matrix) const {
  const int64_t in = in_features_.at(matrix);
  return sums_.narrow(0, sum_offsets_[matrix], positions_ * in).view({positions_, in});
}

torch::Tensor ScoreState::counts() const {
  return sums_.narrow(0, sum_offsets_.back(), positions_);
}

torch::Tensor ScoreState::x_mean(size_t matrix) const {
  return x_sum(matrix) / counts().clamp_min(1.0).unsqueeze(1);  // [P, in]
}

torch::Tensor ScoreState::x_mean_all(size_t matrix) const {
  return x_sum(matrix).sum(0) / counts().sum().clamp_min(1.0);  // [in]
}

void ScoreState::merge(const ScoreState& other) {
  EP_CHECK(other.in_features_ == in_features_ && other.positions_ == positions_ &&
               other.max_.numel() == max_.numel(),
           "cannot merge scoring states of different decompositions or position counts");
  max_ = at::maximum(max_, other.max_.to(max_.device()));
  sums_ += other.sums_.to(sums_.device());
}

// ---- Scorer ---------------------------------------------------------------------

Scorer::Scorer(const std::vector<Decomposition>& decs, const ScoreOptions& opts)
    : in_features_(input_features(decs)), n_components_(total_components(decs)), opts_(opts) {
  EP_CHECK(opts.pairs >= 1, "pairs must be >= 1, got {}", opts.pairs);
  for (const auto& d : decs) {
    Prepared p;
    p.matrix = d.matrix;
    p.layout = d.layout;
    p.offset = d.offset;
    p.s = d.s;
    const int64_t nb = d.n_blocks(), r = d.rank();
    // Unsplit sides become one GEMM over all blocks: [features, nb*r].
    p.u_proj = d.layout.split_rows ? d.u : d.u.permute({1, 0, 2}).reshape({d.matrix.out_features, nb * r});
    p.v_proj = d.layout.split_cols ? d.v : d.v.permute({1, 0, 2}).reshape({d.matrix.in_features, nb * r});
    prepared_.push_back(std::move(p));
  }
}

ScoreState Scorer::make_state(torch::Device device) const {
  return ScoreState(n_components_, in_features_, opts_.positions, device);
}

namespace {
// t [B, T, F] times per-block projections -> [B, T, nb, r].
torch::Tensor project(const torch::Tensor& t, const torch::Tensor& proj, bool split, int64_t nb,
                      int64_t r) {
  const int64_t B = t.size(0), T = t.size(1);
  auto flat = t.to(proj.scalar_type()).reshape({B * T, t.size(2)});  // [BT, F]
  if (!split) return at::matmul(flat, proj).view({B, T, nb, r});     // [BT, F] @ [F, nb*r]
  const int64_t f = proj.size(1);
  auto per_block = flat.view({B * T, nb, f}).transpose(0, 1);        // [nb, BT, f]
  return at::bmm(per_block, proj).transpose(0, 1).reshape({B, T, nb, r});  // [nb, BT, r] -> [B, T, nb, r]
}

torch::Tensor real_mask(const torch::Tensor& mask, int64_t B, int64_t T, torch::Device device) {
  if (!mask.defined()) return at::ones({B, T}, at::TensorOptions().dtype(at::kBool).device(device));
  EP_CHECK(mask.dim() == 2 && mask.size(0) == B && mask.size(1) == T,
           "attention mask has shape {}, expected [{}, {}]", shape_text(mask), B, T);
  return mask.to(device) != 0;
}
}  // namespace

torch::Tensor Scorer::project_input(const Prepared& p, const torch::Tensor& x) const {
  return project(x, p.v_proj, p.layout.split_cols, p.layout.n_blocks, p.layout.rank());
}

torch::Tensor Scorer::project_output(const Prepared& p, const torch::Tensor& g) const {
  return project(g, p.u_proj, p.layout.split_rows, p.layout.n_blocks, p.layout.rank());
}

torch::Tensor Scorer::deltas(const Prepared& p, const torch::Tensor& gu, const torch::Tensor& xv,
                             const torch::Tensor& mask, int64_t shift) const {
  // Partner of b is (b - shift) mod B: roll moves row b - shift to row b.
  auto dxv = xv.roll(shift, 0) - xv;                                  // [B, T, nb, r]
  const bool official = opts_.recipe == Recipe::Official;
  // Official: pads count like any position (ref: the paper's code maxes over every
  // padded position), and the loss is the batch mean, dL/dk = (1/B)·ours.
  auto valid = (official ? at::ones_like(mask) : (mask & mask.roll(shift, 0))).unsqueeze(-1).unsqueeze(-1);  // [B, T, 1, 1]
  auto per_position = official ? gu * (dxv / static_cast<double>(xv.size(0))) : gu * dxv;  // [B, T, nb, r]
  torch::Tensor reduced;
  if (opts_.reduce == PositionReduce::Sum) {
    reduced = (per_position * valid.to(per_position.scalar_type())).sum(1);  // [B, nb, r]
  } else {
    // With left padding the last position is real for both, so the max is finite;
    // a pair without a common real position stays -inf (never the running max).
    const double neg_inf = -std::numeric_limits<double>::infinity();
    reduced = per_position.masked_fill(~valid, neg_inf).amax(1);
    return at::where(reduced == neg_inf, reduced, reduced * p.s);  // not 0 · -inf = NaN
  }
  return reduced * p.s;  // s >= 0 commutes with the max
}

torch::Tensor Scorer::pair_deltas(size_t matrix, const torch::Tensor& x, const torch::Tensor& g,
                                  const torch::Tensor& mask, int64_t shift) const {
  const auto& p = prepared_.at(matrix);
  auto m = real_mask(mask, x.size(0), x.size(1), x.device());
  return deltas(p, project_output(p, g), project_input(p, x), m, shift);
}

void Scorer::accumulate(size_t matrix, const torch::Tensor& x, const torch::Tensor& g,
                        const torch::Tensor& mask, ScoreState& state) const {
  const auto& p = prepared_.at(matrix);
  const int64_t B = x.size(0), T = x.size(1);
  EP_CHECK(x.dim() == 3 && x.size(2) == p.matrix.in_features, "matrix {}: input has shape {}, expected [B, T, {}]",
           p.matrix.name(), shape_text(x), p.matrix.in_features);
  EP_CHECK(g.dim() == 3 && g.size(0) == B && g.size(1) == T && g.size(2) == p.matrix.out_features,
           "matrix {}: gradient has shape {}, expected [{}, {}, {}]", p.matrix.name(), shape_text(g), B,
           T, p.matrix.out_features);
  accumulate_deltas(matrix, project_output(p, g), project_input(p, x), mask, state);
  accumulate_sums(matrix, x, mask, state);
}

void Scorer::accumulate_deltas(size_t matrix, const torch::Tensor& gu, const torch::Tensor& xv,
                               const torch::Tensor& mask, ScoreState& state) const {
  const auto& p = prepared_.at(matrix);
  const int64_t B = xv.size(0), T = xv.size(1);
  EP_CHECK(T <= state.positions(), "a batch of {} positions does not fit the scoring state's {} positions", T,
           state.positions());
  auto m = real_mask(mask, B, T, xv.device());  // [B, T] bool
  // ΔL: the running max over examples and partners.
  const int64_t partners = std::min<int64_t>(opts_.pairs, B - 1);
  if (partners <= 0) return;
  torch::Tensor best;  // [nb, r]
  for (int64_t k = 1; k <= partners; ++k) {
    auto d = deltas(p, gu, xv, m, k).amax(0);
    best = best.defined() ? at::maximum(best, d) : d;
  }
  auto slot = state.max_delta().narrow(0, p.offset, best.numel());
  slot.copy_(at::maximum(slot, best.reshape({-1}).to(slot.options())));
}

void Scorer::accumulate_sums(size_t matrix, const torch::Tensor& x, const torch::Tensor& mask,
                             ScoreState& state) const {
  const int64_t B = x.size(0), T = x.size(1), P = state.positions();
  EP_CHECK(T <= P, "a batch of {} positions does not fit the scoring state's {} positions", T, P);
  auto m = real_mask(mask, B, T, x.device());
  // Per-position activation sums, aligned to the end, in float64; pads excluded.
  auto xs = (x.to(at::kDouble) * m.unsqueeze(-1).to(at::kDouble)).sum(0);  // [T, in]
  state.x_sum(matrix).narrow(0, P - T, T).add_(xs.to(state.sums().device()));
}

void Scorer::accumulate_counts(const torch::Tensor& mask, ScoreState& state) const {
  const int64_t T = mask.size(1), P = state.positions();
  EP_CHECK(T <= P, "a batch of {} positions does not fit the scoring state's {} positions", T, P);
  auto c = (mask != 0).sum(0).to(at::kDouble);  // [T]
  state.counts().narrow(0, P - T, T).add_(c.to(state.sums().device()));
}

Scorer::Captured Scorer::forward_backward(CausalLM& model, const Batch& batch, const torch::Tensor& targets) const {
  // Left padding (a real last token in every row) is checked by forward(Last).
  at::AutoGradMode grad_on(true);
  Taps taps;
  for (const auto& p : prepared_) taps.at.push_back(p.matrix);
  taps.want_grad = true;
  taps.record_norm_input = opts_.recipe == Recipe::Official;  // ref: the paper's code scores with resid_pre
  const torch::Tensor t = targets.dim() == 1 ? targets.unsqueeze(1) : targets;  // [B, K]
  auto logits = model.forward(batch, LogitsScope::last_positions(t.size(-1)), &taps);  // [B, K, V]
  auto loss = answer_token_nll(logits, t.to(logits.device())).sum();
  auto grads = torch::autograd::grad({loss}, taps.probes, /*grad_outputs=*/{},
                                     /*retain_graph=*/false, /*create_graph=*/false,
                                     /*allow_unused=*/true);
  EP_CHECK(taps.inputs.size() == prepared_.size() && grads.size() == prepared_.size(),
           "model recorded {} inputs and {} gradients for {} matrices", taps.inputs.size(),
           grads.size(), prepared_.size());
  Captured c;
  for (size_t i = 0; i < prepared_.size(); ++i) {
    c.x.push_back(taps.inputs[i].detach());
    // A matrix that does not reach the loss has zero gradient.
    c.g.push_back(grads[i].defined() ? grads[i] : at::zeros_like(taps.probes[i]));
  }
  return c;
}

int64_t micro_batch_rows(const ScoreOptions& opts, int64_t B, int64_t T) {
  int64_t rows = B;
  if (opts.micro_batch > 0) rows = std::min(rows, opts.micro_batch);
  if (opts.micro_batch_tokens > 0) rows = std::min(rows, opts.micro_batch_tokens / std::max<int64_t>(T, 1));
  return std::max<int64_t>(rows, 1);
}

namespace {
// Rows [start, start + n) of a batch (same T, same padding).
Batch rows_of(const Batch& b, int64_t start, int64_t n) {
  Batch r;
  r.input_ids = b.input_ids.narrow(0, start, n);
  if (b.attention_mask.defined()) r.attention_mask = b.attention_mask.narrow(0, start, n);
  if (b.position_ids.defined()) r.position_ids = b.position_ids.narrow(0, start, n);
  return r;
}
}  // namespace

void Scorer::score_batch(CausalLM& model, const Batch& batch, const torch::Tensor& targets,
                         ScoreState& state) const {
  const int64_t B = batch.input_ids.size(0), T = batch.input_ids.size(1);
  const int64_t micro = micro_batch_rows(opts_, B, T);
  // Official: x̄ is the last batch's mean at every padded position, pads included.
  const bool official = opts_.recipe == Recipe::Official;
  const torch::Tensor sum_mask = official ? at::ones({B, T}, at::kLong) : batch.attention_mask;
  {
    at::NoGradGuard no_grad;
    if (official) state.sums().zero_();  // ref: the paper's code keeps the last minibatch's activations only
    accumulate_counts(sum_mask.defined() ? sum_mask : at::ones({B, T}, at::kLong), state);
  }
  if (micro == B) {  // one graph for the batch
    const Captured c = forward_backward(model, batch, targets);
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < prepared_.size(); ++i) {
      if (!official) {
        accumulate(i, c.x[i], c.g[i], batch.attention_mask, state);
        continue;
      }
      accumulate_deltas(i, project_output(prepared_[i], c.g[i]), project_input(prepared_[i], c.x[i]),
                        batch.attention_mask, state);
      accumulate_sums(i, c.x[i], sum_mask, state);
    }
    return;
  }
  // Micro-batches: keep every row's projections, score the pairs once all rows are in.
  std::vector<std::vector<torch::Tensor>> gu(prepared_.size()), xv(prepared_.size());
  for (int64_t start = 0; start < B; start += micro) {
    const int64_t n = std::min(micro, B - start);
    const Batch part = rows_of(batch, start, n);
    const Captured c = forward_backward(model, part, targets.narrow(0, start, n));
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < prepared_.size(); ++i) {
      gu[i].push_back(project_output(prepared_[i], c.g[i]));
      xv[i].push_back(project_input(prepared_[i], c.x[i]));
      accumulate_sums(i, c.x[i], sum_mask.defined() ? sum_mask.narrow(0, start, n) : sum_mask, state);
    }
  }
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < prepared_.size(); ++i)
    accumulate_deltas(i, at::cat(gu[i]), at::cat(xv[i]), batch.attention_mask, state);
}

void score_examples(CausalLM& model, const Scorer& scorer,
                    const std::vector<std::vector<int64_t>>& prompts,
                    const std::vector<std::vector<int64_t>>& answers,
                    const std::vector<std::vector<int64_t>>& batches, int64_t pad_id,
                    ScoreState& state) {
  for (const auto& rows : batches) {
    const AnswerBatch b = teacher_forced_batch(prompts, answers, rows, pad_id, model.device());
    scorer.score_batch(model, b.batch, b.targets, state);
  }
}

}  // namespace ep
