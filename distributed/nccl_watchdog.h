// A watchdog for one NCCL communicator: NCCL collectives have no timeout, and a
// missing or hung peer leaves every other rank's kernel spinning forever. Each
// collective records a CUDA event after it on its stream; a thread checks the oldest
// pending one and, once one has waited longer than the timeout (or NCCL reports an
// asynchronous error), logs the error and aborts the communicator (ncclCommAbort,
// which NCCL allows from another thread). The NCCL kernels then end, the rank's
// waiting host call returns, and every later collective throws. The collectives
// stay asynchronous: nothing here blocks the caller.
// ref: PyTorch c10d ProcessGroupNCCL's watchdog thread (TORCH_NCCL_ASYNC_ERROR_HANDLING).
#pragma once
#ifdef EPRUNNER_WITH_NCCL

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <cuda_runtime_api.h>
#include <nccl.h>

namespace ep::dist {

class NcclWatchdog {
 public:
  // EPRUNNER_NCCL_TIMEOUT (seconds) overrides the default of 600.
  static std::chrono::milliseconds timeout_from_environment();

  NcclWatchdog(ncclComm_t comm, int device, std::chrono::milliseconds timeout);
  ~NcclWatchdog();  // stops the thread; pending events are released
  NcclWatchdog(const NcclWatchdog&) = delete;
  NcclWatchdog& operator=(const NcclWatchdog&) = delete;

  // After enqueueing collective `name` on `stream` (the device must be current).
  void watch(const char* name, cudaStream_t stream);
  // Why the communicator was aborted; "" while it is not.
  std::string aborted() const;

 private:
  struct Pending {
    cudaEvent_t done;
    std::chrono::steady_clock::time_point since;
    std::string name;
  };
  void run();
  void abort(const std::string& why);

  ncclComm_t comm_;
  int device_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;
  std::string aborted_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ep::dist

#endif  // EPRUNNER_WITH_NCCL
