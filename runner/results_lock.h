// One writer per results file. A second `eprunner run` (or `merge`) into a file
// that another process is writing would race it for the same cells; it gets an
// error naming the holder instead.
//
// The lock is flock(2) on `<file>.lock`, held for the writer's lifetime: the kernel
// drops it when the process ends in any way (exit, crash, kill -9), so a stale lock
// never blocks a rerun. The lock file stays (deleting it would let a third process
// lock a different inode); it holds the last holder's "host pid since" for the
// message. On NFS, Linux turns flock into an NFS lock held by the server (NFSv4, or
// NFSv3 with lockd): it works across hosts, and the server drops the lock of a dead
// client after its lease. A file system mounted with `nolock` (or `local_lock=all`)
// locks only on one host: give runs on different hosts different outputs there
// and `eprunner merge` them (docs/results-format.md).
#pragma once

#include <filesystem>
#include <string>

namespace ep::runner {

class ResultsLock {
 public:
  // Takes the lock of `file` or throws ep::Error naming the holder.
  explicit ResultsLock(const std::filesystem::path& file);
  ~ResultsLock();
  ResultsLock(const ResultsLock&) = delete;
  ResultsLock& operator=(const ResultsLock&) = delete;

  static std::filesystem::path lock_path(const std::filesystem::path& file);

 private:
  int fd_ = -1;
};

}  // namespace ep::runner
