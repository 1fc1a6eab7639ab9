#include "core/prune/select.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/prune/shape_text.h"
#include "core/util/error.h"

namespace ep {

int64_t count_to_freeze(int64_t n, double p) {
  EP_CHECK(p >= 0.0 && p <= 1.0, "pruning fraction p must be in [0, 1], got {}", p);
  // ref: the paper's code, int(len(scores) * p): truncation of the double product.
  return static_cast<int64_t>(std::floor(static_cast<double>(n) * p));
}

std::vector<int64_t> rank_components(const torch::Tensor& scores) {
  EP_CHECK(scores.dim() == 1, "scores must be [N], got {}", shape_text(scores));
  auto s = scores.to(at::kCPU, at::kDouble).contiguous();
  EP_CHECK(!s.isnan().any().item<bool>(), "scores contain NaN");
  const double* v = s.data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(s.numel()));
  std::iota(order.begin(), order.end(), int64_t{0});
  // Indices are unique, so (score, index) is a strict total order.
  std::sort(order.begin(), order.end(), [v](int64_t a, int64_t b) {
    return v[a] < v[b] || (v[a] == v[b] && a < b);
  });
  return order;
}

std::vector<int64_t> select_lowest(const std::vector<int64_t>& ranking, double p) {
  const int64_t k = count_to_freeze(static_cast<int64_t>(ranking.size()), p);
  return {ranking.begin(), ranking.begin() + k};
}

std::vector<int64_t> select_lowest(const torch::Tensor& scores, double p) {
  return select_lowest(rank_components(scores), p);
}

torch::Tensor frozen_mask(int64_t n, const std::vector<int64_t>& frozen) {
  auto mask = at::zeros({n}, at::kBool);
  auto a = mask.accessor<bool, 1>();
  for (int64_t i : frozen) {
    EP_CHECK(i >= 0 && i < n, "component {} out of range ({} components)", i, n);
    a[i] = true;
  }
  return mask;
}

}  // namespace ep
