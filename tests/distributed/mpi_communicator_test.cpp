// The MPI backend, run with several ranks by tests/cli/grid_mpi.sh (mpirun -np 2
// and -np 4). Values are chosen so sums and maxima are exact in every dtype: the
// expected result is computed independently on each rank and compared bit for bit.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "core/util/error.h"
#include "distributed/agreement.h"
#include "distributed/communicator.h"
#include "distributed/mpi_env.h"
#include "mpi_test_env.h"

using ep::dist::Bytes;
using ep::dist::ReduceOp;

namespace {

int world_rank() { return ep::dist::comm_rank(MPI_COMM_WORLD); }
int world_size() { return ep::dist::comm_size(MPI_COMM_WORLD); }

// Rank r's contribution: element i = (r + 1) * 2^(i - 4) - r * i, exact in binary.
double value(int r, int i) { return (r + 1) * std::ldexp(1.0, i - 4) - static_cast<double>(r) * i; }

}  // namespace

TEST(MpiCommunicator, RankSizeBackend) {
  EP_SKIP_UNLESS_MPIRUN();
  auto comm = ep::dist::make_mpi_communicator(MPI_COMM_WORLD);
  EXPECT_EQ(comm->rank(), world_rank());
  EXPECT_EQ(comm->size(), world_size());
  EXPECT_EQ(comm->backend(), "mpi");
  EXPECT_GE(comm->size(), 2) << "run under mpirun with at least 2 ranks";
}

TEST(MpiCommunicator, AllReduceSumAndMaxAreExact) {
  EP_SKIP_UNLESS_MPIRUN();
  auto comm = ep::dist::make_mpi_communicator(MPI_COMM_WORLD);
  const int r = comm->rank(), n = comm->size(), len = 10;
  for (auto dtype : {at::kDouble, at::kFloat, at::kLong}) {
    SCOPED_TRACE(c10::toString(dtype));
    auto sum = at::empty({len}, at::TensorOptions().dtype(dtype));
    auto max = at::empty({len}, at::TensorOptions().dtype(dtype));
    std::vector<double> want_sum(len, 0.0), want_max(len, -1e300);
    for (int i = 0; i < len; ++i) {
      // int64: large values around 2^40 (would lose bits in float32 or as double sums past 2^53).
      auto v = [&](int rank) { return dtype == at::kLong ? (int64_t{1} << 40) * (rank + 1) - rank * i : value(rank, i); };
      sum[i] = v(r);
      max[i] = v(r);
      for (int k = 0; k < n; ++k) {
        want_sum[i] += static_cast<double>(v(k));
        want_max[i] = std::max(want_max[i], static_cast<double>(v(k)));
      }
    }
    comm->all_reduce(sum, ReduceOp::Sum);
    comm->all_reduce(max, ReduceOp::Max);
    auto s = sum.to(at::kDouble), m = max.to(at::kDouble);
    for (int i = 0; i < len; ++i) {
      EXPECT_EQ(s[i].item<double>(), want_sum[i]) << "sum element " << i;
      EXPECT_EQ(m[i].item<double>(), want_max[i]) << "max element " << i;
    }
  }
}

TEST(MpiCommunicator, AllReduceOfAViewChangesTheBase) {
  EP_SKIP_UNLESS_MPIRUN();
  auto comm = ep::dist::make_mpi_communicator(MPI_COMM_WORLD);
  auto base = at::ones({4, 3}, at::kDouble);
  comm->all_reduce(base[2], ReduceOp::Sum);  // a contiguous row: in place in `base`
  EXPECT_EQ(base[2][1].item<double>(), comm->size());
  EXPECT_EQ(base[1][1].item<double>(), 1.0);
}

TEST(MpiCommunicator, RejectsWhatMpiCannotReduce) {
  EP_SKIP_UNLESS_MPIRUN();
  auto comm = ep::dist::make_mpi_communicator(MPI_COMM_WORLD);
  auto t = at::ones({4, 3}, at::kFloat).t();  // not contiguous
  EXPECT_THROW(comm->all_reduce(t, ReduceOp::Sum), ep::Error);
  auto half = at::ones({3}, at::kBFloat16);
  try {
    comm->all_reduce(half, ReduceOp::Sum);
    FAIL() << "bf16 all_reduce was accepted";
  } catch (const ep::Error& e) {
    EXPECT_NE(std::string(e.what()).find("BFloat16"), std::string::npos) << e.what();
  }
  Bytes b;
  EXPECT_THROW(comm->broadcast_bytes(b, comm->size()), ep::Error);  // no such root
}

TEST(MpiCommunicator, GatherVariableSizeBuffers) {
  EP_SKIP_UNLESS_MPIRUN();
  auto comm = ep::dist::make_mpi_communicator(MPI_COMM_WORLD);
  const int r = comm->rank(), n = comm->size();
  auto buffer_of = [](int rank) { return Bytes(static_cast<size_t>(rank * 3 + (rank == 1 ? 0 : 1)), uint8_t(rank + 7)); };
  auto all = comm->all_gather_bytes(buffer_of(r));
  ASSERT_EQ(static_cast<int>(all.size()), n);
  for (int k = 0; k < n; ++k) EXPECT_EQ(all[k], buffer_of(k));

  Bytes b = r == n - 1 ? Bytes{1, 2, 3, 4, 5} : Bytes{9};
  comm->broadcast_bytes(b, n - 1);
  EXPECT_EQ(b, (Bytes{1, 2, 3, 4, 5}));
}

TEST(MpiCommunicator, GroupsFromCommSplit) {
  EP_SKIP_UNLESS_MPIRUN();
  const int r = world_rank(), n = world_size();
  // Groups of two consecutive ranks (the last alone when n is odd).
  ep::dist::MpiComm group = ep::dist::split_comm(MPI_COMM_WORLD, r / 2, r);
  auto comm = ep::dist::make_communicator(group.get(), c10::Device(c10::kCPU));
  const int expect_size = (r / 2) * 2 + 1 < n ? 2 : 1;
  EXPECT_EQ(comm->size(), expect_size);
  EXPECT_EQ(comm->rank(), r % 2);
  auto t = at::full({1}, static_cast<int64_t>(r), at::kLong);
  comm->all_reduce(t, ReduceOp::Sum);
  const int64_t first = (r / 2) * 2;
  EXPECT_EQ(t.item<int64_t>(), expect_size == 2 ? first + first + 1 : first);

  // Ranks outside every group get a null communicator.
  ep::dist::MpiComm none = ep::dist::split_comm(MPI_COMM_WORLD, r == 0 ? -1 : 0, r);
  EXPECT_EQ(none.null(), r == 0);
}

TEST(MpiCommunicator, LocalRankAndDeviceChoice) {
  EP_SKIP_UNLESS_MPIRUN();
  // One node here: the local rank is the world rank.
  EXPECT_EQ(ep::dist::local_rank(MPI_COMM_WORLD), world_rank());
  EXPECT_EQ(ep::dist::cuda_device_index(5, 0, 4), 1);
  EXPECT_EQ(ep::dist::cuda_device_index(5, 2, 4), 1);
  EXPECT_EQ(ep::dist::cuda_device_index(3, 8, 2), 1);  // gpus_per_node capped by what is visible
  EXPECT_EQ(ep::dist::cuda_device_index(0, 0, 0), -1);
}

// The last rank fails before the second all-reduce; every rank must end with the same
// GroupFailure naming it, none waiting in a collective the failed rank never joins
// (a hang here fails the test by grid_mpi.sh's timeout). The communicator stays usable.
TEST(MpiCommunicator, AgreementEndsAFailedPhaseOnEveryRank) {
  EP_SKIP_UNLESS_MPIRUN();
  ep::dist::AgreeingCommunicator comm(MPI_COMM_WORLD);
  comm.connect([] { return ep::dist::make_mpi_communicator(MPI_COMM_WORLD); });
  const int last = comm.size() - 1;
  auto t = at::ones({4}, at::kDouble);
  comm.all_reduce(t, ReduceOp::Sum);  // all well
  EXPECT_DOUBLE_EQ(t[0].item<double>(), comm.size());
  std::string error;
  try {
    ep::dist::agree_on_failure(comm, [&] {
      if (comm.rank() == last) throw ep::Error("out of memory on purpose");
      comm.all_reduce(t, ReduceOp::Max);  // the others are here when the last rank fails
    });
    ADD_FAILURE() << "rank " << comm.rank() << ": no GroupFailure";
  } catch (const ep::dist::GroupFailure& e) {
    error = e.what();
  }
  EXPECT_EQ(error, "rank " + std::to_string(last) + " of the group failed: out of memory on purpose");
  // A failure after the last collective meets the cell's closing checkpoint.
  try {
    ep::dist::agree_on_failure(comm, [&] {
      if (comm.rank() == 0) throw ep::Error("late");
    });
    comm.checkpoint();
    ADD_FAILURE() << "rank " << comm.rank() << ": no GroupFailure";
  } catch (const ep::dist::GroupFailure& e) {
    EXPECT_EQ(std::string(e.what()), "rank 0 of the group failed: late");
  }
  comm.all_reduce(t, ReduceOp::Sum);  // the next cell goes on
  EXPECT_DOUBLE_EQ(t[0].item<double>(), comm.size() * comm.size());
}
