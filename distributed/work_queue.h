// A dynamic work queue over MPI: world rank 0 hands out item ids to the clients
// (group leaders) that ask, and receives each finished item's result as bytes.
//
// Why dynamic rather than a static split: cells differ a lot in cost (INT-MULT has
// 400 examples, INT-SUM 10,000; GPT-2 XL vs a fine-tuned copy), so a static split
// leaves groups idle while one group works through its long tail. With a queue a
// group that finishes early takes the next cell. To keep the static split's one
// advantage (load a model once for all its cells), a request carries the key of
// the model the client holds, and the server prefers an item with that key.
//
// The server runs on a thread of world rank 0 (which also computes as a client),
// so it needs MPI_THREAD_MULTIPLE. It polls with MPI_Iprobe and sleeps between
// polls: a blocking MPI_Recv would spin a core that rank 0's own cell needs.
// Carries ids and bytes; what they mean is the runner's business.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include <mpi.h>

namespace ep::dist {

struct WorkItem {
  int id = 0;
  int key = 0;  // affinity: items with the client's key come first
};

class WorkQueueServer {
 public:
  // Called on the server thread for each result, in arrival order. An exception
  // stops the handing out of items (clients are told "no more") and is rethrown
  // by wait().
  using ResultHandler = std::function<void(int id, std::vector<uint8_t> result)>;

  // Starts serving `items` (in order, modulo affinity) to `n_clients` clients over
  // `queue_comm`: a communicator used for nothing else (dup_comm(world) made on
  // every rank), whose rank 0 runs this server.
  WorkQueueServer(MPI_Comm queue_comm, std::vector<WorkItem> items, int n_clients, ResultHandler on_result);
  ~WorkQueueServer();  // waits; never throws
  WorkQueueServer(const WorkQueueServer&) = delete;
  WorkQueueServer& operator=(const WorkQueueServer&) = delete;

  // Returns when every client was told "no more" and every handed-out item's result
  // arrived; rethrows a handler's exception.
  void wait();

 private:
  void serve();
  void answer_request(const MPI_Status& status);
  void take_result(const MPI_Status& status);

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::vector<WorkItem> pending_;
  int clients_left_;
  int results_outstanding_ = 0;
  ResultHandler on_result_;
  std::exception_ptr error_;
  std::thread thread_;
};

class WorkQueueClient {
 public:
  // `queue_comm`: the same communicator the server uses (rank 0 of it serves).
  explicit WorkQueueClient(MPI_Comm queue_comm) : comm_(queue_comm) {}

  // The next item id, preferring `held_key`; nullopt when none is left.
  std::optional<int> next(int held_key);
  void submit(int id, const std::vector<uint8_t>& result);

 private:
  MPI_Comm comm_;
};

// Waits for `request` while sleeping between tests, so a rank that has nothing to
// do (a group member waiting for the next cell, an idle rank waiting for the end)
// does not spin a core other ranks compute on.
void wait_politely(MPI_Request& request);

}  // namespace ep::dist
