// A whole file mapped read-only into memory (POSIX mmap), unmapped when the owner
// goes away. Used by core/io's readers: SafetensorsFile and GgufFile hold one as a member and
// hands out views into it, so tensor data is never copied. Moving a MappedFile moves
// ownership only; the mapping's address, and so every view into it, stays put.
#pragma once

#include <cstddef>
#include <filesystem>

namespace ep::io {

class MappedFile {
 public:
  // Maps `path` read-only. Throws ep::Error naming the path if it is missing, not a
  // regular file, or cannot be mapped. An empty file gives data() == nullptr, size() == 0
  // (mmap refuses zero-length mappings).
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  const std::byte* data() const { return static_cast<const std::byte*>(addr_); }
  size_t size() const { return size_; }

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ep::io
