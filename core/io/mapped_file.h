// A whole file mapped read-only into memory (POSIX mmap), unmapped when the owner
// goes away. Private to core/io: the safetensors reader maps a checkpoint once and
// hands out views into it, so tensor data is never copied.
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

  // Gives up ownership of the mapping: the caller must later call unmap_region(addr, size())
  // (size() still answers). Lets a class with its own raw mapping members take over once
  // validation has succeeded, while a failed validation still unmaps here.
  void* release();

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// munmap for a region obtained through MappedFile::release(); a null addr is a no-op.
void unmap_region(void* addr, size_t size) noexcept;

}  // namespace ep::io
