// safetensors element types: names and sizes.
// ref: https://github.com/huggingface/safetensors safetensors/src/tensor.rs, enum Dtype
#include <array>

#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace ep::st {

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

// In enum order, so dtype_info(dt) is a direct index.
constexpr std::array<DTypeInfo, 15> kDTypes{{
    {DType::BOOL, "BOOL", 1},
    {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},
    {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},
    {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},
    {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},
    {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1},
}};

constexpr bool table_is_in_enum_order() {
  for (size_t i = 0; i < kDTypes.size(); ++i)
    if (static_cast<size_t>(kDTypes[i].dtype) != i) return false;
  return true;
}
static_assert(table_is_in_enum_order(), "kDTypes must list the DType values in declaration order");

const DTypeInfo& dtype_info(DType dt) {
  auto i = static_cast<size_t>(dt);
  EP_CHECK(i < kDTypes.size(), "invalid safetensors dtype value {}", i);
  return kDTypes[i];
}

std::string known_dtype_names() {
  std::string out;
  for (const auto& d : kDTypes) {
    if (!out.empty()) out += ", ";
    out += d.name;
  }
  return out;
}

}  // namespace

size_t dtype_size(DType dt) { return dtype_info(dt).size; }

std::string_view dtype_name(DType dt) { return dtype_info(dt).name; }

DType dtype_from_name(std::string_view name) {
  for (const auto& d : kDTypes)
    if (d.name == name) return d.dtype;
  EP_FAIL("unknown safetensors dtype '{}' (expected one of {})", name, known_dtype_names());
}

}  // namespace ep::st
