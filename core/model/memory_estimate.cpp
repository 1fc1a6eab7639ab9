#include "core/model/memory_estimate.h"

#include <algorithm>

#include "core/util/error.h"

namespace ep {
namespace {

bool gated_mlp(const ModelConfig& c) { return c.arch == Arch::Llama; }

int64_t kv_width(const ModelConfig& c) { return c.kv_heads() * c.head_dim; }

// (out, in) of a layer's matrix of this kind.
std::pair<int64_t, int64_t> matrix_shape(const ModelConfig& c, MatrixKind k) {
  switch (k) {
    case MatrixKind::Q: return {c.hidden, c.hidden};
    case MatrixKind::K:
    case MatrixKind::V: return {kv_width(c), c.hidden};
    case MatrixKind::O: return {c.hidden, c.hidden};
    case MatrixKind::MlpIn: return {c.intermediate, c.hidden};
    case MatrixKind::MlpOut: return {c.hidden, c.intermediate};
  }
  return {0, 0};
}

}  // namespace

int64_t parameter_count(const ModelConfig& c) {
  const int64_t h = c.hidden, i = c.intermediate;
  const int64_t attention = 2 * h * h + 2 * h * kv_width(c);
  const int64_t mlp = (gated_mlp(c) ? 3 : 2) * h * i;
  const int64_t embeddings = c.vocab_size * h * (c.tie_word_embeddings ? 1 : 2) +
                             (c.arch == Arch::GPT2 ? c.max_positions * h : 0);  // GPT-2's learned positions
  return embeddings + c.n_layers * (attention + mlp);
}

int64_t activation_bytes_per_token(const ModelConfig& c, int64_t T, int64_t elem_bytes) {
  const int64_t h = c.hidden, i = c.intermediate, a = c.n_heads;
  const int64_t per_layer_16bit = 18 * h + (gated_mlp(c) ? 6 : 4) * i + 5 * a * T;
  return c.n_layers * per_layer_16bit * elem_bytes / 2;
}

int64_t projection_bytes_per_token(const ModelConfig& c, const std::vector<MatrixKind>& kinds) {
  int64_t per_layer = 0;
  for (MatrixKind k : kinds) {
    const auto [out, in] = matrix_shape(c, k);
    per_layer += 2 * 4 * std::min(out, in);  // xv and gu, float32; per head r * nb = min(out, in) too
  }
  return c.n_layers * per_layer;
}

CellMemory estimate_cell_memory(const ModelConfig& c, const std::vector<MatrixKind>& kinds, int64_t batch,
                                int64_t eval_batch, int64_t T, int64_t elem_bytes) {
  CellMemory m;
  m.weights = parameter_count(c) * elem_bytes;
  int64_t stored = 0, largest_kind = 0;
  for (MatrixKind k : kinds) {
    const auto [out, in] = matrix_shape(c, k);
    const int64_t r = std::min(out, in);
    const int64_t kind_bytes = c.n_layers * (out * r + r + in * r) * 4;  // U, S, V float32 (per head: at most this)
    stored += kind_bytes;
    largest_kind = std::max(largest_kind, 2 * kind_bytes);                // float64 while computed
  }
  m.decompositions = stored + largest_kind;
  m.scoring = batch * T * activation_bytes_per_token(c, T, elem_bytes);
  m.one_row = T * activation_bytes_per_token(c, T, elem_bytes) + batch * T * projection_bytes_per_token(c, kinds);
  // No autograd: a layer's activations for the batch, and float32 logits at the answer positions.
  m.evaluation = eval_batch * T * (activation_bytes_per_token(c, T, elem_bytes) / std::max<int64_t>(c.n_layers, 1)) +
                 eval_batch * 4 * 4 * c.vocab_size;
  return m;
}

int64_t micro_batch_tokens_for(const ModelConfig& c, const std::vector<MatrixKind>& kinds, int64_t B, int64_t T,
                               int64_t elem_bytes, int64_t free_bytes) {
  const int64_t per_token = activation_bytes_per_token(c, T, elem_bytes);
  const int64_t usable = free_bytes / 4 * 3;
  if (B * T * per_token <= usable) return 0;
  const int64_t kept = B * T * projection_bytes_per_token(c, kinds);
  const int64_t tokens = (usable - kept) / std::max<int64_t>(per_token, 1);
  constexpr double GiB = 1024.0 * 1024.0 * 1024.0;
  EP_CHECK(tokens >= T,
           "scoring does not fit: one row of {} tokens needs {:.2f} GiB of activations and a batch of {} keeps "
           "{:.2f} GiB of projections, but {:.2f} GiB are free (3/4 of it used); lower batch_size, use bf16, or "
           "a larger device",
           T, static_cast<double>(T * per_token) / GiB, B, static_cast<double>(kept) / GiB,
           static_cast<double>(free_bytes) / GiB);
  return tokens;
}

}  // namespace ep
