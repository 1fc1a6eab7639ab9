// publish_file: write a private temporary, fsync, rename, fsync the folder.
#include "runner/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/util/error.h"
#include "core/util/host.h"

namespace ep::runner {

namespace fs = std::filesystem;

namespace {

bool is_full_disk(int err) { return err == ENOSPC || err == EDQUOT; }

std::string size_text(size_t bytes) {
  if (bytes < 10'000) return fmt::format("{} bytes", bytes);
  if (bytes < 10'000'000) return fmt::format("{:.0f} kB", static_cast<double>(bytes) / 1e3);
  return fmt::format("{:.0f} MB", static_cast<double>(bytes) / 1e6);
}

// The error for a failed system call on the temporary file: a full disk gets the
// words a user acts on.
[[noreturn]] void fail_writing(const fs::path& target, const fs::path& tmp, size_t bytes, const std::string& what,
                               const std::string& intact, const char* step, int err) {
  const std::string whole = intact.empty() ? fmt::format("'{}' is unchanged", target.string()) : intact;
  if (is_full_disk(err))
    EP_FAIL("no space left on the device holding '{}' while writing {} ('{}', {}); {}; free space and rerun",
            target.parent_path().string(), what, tmp.filename().string(), size_text(bytes), whole);
  EP_FAIL("writing {} failed: {} '{}': {}; {}", what, step, tmp.string(), std::strerror(err), whole);
}

// Removes the temporary on every path out of publish_file but success.
class TemporaryFile {
 public:
  explicit TemporaryFile(fs::path path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_) ::unlink(path_.c_str());
  }
  int& fd() { return fd_; }
  void keep() { kept_ = true; }

 private:
  fs::path path_;
  int fd_ = -1;
  bool kept_ = false;
};

}  // namespace

fs::path private_temporary(const fs::path& target) {
  return fs::path(fmt::format("{}.tmp.{}.{}", target.string(), hostname(), ::getpid()));
}

bool is_temporary_of(const fs::path& path, const fs::path& target) {
  const std::string name = path.filename().string();
  const std::string stem = target.filename().string() + ".tmp";
  return name == stem || name.rfind(stem + ".", 0) == 0;
}

void sync_folder(const fs::path& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  EP_CHECK(fd >= 0, "cannot open the folder '{}' to sync it: {}", folder.string(), std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  EP_CHECK(rc == 0 || err == EINVAL, "fsync of the folder '{}' failed: {}", folder.string(), std::strerror(err));
}

void publish_file(const fs::path& target, const std::vector<uint8_t>& bytes, const std::string& what,
                  const std::string& intact) {
  const fs::path tmp = private_temporary(target);
  TemporaryFile file(tmp);
  file.fd() = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file.fd() < 0) fail_writing(target, tmp, bytes.size(), what, intact, "cannot create", errno);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(file.fd(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_writing(target, tmp, bytes.size(), what, intact, "cannot write", errno);
    done += static_cast<size_t>(n);
  }
  // Delayed allocation can report a full disk only here.
  if (::fsync(file.fd()) != 0) fail_writing(target, tmp, bytes.size(), what, intact, "cannot sync", errno);
  const int fd = file.fd();
  file.fd() = -1;
  if (::close(fd) != 0) fail_writing(target, tmp, bytes.size(), what, intact, "cannot close", errno);
  if (::rename(tmp.c_str(), target.c_str()) != 0) fail_writing(target, tmp, bytes.size(), what, intact, "cannot rename", errno);
  file.keep();
  sync_folder(target.parent_path().empty() ? fs::path(".") : target.parent_path());
}

}  // namespace ep::runner
