// The NCCL backend on one rank (each MPI rank its own one-rank group on its GPU):
// all-reduce SUM and MAX in every dtype the runner reduces, on torch's current CUDA
// stream and on a side stream, against the values computed on the CPU. Runs under
// mpirun on a machine with a GPU (scripts/gpu-check); skips elsewhere.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include "distributed/communicator.h"
#include "distributed/device.h"
#include "distributed/mpi_env.h"
#include "mpi_test_env.h"

#ifdef EPRUNNER_WITH_NCCL
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace {

using ep::dist::ReduceOp;

#define EP_SKIP_UNLESS_GPU()                                                                   \
  do {                                                                                         \
    if (!ep::dist::kHaveNccl) GTEST_SKIP() << "built without NCCL (CPU LibTorch)";             \
    if (torch::cuda::device_count() == 0) GTEST_SKIP() << "no GPU visible";                    \
  } while (0)

TEST(NcclCommunicator, OneRankSumAndMaxInEveryDtypeOnCurrentAndSideStreams) {
  EP_SKIP_UNLESS_MPIRUN();
  EP_SKIP_UNLESS_GPU();
#ifdef EPRUNNER_WITH_NCCL
  const int rank = ep::dist::comm_rank(MPI_COMM_WORLD);
  const int gpu = rank % static_cast<int>(torch::cuda::device_count());
  const c10::Device device(c10::kCUDA, static_cast<c10::DeviceIndex>(gpu));
  ep::dist::make_current(device);
  ep::dist::MpiComm alone = ep::dist::split_comm(MPI_COMM_WORLD, rank, 0);  // a group of one
  auto comm = ep::dist::make_communicator(alone.get(), device);
  ASSERT_EQ(comm->backend(), "nccl");
  ASSERT_EQ(comm->size(), 1);
  for (bool side_stream : {false, true}) {
    c10::cuda::CUDAStream stream = side_stream ? c10::cuda::getStreamFromPool(false, gpu)
                                               : c10::cuda::getCurrentCUDAStream(gpu);
    c10::cuda::CUDAStreamGuard on(stream);
    for (auto dtype : {at::kFloat, at::kDouble, at::kBFloat16, at::kHalf, at::kLong}) {
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max}) {
        SCOPED_TRACE(::testing::Message() << "dtype " << dtype << " op " << ep::name_of(op) << " side stream "
                                          << side_stream);
        // Values written by a kernel on this stream just before the collective: the
        // reduction must be ordered after it.
        const at::Tensor cpu = (at::arange(1000, at::kDouble) * 0.5 - 100).to(dtype);
        at::Tensor t = at::empty_like(cpu, at::TensorOptions().device(device));
        t.copy_(cpu, /*non_blocking=*/true);
        t.mul_(1);
        comm->all_reduce(t, op);
        stream.synchronize();
        EXPECT_TRUE(at::equal(t.cpu(), cpu));  // one rank: the reduction of one value is that value
      }
    }
  }
#endif
}

}  // namespace
