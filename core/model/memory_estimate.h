// How much memory scoring a model takes, estimated from its config alone, for
// choosing micro-batches (score.h ScoreOptions::micro_batch_tokens) and for telling a
// user before a run that a cell cannot fit. Torch-free. Estimates, not measurements:
// bench/README.md compares them with measured peaks.
#pragma once

#include <cstdint>
#include <vector>

#include "core/io/hf_config.h"
#include "core/model/matrix_kind.h"

namespace ep {

// Parameters of the model (embeddings, every layer, the LM head when untied).
int64_t parameter_count(const ModelConfig& c);

// Bytes of autograd state one token of a forward + backward keeps, in a batch padded
// to T positions, at `elem_bytes` per activation. ref: Korthikanti et al. 2022,
// "Reducing Activation Recomputation in Large Transformer Models", eq. 1: per layer
// and token 34h + 5aT bytes in 16-bit, of which 19h is a 4h-wide MLP; generalized to
// an MLP of width i as 18h + 4i (6i when gated: Llama), scaled by elem_bytes / 2.
int64_t activation_bytes_per_token(const ModelConfig& c, int64_t T, int64_t elem_bytes);

// Bytes per token that micro-batched scoring keeps for the whole batch: each chosen
// matrix's projected input and gradient, float32 ([B, T, nb, r] twice; r = min(in, out)).
int64_t projection_bytes_per_token(const ModelConfig& c, const std::vector<MatrixKind>& kinds);

// A cell's memory on its device, in bytes: the weights, the chosen matrices'
// decompositions (U, S, V in float32, and the float64 SVD of the largest matrix kind
// while it runs), scoring a whole batch of B rows padded to T (the autograd state)
// and evaluating a batch (no autograd: one layer's activations and the logits).
struct CellMemory {
  int64_t weights = 0, decompositions = 0, scoring = 0, evaluation = 0;
  int64_t one_row = 0;  // scoring one row at a time, with the batch's projections kept
  int64_t peak() const { return weights + decompositions + (scoring > evaluation ? scoring : evaluation); }
  int64_t least() const { return weights + decompositions + (one_row > evaluation ? one_row : evaluation); }
};
CellMemory estimate_cell_memory(const ModelConfig& c, const std::vector<MatrixKind>& kinds, int64_t batch,
                                int64_t eval_batch, int64_t T, int64_t elem_bytes);

// The token budget per forward + backward for scoring batches of B rows padded to
// at most T positions with `free_bytes` available: 0 when a whole batch fits,
// else what fits in the free memory left after the batch's projections, with a
// quarter kept in reserve (allocator fragmentation, the logits, temporaries).
// An ep::Error with the numbers when not even one row fits.
int64_t micro_batch_tokens_for(const ModelConfig& c, const std::vector<MatrixKind>& kinds, int64_t B, int64_t T,
                               int64_t elem_bytes, int64_t free_bytes);

}  // namespace ep
