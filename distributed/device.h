// Which device a rank computes on.
#pragma once

#include <c10/core/Device.h>
#include <mpi.h>

namespace ep::dist {

// CPU, or the CUDA device cuda_device_index(local rank, gpus_per_node, visible GPUs)
// picks (mpi_env.h). Wanting CUDA where no GPU is visible is an ep::Error with a hint.
c10::Device rank_device(bool want_cuda, MPI_Comm world, int gpus_per_node);

}  // namespace ep::dist
