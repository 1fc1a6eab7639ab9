// safetensors checkpoints: a validating, memory-mapped reader, sharded checkpoints
// through model.safetensors.index.json, and a writer.
//
// Format (ref: https://github.com/huggingface/safetensors, "Format"):
//   [u64 little-endian N][N bytes of JSON header][data section]
//   header: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//            "__metadata__": {"key": "value", ...}}   offsets relative to the data section.
//
// Everything is validated before any tensor is handed out, so a truncated or
// hostile file gives an ep::Error naming the file and tensor, never a crash.
// Tensors are views into the mapping: loading a model copies each tensor once
// (into its torch parameter), never holding two full copies of a checkpoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/io/mapped_file.h"

namespace ep::st {

enum class DType { BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2 };

size_t dtype_size(DType dt);                      // bytes per element
std::string_view dtype_name(DType dt);            // "F32", "BF16", ...
DType dtype_from_name(std::string_view name);     // throws ep::Error on unknown names

// A tensor inside a mapped file. `data` stays valid while the owning file lives.
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  size_t nbytes = 0;
  int64_t numel() const;
};

// One .safetensors file, memory-mapped read-only and fully validated on open.
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  bool contains(std::string_view name) const;
  const TensorView& get(std::string_view name) const;   // throws naming file and tensor
  std::vector<std::string> names() const;               // sorted
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile(std::filesystem::path path, io::MappedFile map)
      : path_(std::move(path)), map_(std::move(map)) {}
  std::filesystem::path path_;
  io::MappedFile map_;  // TensorView::data points into it; unmapped when the file goes
  std::map<std::string, TensorView, std::less<>> tensors_;
  std::map<std::string, std::string> metadata_;
  friend struct SafetensorsParser;
};

// A checkpoint folder: either `model.safetensors`, or `model.safetensors.index.json`
// whose "weight_map" names the shard of each tensor. A single file path works too.
class Checkpoint {
 public:
  static Checkpoint open(const std::filesystem::path& folder_or_file);

  bool contains(std::string_view name) const;
  const TensorView& get(std::string_view name) const;   // throws naming the folder and tensor
  std::vector<std::string> names() const;               // sorted, across all shards
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
  int64_t total_bytes() const;                          // sum of the files' tensor bytes

 private:
  std::filesystem::path where_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*, std::less<>> index_;
};

// A tensor to write: `data` points to nbytes = numel * dtype_size bytes, little-endian.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
  size_t nbytes;
};

// Writes a file that HF's safetensors library reads: tensors laid out in name
// order, header padded with spaces to a multiple of 8 bytes. Writes to a
// temporary file and renames, so a crash never leaves a half-written file.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace ep::st
