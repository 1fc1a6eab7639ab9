#ifdef EPRUNNER_WITH_NCCL

#include "distributed/nccl_watchdog.h"

#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/util/error.h"
#include "distributed/check.h"

namespace ep::dist {

std::chrono::milliseconds NcclWatchdog::timeout_from_environment() {
  if (const char* v = std::getenv("EPRUNNER_NCCL_TIMEOUT")) {
    char* end = nullptr;
    const double seconds = std::strtod(v, &end);
    EP_CHECK(end != v && *end == '\0' && seconds > 0 && seconds < 1e7,
             "EPRUNNER_NCCL_TIMEOUT = '{}': expected a number of seconds > 0", v);
    return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  }
  return std::chrono::minutes(10);
}

NcclWatchdog::NcclWatchdog(ncclComm_t comm, int device, std::chrono::milliseconds timeout)
    : comm_(comm), device_(device), timeout_(timeout), thread_([this] { run(); }) {}

NcclWatchdog::~NcclWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (auto& p : pending_) cudaEventDestroy(p.done);
}

void NcclWatchdog::watch(const char* name, cudaStream_t stream) {
  cudaEvent_t done = nullptr;
  cudaError_t rc = cudaEventCreateWithFlags(&done, cudaEventDisableTiming);
  if (rc == cudaSuccess) rc = cudaEventRecord(done, stream);
  EP_CHECK(rc == cudaSuccess, "NCCL {}: recording its completion event failed: {}", name, cudaGetErrorString(rc));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back({done, std::chrono::steady_clock::now(), name});
  }
  wake_.notify_all();
}

std::string NcclWatchdog::aborted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return aborted_;
}

void NcclWatchdog::abort(const std::string& why) {
  spdlog::error("{}; aborting the NCCL communicator so that no rank waits forever", why);
  ncclCommAbort(comm_);
  std::lock_guard<std::mutex> lock(mutex_);
  aborted_ = why;
}

void NcclWatchdog::run() {
  cudaSetDevice(device_);  // the events belong to this device
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    if (pending_.empty() || !aborted_.empty()) {
      wake_.wait(lock, [this] { return stop_ || (!pending_.empty() && aborted_.empty()); });
      continue;
    }
    Pending oldest = pending_.front();
    lock.unlock();
    const cudaError_t q = cudaEventQuery(oldest.done);
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    const auto waited = std::chrono::steady_clock::now() - oldest.since;
    std::string why;
    if (async != ncclSuccess && async != ncclInProgress)
      why = fmt::format("NCCL {} on {}: asynchronous error {}", oldest.name, detail::where_am_i(),
                        ncclGetErrorString(async));
    else if (q != cudaSuccess && q != cudaErrorNotReady)
      why = fmt::format("NCCL {} on {}: CUDA error {}", oldest.name, detail::where_am_i(), cudaGetErrorString(q));
    else if (q == cudaErrorNotReady && waited > timeout_)
      why = fmt::format("NCCL {} on {} has not completed after {} s (a peer is missing, hung or far behind; "
                        "EPRUNNER_NCCL_TIMEOUT sets the limit)",
                        oldest.name, detail::where_am_i(),
                        std::chrono::duration_cast<std::chrono::seconds>(waited).count());
    if (!why.empty()) abort(why);
    lock.lock();
    if (q == cudaSuccess) {
      cudaEventDestroy(pending_.front().done);
      pending_.pop_front();
    } else if (why.empty()) {
      wake_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stop_; });
    }
  }
}

}  // namespace ep::dist

#endif  // EPRUNNER_WITH_NCCL
