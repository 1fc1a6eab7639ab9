// The MPI cell queue: every item is handed out exactly once, results reach rank 0
// intact, and a client's held key is preferred. Run under mpirun by
// tests/cli/grid_mpi.sh.
#include <algorithm>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "distributed/mpi_env.h"
#include "distributed/work_queue.h"
#include "mpi_test_env.h"

using ep::dist::WorkItem;

namespace {

std::vector<uint8_t> result_of(int id) { return std::vector<uint8_t>(static_cast<size_t>(id % 17 + 1), uint8_t(id)); }

}  // namespace

TEST(WorkQueue, EveryItemOnceWithItsResult) {
  EP_SKIP_UNLESS_MPIRUN();
  const int rank = ep::dist::comm_rank(MPI_COMM_WORLD), size = ep::dist::comm_size(MPI_COMM_WORLD);
  ep::dist::MpiComm queue = ep::dist::dup_comm(MPI_COMM_WORLD);
  const int n_items = 23;
  std::map<int, std::vector<uint8_t>> received;
  std::unique_ptr<ep::dist::WorkQueueServer> server;
  if (rank == 0) {
    std::vector<WorkItem> items;
    for (int i = 0; i < n_items; ++i) items.push_back({i, i % 3});
    server = std::make_unique<ep::dist::WorkQueueServer>(queue.get(), items, size, [&](int id, std::vector<uint8_t> r) {
      EXPECT_EQ(received.count(id), 0u) << "item " << id << " came back twice";
      received[id] = std::move(r);
    });
  }
  ep::dist::WorkQueueClient client(queue.get());
  int mine = 0;
  while (auto id = client.next(-1)) {
    client.submit(*id, result_of(*id));
    ++mine;
  }
  if (rank == 0) {
    server->wait();
    ASSERT_EQ(static_cast<int>(received.size()), n_items);
    for (const auto& [id, r] : received) EXPECT_EQ(r, result_of(id));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(WorkQueue, HeldKeyIsPreferred) {
  EP_SKIP_UNLESS_MPIRUN();
  const int rank = ep::dist::comm_rank(MPI_COMM_WORLD);
  ep::dist::MpiComm queue = ep::dist::dup_comm(MPI_COMM_WORLD);
  if (rank == 0) {
    // One client (rank 0 itself) against its own server thread.
    ep::dist::WorkQueueServer server(queue.get(), {{0, 0}, {1, 1}, {2, 0}, {3, 1}, {4, 2}}, 1,
                                     [](int, std::vector<uint8_t>) {});
    ep::dist::WorkQueueClient client(queue.get());
    std::vector<int> order;
    int held = 1;
    while (auto id = client.next(held)) {
      order.push_back(*id);
      held = *id == 3 ? 2 : held;  // after its last key-1 item the client "loads" model 2
      client.submit(*id, {});
    }
    server.wait();
    EXPECT_EQ(order, (std::vector<int>{1, 3, 4, 0, 2}));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}
