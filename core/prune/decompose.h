// Eigenpruning step 1: decompose each chosen matrix into rank-one components.
//
// A block A [m, n] (one head's rows or columns, or the whole matrix) is written
// A = U diag(S) Vᵀ, thin: U [m, r], S [r], V [n, r], r = min(m, n), S descending.
// Component i of the block is E_i = s_i u_i v_iᵀ, so A = Σ_i E_i.
//
// Dimensions: nb blocks per matrix (heads, or 1), bo/bi a block's output/input
// features, r = min(bo, bi) components per block.
//
// Every component of every decomposed matrix has a global index:
//   offset(matrix) + block * r + i,
// matrices in the order decompose() returns them (kind in the order asked, then
// layer); inside a matrix, block (head) then component (descending s).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/prune/settings.h"

namespace ep {

// `Head`: each head's block of rows (q, k, v) or columns (o), as the paper's code
// (batched per-head SVD). `Matrix`: the whole matrix, as the paper's text.
// Matrices without heads (mlp_in, mlp_out) are one block either way.
// (enum class Granularity, core/prune/settings.h)

// How the SVD is computed (all in float64; see docs/eigenpruning.md and the
// timings in bench/README.md):
//   Lapack: at::linalg_svd(full_matrices=false) on the batch of blocks.
//   Gram:   eigh of the smaller Gram matrix (AᵀA or AAᵀ), then the other factor
//           from A v_i with s_i = ||A v_i||.
//   Auto:   Gram, checked (orthonormal eigenvectors, finite s); Lapack for blocks
//           that fail the check.
// (enum class SvdRoute, core/prune/settings.h)

struct DecomposeOptions {
  Granularity granularity = Granularity::Head;
  SvdRoute route = SvdRoute::Auto;
  // Storage of U, S, V (computed in float64 either way). float32 is what scoring
  // runs in on the GPU; float64 for finite-difference tests.
  torch::ScalarType dtype = torch::kFloat32;
  // The official recipe (official_recipe.h): decompose A_f = A·diag(w)·C, the matrix
  // with the norm in front of it folded in as TransformerLens does, not A.
  bool fold_input_norm = false;
  // Only these layers (empty: all). Global indices then number only the decomposed
  // matrices; LASER uses it to decompose just the layers it reduces.
  std::vector<int64_t> layers;
};

// How a matrix splits into blocks at a granularity.
struct BlockLayout {
  int64_t n_blocks = 1;
  int64_t rows = 0;          // bo: a block's output features
  int64_t cols = 0;          // bi: a block's input features
  bool split_rows = false;   // blocks are consecutive row ranges (q, k, v per head)
  bool split_cols = false;   // blocks are consecutive column ranges (o per head)
  int64_t rank() const { return rows < cols ? rows : cols; }
};
BlockLayout block_layout(const MatrixRef& m, Granularity g);

// One decomposed matrix.
struct Decomposition {
  MatrixRef matrix;
  BlockLayout layout;
  int64_t offset = 0;  // global index of (block 0, component 0)
  torch::Tensor u;     // [nb, bo, r]
  torch::Tensor s;     // [nb, r], descending, exactly 0 for numerically zero components
  torch::Tensor v;     // [nb, bi, r]

  int64_t n_blocks() const { return layout.n_blocks; }
  int64_t rank() const { return layout.rank(); }
  int64_t size() const { return layout.n_blocks * layout.rank(); }
};

// Thin SVD of a batch of blocks, float64 in and out.
struct BlockSvd {
  torch::Tensor u;  // [nb, m, r]
  torch::Tensor s;  // [nb, r]
  torch::Tensor v;  // [nb, n, r]
};
BlockSvd block_svd(const torch::Tensor& blocks /* [nb, m, n] float64 */, SvdRoute route);

// Singular values at or below this fraction of a block's largest are set to 0
// (their u columns are then any orthonormal completion). ref: both routes are
// accurate to ~1e-15·s_max in float64, so smaller values are rounding noise.
constexpr double kZeroSingularValue = 1e-13;

// ||A - U S Vᵀ||_F / ||A||_F per block ([nb], float64; 0 for an all-zero block).
torch::Tensor reconstruction_error(const torch::Tensor& blocks, const BlockSvd& svd);

// [out, in] <-> [nb, bo, bi] following the layout.
torch::Tensor split_blocks(const torch::Tensor& a, const BlockLayout& layout);
torch::Tensor join_blocks(const torch::Tensor& blocks, const BlockLayout& layout);

// Decomposes one matrix given its weight A [out, in] (any float dtype/device;
// the result lives on the same device).
Decomposition decompose_matrix(const MatrixRef& m, const torch::Tensor& weight,
                               const DecomposeOptions& opts);

// Decomposes every matrix of the given kinds (kind-major, then layer) and assigns
// global offsets.
std::vector<Decomposition> decompose(const CausalLM& model, const std::vector<MatrixKind>& kinds,
                                     const DecomposeOptions& opts);

int64_t total_components(const std::vector<Decomposition>& decs);

// Where a global index points.
struct ComponentId {
  size_t matrix = 0;  // index into the decompositions
  int64_t layer = 0;
  MatrixKind kind = MatrixKind::K;
  int64_t block = 0;  // head (0 for whole-matrix blocks)
  int64_t index = 0;  // component inside the block (0 = largest s)
};
ComponentId locate_component(const std::vector<Decomposition>& decs, int64_t global);

// Component `index` of `block` as vectors of the whole matrix: u [out] and v [in]
// (zero outside the block), so that E_i = s u vᵀ is [out, in]. float64.
struct ComponentVectors {
  double s = 0;
  torch::Tensor u;  // [out]
  torch::Tensor v;  // [in]
};
ComponentVectors component_vectors(const Decomposition& d, int64_t block, int64_t index);

}  // namespace ep
