#include "distributed/device.h"

#include <fstream>
#include <sstream>
#include <string>

#include <torch/cuda.h>
#ifdef EPRUNNER_WITH_NCCL  // a CUDA build
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

#include "core/util/error.h"
#include "core/util/host.h"
#include "distributed/mpi_env.h"

namespace ep::dist {

c10::Device rank_device(bool want_cuda, MPI_Comm world, int gpus_per_node) {
  if (!want_cuda) return c10::Device(c10::kCPU);
  const int visible = static_cast<int>(torch::cuda::device_count());
  EP_CHECK(visible > 0, "the grid asks for device = \"cuda\" but {} sees no GPU (CPU-only LibTorch, no driver, "
           "or CUDA_VISIBLE_DEVICES empty); use device = \"cpu\"", hostname());
  const int index = cuda_device_index(local_rank(world), gpus_per_node, visible);
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void make_current(const c10::Device& device) {
  if (!device.is_cuda()) return;
#ifdef EPRUNNER_WITH_NCCL
  c10::cuda::set_device(device.index() < 0 ? 0 : device.index());
#else
  EP_FAIL("device {}: this eprunner was built without CUDA", device.str());
#endif
}

namespace {
// /proc/meminfo's MemAvailable: what the kernel can give without swapping.
int64_t available_host_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  int64_t kib = 0;
  while (in >> key >> kib) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kib * 1024;
  }
  EP_FAIL("cannot read MemAvailable from /proc/meminfo");
}
}  // namespace

int64_t free_memory_bytes(const c10::Device& device) {
  if (!device.is_cuda()) return available_host_memory();
#ifdef EPRUNNER_WITH_NCCL
  c10::cuda::CUDAGuard guard(device.index() < 0 ? 0 : device.index());
  size_t free = 0, total = 0;
  const cudaError_t rc = cudaMemGetInfo(&free, &total);
  EP_CHECK(rc == cudaSuccess, "cudaMemGetInfo on {}: {}", device.str(), cudaGetErrorString(rc));
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
  const auto idx = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  const int64_t cached_unused = stats.reserved_bytes[idx].current - stats.allocated_bytes[idx].current;
  return static_cast<int64_t>(free) + std::max<int64_t>(cached_unused, 0);
#else
  EP_FAIL("device {}: this eprunner was built without CUDA", device.str());
#endif
}

int64_t peak_memory_bytes(const c10::Device& device) {
#ifdef EPRUNNER_WITH_NCCL
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
  }
#endif
  return -1;
}

void reset_peak_memory(const c10::Device& device) {
#ifdef EPRUNNER_WITH_NCCL
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
#endif
}

}  // namespace ep::dist
