// The work queue's server loop and client calls (protocol in work_queue.h):
//   client -> 0  kRequest  int64[2] {unused, held key}
//   0 -> client  kAssign   int64    item id, or -1 = no more
//   client -> 0  kResult   bytes    int64 item id, then the result
#include "distributed/work_queue.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "core/util/error.h"
#include "distributed/check.h"

namespace ep::dist {
namespace {

enum Tag : int { kRequest = 101, kAssign = 102, kResult = 103 };

// Poll interval bounds: fast enough that a handed-out cell starts within ~10 ms,
// slow enough that waiting costs no measurable CPU.
constexpr auto kMinNap = std::chrono::microseconds(200);
constexpr auto kMaxNap = std::chrono::milliseconds(10);

}  // namespace

void wait_politely(MPI_Request& request) {
  auto nap = kMinNap;
  for (;;) {
    int done = 0;
    EP_MPICHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(nap);
    nap = std::min<std::chrono::microseconds>(nap * 2, kMaxNap);
  }
}

WorkQueueServer::WorkQueueServer(MPI_Comm queue_comm, std::vector<WorkItem> items, int n_clients,
                                 ResultHandler on_result)
    : comm_(queue_comm), pending_(std::move(items)), clients_left_(n_clients), on_result_(std::move(on_result)) {
  thread_ = std::thread([this] {
    try {
      serve();
    } catch (...) {
      // An MPI failure here leaves clients waiting forever: say why, then stop all.
      try {
        std::rethrow_exception(std::current_exception());
      } catch (const std::exception& e) {
        spdlog::critical("cell queue server failed: {}", e.what());
      }
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
  });
}

WorkQueueServer::~WorkQueueServer() {
  if (thread_.joinable()) thread_.join();
}

void WorkQueueServer::wait() {
  if (thread_.joinable()) thread_.join();
  if (error_) std::rethrow_exception(error_);
}

void WorkQueueServer::serve() {
  auto nap = kMinNap;
  while (clients_left_ > 0 || results_outstanding_ > 0) {
    // Probe for the two tags the server receives, never MPI_ANY_TAG: rank 0's own
    // client shares this communicator, and the server's kAssign reply to it can sit
    // unreceived for a moment (the client posts its receive after sending).
    int flag = 0;
    MPI_Status status;
    EP_MPICHECK(MPI_Iprobe(MPI_ANY_SOURCE, kRequest, comm_, &flag, &status));
    if (!flag) EP_MPICHECK(MPI_Iprobe(MPI_ANY_SOURCE, kResult, comm_, &flag, &status));
    if (!flag) {
      std::this_thread::sleep_for(nap);
      nap = std::min<std::chrono::microseconds>(nap * 2, kMaxNap);
      continue;
    }
    nap = kMinNap;
    if (status.MPI_TAG == kRequest)
      answer_request(status);
    else if (status.MPI_TAG == kResult)
      take_result(status);
    else
      EP_FAIL("cell queue: unexpected message tag {} from rank {}", status.MPI_TAG, status.MPI_SOURCE);
  }
}

void WorkQueueServer::answer_request(const MPI_Status& status) {
  int64_t request[2];
  EP_MPICHECK(MPI_Recv(request, 2, MPI_INT64_T, status.MPI_SOURCE, kRequest, comm_, MPI_STATUS_IGNORE));
  int64_t id = -1;
  if (!error_ && !pending_.empty()) {
    auto it = std::find_if(pending_.begin(), pending_.end(), [&](const WorkItem& w) { return w.key == request[1]; });
    if (it == pending_.end()) it = pending_.begin();
    id = it->id;
    pending_.erase(it);
    ++results_outstanding_;
  } else {
    --clients_left_;
  }
  EP_MPICHECK(MPI_Send(&id, 1, MPI_INT64_T, status.MPI_SOURCE, kAssign, comm_));
}

void WorkQueueServer::take_result(const MPI_Status& status) {
  int bytes = 0;
  EP_MPICHECK(MPI_Get_count(&status, MPI_BYTE, &bytes));
  std::vector<uint8_t> message(static_cast<size_t>(bytes));
  EP_MPICHECK(MPI_Recv(message.data(), bytes, MPI_BYTE, status.MPI_SOURCE, kResult, comm_, MPI_STATUS_IGNORE));
  --results_outstanding_;
  EP_CHECK(message.size() >= sizeof(int64_t), "cell queue: a result message of {} bytes from rank {}", bytes,
           status.MPI_SOURCE);
  int64_t id = 0;
  std::memcpy(&id, message.data(), sizeof(id));
  message.erase(message.begin(), message.begin() + sizeof(id));
  if (error_) return;  // results after a failed write are dropped; wait() reports the failure
  try {
    on_result_(static_cast<int>(id), std::move(message));
  } catch (...) {
    error_ = std::current_exception();
    pending_.clear();  // stop handing out work that could not be saved
  }
}

std::optional<int> WorkQueueClient::next(int held_key) {
  int64_t request[2] = {0, held_key};
  int64_t id = -1;
  MPI_Request req;
  EP_MPICHECK(MPI_Irecv(&id, 1, MPI_INT64_T, 0, kAssign, comm_, &req));  // posted before asking
  EP_MPICHECK(MPI_Send(request, 2, MPI_INT64_T, 0, kRequest, comm_));
  wait_politely(req);
  if (id < 0) return std::nullopt;
  return static_cast<int>(id);
}

void WorkQueueClient::submit(int id, const std::vector<uint8_t>& result) {
  std::vector<uint8_t> message(sizeof(int64_t) + result.size());
  int64_t id64 = id;
  std::memcpy(message.data(), &id64, sizeof(id64));
  std::copy(result.begin(), result.end(), message.begin() + sizeof(id64));
  EP_CHECK(message.size() <= static_cast<size_t>(INT32_MAX), "cell {}: a result of {} bytes is too big for one MPI "
           "message", id, message.size());
  EP_MPICHECK(MPI_Send(message.data(), static_cast<int>(message.size()), MPI_BYTE, 0, kResult, comm_));
}

}  // namespace ep::dist
