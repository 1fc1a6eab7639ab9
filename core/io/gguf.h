// GGUF files (llama.cpp's model format): a validating, memory-mapped reader and
// dequantization of tensor data to float32. No LibTorch.
//
// Format (ref: ggml-org/ggml docs/gguf.md; ggml/src/gguf.cpp gguf_init_from_file_impl):
//   u32 magic "GGUF" | u32 version (2 or 3) | u64 tensor_count | u64 kv_count
//   kv_count x  { string key | u32 value_type | value }
//   tensor_count x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (u32, default 32) | data section
//   string = u64 length + bytes (no terminator); array = u32 element type + u64 count + elements.
// Everything is little-endian (v3 also allows big-endian files; those are rejected).
// Version 2 and 3 share this layout (v1 had 32-bit counts and is not supported, as in llama.cpp).
//
// Everything is validated on open, before any allocation a hostile count could
// inflate, so a truncated or corrupt file gives an ep::Error naming the file, the key
// or tensor, the byte offset and what was expected, never a crash. Tensors are views
// into the mapping, valid while the GgufFile lives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/io/mapped_file.h"

namespace ep::gguf {

// ---- metadata -------------------------------------------------------------------

// ref: gguf.h enum gguf_type (the numbers are the on-disk values).
enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view value_type_name(ValueType t);  // "uint32", "string", "array", ...
// Bytes of one numeric or bool value of on-disk type `raw`; 0 for string and array; -1 for
// a number that is no value type.
int value_type_size(uint32_t raw);

// One metadata value: a scalar, or an array of scalars, strings or arrays (nested
// arrays are allowed by the format and by gguf-py; llama.cpp itself rejects them).
// Numbers are kept as their little-endian bytes, so a big numeric array costs what it
// costs in the file.
class Value {
 public:
  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::ARRAY; }
  ValueType element_type() const { return is_array() ? element_type_ : type_; }
  size_t size() const;             // elements of an array; 1 for a scalar
  std::string describe() const;    // "uint32", "string", "array of 3 int32" (for messages)

  // Element i (0 for a scalar). Each throws ep::Error if the element type does not
  // fit (e.g. int_at on a string, or a uint64 above INT64_MAX) or i >= size().
  int64_t int_at(size_t i = 0) const;     // any integer type
  uint64_t uint_at(size_t i = 0) const;   // any integer type, value >= 0
  double float_at(size_t i = 0) const;    // float32 or float64
  bool bool_at(size_t i = 0) const;
  const std::string& string_at(size_t i = 0) const;
  const Value& array_at(size_t i) const;  // arrays of arrays

 private:
  friend struct GgufParser;
  ValueType type_ = ValueType::UINT8;
  ValueType element_type_ = ValueType::UINT8;  // arrays only
  std::vector<std::byte> numbers_;             // numeric and bool elements, as in the file
  std::vector<std::string> strings_;           // string elements
  std::vector<Value> arrays_;                  // array elements
};

bool is_integer_type(ValueType t);

// ---- tensors --------------------------------------------------------------------

// ref: ggml.h enum ggml_type and gguf-py 0.19 GGMLQuantizationType. Gaps (4, 5, 31-33,
// 36-38) are types ggml removed; files holding them are rejected as unknown.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
};

bool is_known_type(uint32_t raw);          // a GgmlType this reader knows the layout of
std::string_view type_name(GgmlType t);    // "Q4_1" (throws ep::Error on a value not in the enum)
int64_t block_size(GgmlType t);            // elements per block (1 for F32, 32 for Q8_0, 256 for K-quants)
size_t type_size(GgmlType t);              // bytes per block
bool can_dequantize(GgmlType t);           // dequantize() supports it

// A tensor inside a mapped file. `data` stays valid while the owning file lives.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;   // torch order (GGUF ne reversed): the last dim is the row
  std::vector<int64_t> ne;      // GGUF order: ne[0] is the row length, contiguous
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;          // from the start of the data section
  uint64_t nbytes = 0;
  const std::byte* data = nullptr;
  int64_t numel() const;
  int64_t row_length() const { return ne.empty() ? 1 : ne[0]; }
  int64_t rows() const;         // numel() / row_length() (0 for an empty tensor)
};

// One .gguf file, memory-mapped read-only and fully validated on open.
class GgufFile {
 public:
  static std::unique_ptr<GgufFile> open(const std::filesystem::path& path);
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section

  // Metadata. The typed getters throw ep::Error naming the file, the key and the
  // value's actual type when it is missing or of another type.
  bool has(std::string_view key) const;
  const Value& value(std::string_view key) const;
  const std::vector<std::string>& keys() const { return key_order_; }  // file order
  const std::string& get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;     // any integer type
  uint64_t get_uint(std::string_view key) const;   // any integer type, value >= 0
  double get_float(std::string_view key) const;    // float32 or float64
  bool get_bool(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<double> get_float_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // file order
  bool contains(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws naming file and tensor

 private:
  GgufFile(std::filesystem::path path, io::MappedFile map) : path_(std::move(path)), map_(std::move(map)) {}
  const Value& typed(std::string_view key, bool ok_type(const Value&), const char* expected) const;
  std::filesystem::path path_;
  io::MappedFile map_;  // TensorInfo data points into it; unmapped when the file goes
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, Value, std::less<>> metadata_;
  std::vector<std::string> key_order_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  friend struct GgufParser;
};

// ---- dequantization -------------------------------------------------------------

// The whole tensor as float32, in memory order (row-major in `shape`). Supports F32,
// F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K; other types
// throw ep::Error naming the tensor and type. The math is ggml's dequantize_row_* in
// float32 (ref: ggml/src/ggml-quants.c), so results equal llama.cpp's bit for bit
// wherever the compiler does not fuse multiply-adds.
std::vector<float> dequantize(const TensorInfo& t);

// Rows [row_begin, row_end) of the tensor (a row is ne[0] = shape.back() elements).
std::vector<float> dequantize_rows(const TensorInfo& t, int64_t row_begin, int64_t row_end);

// Low level: `n` elements (a multiple of block_size(type)) from `src` into `dst`.
void dequantize_row(GgmlType type, const std::byte* src, float* dst, int64_t n);

// IEEE half and bfloat16 bits to float32 (exact; NaN payloads kept).
float half_to_float(uint16_t bits);
float bf16_to_float(uint16_t bits);

}  // namespace ep::gguf
