// GGUF metadata value types and ggml tensor types: names, block layouts, and the
// typed element reads of a metadata Value.
// ref: ggml-org/llama.cpp ggml/src/ggml.c type_traits (blck_size, type_size) and
// gguf-py 0.19 gguf/constants.py GGML_QUANT_SIZES, which agree.
#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "core/io/gguf.h"
#include "core/util/error.h"

namespace ep::gguf {

namespace {

constexpr int64_t kQK_K = 256;  // super-block of the K-quants

struct TypeInfo {
  GgmlType type;
  std::string_view name;
  int64_t block;     // elements per block
  size_t bytes;      // bytes per block
  bool dequantize;   // dequantize() supports it
};

constexpr std::array<TypeInfo, 34> kTypes{{
    {GgmlType::F32, "F32", 1, 4, true},
    {GgmlType::F16, "F16", 1, 2, true},
    {GgmlType::Q4_0, "Q4_0", 32, 2 + 16, true},
    {GgmlType::Q4_1, "Q4_1", 32, 2 + 2 + 16, true},
    {GgmlType::Q5_0, "Q5_0", 32, 2 + 4 + 16, true},
    {GgmlType::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, true},
    {GgmlType::Q8_0, "Q8_0", 32, 2 + 32, true},
    {GgmlType::Q8_1, "Q8_1", 32, 4 + 4 + 32, false},
    {GgmlType::Q2_K, "Q2_K", kQK_K, 2 + 2 + kQK_K / 16 + kQK_K / 4, true},
    {GgmlType::Q3_K, "Q3_K", kQK_K, 2 + kQK_K / 4 + kQK_K / 8 + 12, true},
    {GgmlType::Q4_K, "Q4_K", kQK_K, 2 + 2 + kQK_K / 2 + 12, true},
    {GgmlType::Q5_K, "Q5_K", kQK_K, 2 + 2 + kQK_K / 2 + kQK_K / 8 + 12, true},
    {GgmlType::Q6_K, "Q6_K", kQK_K, 2 + kQK_K / 2 + kQK_K / 4 + kQK_K / 16, true},
    {GgmlType::Q8_K, "Q8_K", kQK_K, 4 + kQK_K + kQK_K / 8, true},
    {GgmlType::IQ2_XXS, "IQ2_XXS", kQK_K, 2 + kQK_K / 4, false},
    {GgmlType::IQ2_XS, "IQ2_XS", kQK_K, 2 + kQK_K / 4 + kQK_K / 32, false},
    {GgmlType::IQ3_XXS, "IQ3_XXS", kQK_K, 2 + kQK_K / 4 + kQK_K / 8, false},
    {GgmlType::IQ1_S, "IQ1_S", kQK_K, 2 + kQK_K / 8 + kQK_K / 16, false},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 2 + 16, false},
    {GgmlType::IQ3_S, "IQ3_S", kQK_K, 2 + kQK_K / 4 + kQK_K / 8 + kQK_K / 32 + 4, false},
    {GgmlType::IQ2_S, "IQ2_S", kQK_K, 2 + kQK_K / 4 + kQK_K / 16, false},
    {GgmlType::IQ4_XS, "IQ4_XS", kQK_K, 2 + 2 + kQK_K / 2 + kQK_K / 64, false},
    {GgmlType::I8, "I8", 1, 1, false},
    {GgmlType::I16, "I16", 1, 2, false},
    {GgmlType::I32, "I32", 1, 4, false},
    {GgmlType::I64, "I64", 1, 8, false},
    {GgmlType::F64, "F64", 1, 8, false},
    {GgmlType::IQ1_M, "IQ1_M", kQK_K, kQK_K / 8 + kQK_K / 16 + kQK_K / 32, false},
    {GgmlType::BF16, "BF16", 1, 2, true},
    {GgmlType::TQ1_0, "TQ1_0", kQK_K, 2 + 4 * 13, false},
    {GgmlType::TQ2_0, "TQ2_0", kQK_K, 2 + 64, false},
    {GgmlType::MXFP4, "MXFP4", 32, 1 + 16, false},
    {GgmlType::NVFP4, "NVFP4", 64, 4 + 32, false},
    {GgmlType::Q1_0, "Q1_0", 128, 2 + 16, false},
}};

const TypeInfo* find_type(uint32_t raw) {
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == raw) return &t;
  return nullptr;
}

const TypeInfo& type_info(GgmlType t) {
  const TypeInfo* info = find_type(static_cast<uint32_t>(t));
  EP_CHECK(info != nullptr, "invalid ggml type value {}", static_cast<uint32_t>(t));
  return *info;
}

constexpr std::array<std::string_view, 13> kValueTypeNames{
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool",  "string", "array", "uint64", "int64", "float64"};

// The bytes per element of a value's numbers_ (strings and arrays keep none there).
size_t element_bytes(ValueType t) { return static_cast<size_t>(std::max(1, value_type_size(static_cast<uint32_t>(t)))); }

template <typename T>
T load(const std::vector<std::byte>& bytes, size_t i) {
  T v;
  std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));  // host is little-endian, as the file
  return v;
}

}  // namespace

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the GGUF reader assumes a little-endian host");

bool is_known_type(uint32_t raw) { return find_type(raw) != nullptr; }
std::string_view type_name(GgmlType t) { return type_info(t).name; }
int64_t block_size(GgmlType t) { return type_info(t).block; }
size_t type_size(GgmlType t) { return type_info(t).bytes; }
bool can_dequantize(GgmlType t) { return type_info(t).dequantize; }

std::string_view value_type_name(ValueType t) {
  auto i = static_cast<size_t>(t);
  return i < kValueTypeNames.size() ? kValueTypeNames[i] : std::string_view("invalid");
}

int value_type_size(uint32_t raw) {
  switch (static_cast<ValueType>(raw)) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64: return 8;
    case ValueType::STRING:
    case ValueType::ARRAY: return 0;
  }
  return -1;
}

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::UINT16:
    case ValueType::INT16:
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::UINT64:
    case ValueType::INT64: return true;
    default: return false;
  }
}

// ---- Value ----------------------------------------------------------------------

size_t Value::size() const {
  if (!is_array()) return 1;
  if (element_type_ == ValueType::STRING) return strings_.size();
  if (element_type_ == ValueType::ARRAY) return arrays_.size();
  return numbers_.size() / element_bytes(element_type_);
}

std::string Value::describe() const {
  if (!is_array()) return std::string(value_type_name(type_));
  return fmt::format("array of {} {}", size(), value_type_name(element_type_));
}

namespace {
[[noreturn]] void wrong_element(const Value& v, size_t i, const char* expected) {
  EP_FAIL("metadata value ({}) element {}: expected {}", v.describe(), i, expected);
}
}  // namespace

int64_t Value::int_at(size_t i) const {
  if (!is_integer_type(element_type()) || i >= size()) wrong_element(*this, i, "an integer");
  switch (element_type()) {
    case ValueType::UINT8: return load<uint8_t>(numbers_, i);
    case ValueType::INT8: return load<int8_t>(numbers_, i);
    case ValueType::UINT16: return load<uint16_t>(numbers_, i);
    case ValueType::INT16: return load<int16_t>(numbers_, i);
    case ValueType::UINT32: return load<uint32_t>(numbers_, i);
    case ValueType::INT32: return load<int32_t>(numbers_, i);
    case ValueType::INT64: return load<int64_t>(numbers_, i);
    default: break;
  }
  auto u = load<uint64_t>(numbers_, i);
  EP_CHECK(u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
           "metadata value ({}) element {} is {}, too large for int64", describe(), i, u);
  return static_cast<int64_t>(u);
}

uint64_t Value::uint_at(size_t i) const {
  if (element_type() == ValueType::UINT64 && i < size()) return load<uint64_t>(numbers_, i);
  int64_t v = int_at(i);
  EP_CHECK(v >= 0, "metadata value ({}) element {} is {}, expected a value >= 0", describe(), i, v);
  return static_cast<uint64_t>(v);
}

double Value::float_at(size_t i) const {
  if (i >= size()) wrong_element(*this, i, "float32 or float64");
  if (element_type() == ValueType::FLOAT32) return load<float>(numbers_, i);
  if (element_type() == ValueType::FLOAT64) return load<double>(numbers_, i);
  wrong_element(*this, i, "float32 or float64");
}

bool Value::bool_at(size_t i) const {
  if (element_type() != ValueType::BOOL || i >= size()) wrong_element(*this, i, "a bool");
  return load<uint8_t>(numbers_, i) != 0;  // ref: gguf.cpp reads an int8, true when != 0
}

const std::string& Value::string_at(size_t i) const {
  if (element_type() != ValueType::STRING || i >= size()) wrong_element(*this, i, "a string");
  return strings_[i];
}

const Value& Value::array_at(size_t i) const {
  if (element_type() != ValueType::ARRAY || !is_array() || i >= size()) wrong_element(*this, i, "an array");
  return arrays_[i];
}

// ---- TensorInfo -----------------------------------------------------------------

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // validated on open: the product fits
  return n;
}

int64_t TensorInfo::rows() const {
  int64_t len = row_length();
  return len == 0 ? 0 : numel() / len;
}

}  // namespace ep::gguf
