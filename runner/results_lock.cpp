// ResultsLock: flock(2) on <file>.lock with the holder written inside.
#include "runner/results_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/util/error.h"
#include "core/util/host.h"
#include "runner/results_file.h"

namespace ep::runner {

namespace fs = std::filesystem;

fs::path ResultsLock::lock_path(const fs::path& file) { return fs::path(file.string() + ".lock"); }

namespace {

// "host H, pid P, since T" from the lock file's one line; what is there otherwise.
std::string holder_of(const fs::path& lock) {
  std::ifstream in(lock);
  std::string host, pid, since;
  if (in >> host >> pid >> since) return fmt::format("pid {} on host {}, since {}", pid, host, since);
  return "another process (it has not written its name yet)";
}

}  // namespace

ResultsLock::ResultsLock(const fs::path& file) {
  const fs::path lock = lock_path(file);
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  EP_CHECK(fd_ >= 0, "cannot open the lock file '{}' of the results file '{}': {}", lock.string(), file.string(),
           std::strerror(errno));
  int rc;
  do rc = ::flock(fd_, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      EP_FAIL("the results file '{}' is being written by another eprunner ({}; lock file '{}'); wait for it to "
              "finish, or give this run another output and `eprunner merge` the two afterwards",
              file.string(), holder_of(lock), lock.string());
    EP_FAIL("cannot lock the results file '{}' ('{}': {}); on a file system without locks give each run its own "
            "output and `eprunner merge` them", file.string(), lock.string(), std::strerror(err));
  }
  // Ours now: say who holds it (a second writer reads this).
  const std::string line = fmt::format("{} {} {}\n", hostname().empty() ? "?" : hostname(), ::getpid(), utc_now());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
    // The lock holds without the note (a full disk, say); only a rival's message is poorer.
  }
}

ResultsLock::~ResultsLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace ep::runner
