// Which device a rank computes on, making it current, and how much memory it has free.
#pragma once

#include <cstdint>

#include <c10/core/Device.h>
#include <mpi.h>

namespace ep::dist {

// CPU, or the CUDA device cuda_device_index(local rank, gpus_per_node, visible GPUs)
// picks (mpi_env.h). Wanting CUDA where no GPU is visible is an ep::Error with a hint.
c10::Device rank_device(bool want_cuda, MPI_Comm world, int gpus_per_node);

// Makes a CUDA device the thread's current one (a no-op for the CPU), before any CUDA
// work: otherwise the first CUDA call of every rank would create a context on GPU 0.
void make_current(const c10::Device& device);

// Bytes free for new allocations: cudaMemGetInfo's free plus what torch's caching
// allocator holds unused on a CUDA device; MemAvailable (/proc/meminfo) on the CPU.
int64_t free_memory_bytes(const c10::Device& device);

// Torch's peak allocated bytes on a CUDA device since the last reset (-1 on the CPU).
int64_t peak_memory_bytes(const c10::Device& device);
void reset_peak_memory(const c10::Device& device);

}  // namespace ep::dist
