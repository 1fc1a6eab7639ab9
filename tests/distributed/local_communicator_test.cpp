// The size-1 backend and the parts of distributed/ that need no MPI launcher.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "core/util/error.h"
#include "distributed/communicator.h"
#include "distributed/device.h"
#include "distributed/mpi_env.h"

using ep::dist::Bytes;
using ep::dist::ReduceOp;

TEST(LocalCommunicator, CollectivesAreIdentities) {
  auto comm = ep::dist::make_local_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  EXPECT_EQ(comm->backend(), "local");
  auto t = at::arange(6, at::kDouble);
  comm->all_reduce(t, ReduceOp::Sum);
  comm->all_reduce(t, ReduceOp::Max);
  EXPECT_TRUE(t.equal(at::arange(6, at::kDouble)));
  Bytes mine{1, 2, 3};
  EXPECT_EQ(comm->all_gather_bytes(mine), std::vector<Bytes>{mine});
  comm->broadcast_bytes(mine, 0);
  EXPECT_EQ(mine, (Bytes{1, 2, 3}));
}

TEST(LocalCommunicator, RootMustBeZero) {
  auto comm = ep::dist::make_local_communicator();
  Bytes b;
  EXPECT_THROW(comm->broadcast_bytes(b, 1), ep::Error);
}

TEST(DeviceChoice, LocalRankModuloGpus) {
  EXPECT_EQ(ep::dist::cuda_device_index(0, 0, 8), 0);
  EXPECT_EQ(ep::dist::cuda_device_index(9, 0, 8), 1);
  EXPECT_EQ(ep::dist::cuda_device_index(3, 2, 8), 1);
  EXPECT_EQ(ep::dist::cuda_device_index(3, 0, 0), -1);
}

TEST(ReduceOp, Names) {
  EXPECT_EQ(ep::name_of(ReduceOp::Sum), "sum");
  EXPECT_EQ(ep::name_of(ReduceOp::Max), "max");
}

TEST(DeviceChoice, CudaWithoutGpusIsAnErrorWithAHint) {
  EXPECT_TRUE(ep::dist::rank_device(false, MPI_COMM_NULL, 0).is_cpu());
  if (torch::cuda::device_count() > 0) GTEST_SKIP() << "this machine has a GPU";
  try {
    ep::dist::rank_device(true, MPI_COMM_NULL, 0);
    FAIL() << "asked for CUDA without a GPU and got no error";
  } catch (const ep::Error& e) {
    EXPECT_NE(std::string(e.what()).find("device = \"cpu\""), std::string::npos) << e.what();
  }
}
