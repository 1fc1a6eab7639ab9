#include "core/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/util/error.h"

namespace ep::io {

namespace {

// Closes the descriptor on every path out of the constructor; the mapping stays
// valid after close (ref: POSIX mmap, "closing the file descriptor does not unmap").
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

void unmap_region(void* addr, size_t size) noexcept {
  if (addr != nullptr && size > 0) ::munmap(addr, size);
}

}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) {
  FdGuard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  EP_CHECK(fd.fd >= 0, "{}: cannot open for reading: {}", path.string(), std::strerror(errno));

  struct stat st {};
  EP_CHECK(::fstat(fd.fd, &st) == 0, "{}: cannot stat: {}", path.string(), std::strerror(errno));
  EP_CHECK(S_ISREG(st.st_mode), "{}: expected a regular file (is it a folder?)", path.string());
  if (st.st_size == 0) return;

  size_ = static_cast<size_t>(st.st_size);
  void* addr = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  EP_CHECK(addr != MAP_FAILED, "{}: cannot memory-map {} bytes: {}", path.string(), size_,
           std::strerror(errno));
  addr_ = addr;
}

MappedFile::~MappedFile() { unmap_region(addr_, size_); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    unmap_region(addr_, size_);
    addr_ = std::exchange(other.addr_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}


}  // namespace ep::io
