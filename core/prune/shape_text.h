// Tensor shapes and dtypes as text for error messages ("[2, 7, 64] Float").
#pragma once

#include <string>

#include <fmt/format.h>

#include <torch/types.h>

namespace ep {

inline std::string shape_text(const torch::Tensor& t) {
  if (!t.defined()) return "(undefined)";
  return fmt::format("[{}]", fmt::join(t.sizes(), ", "));
}

inline std::string dtype_text(const torch::Tensor& t) {
  return t.defined() ? std::string(c10::toString(t.scalar_type())) : "(undefined)";
}

}  // namespace ep
