// Choosing a backend for a group.
#include "distributed/communicator.h"

#include <c10/core/Device.h>
#include <spdlog/spdlog.h>

#include "core/util/error.h"

namespace ep::dist {

std::unique_ptr<Communicator> make_communicator(MPI_Comm group, const c10::Device& device) {
  std::unique_ptr<Communicator> comm;
  if (device.is_cuda()) {
#ifdef EPRUNNER_WITH_NCCL
    comm = make_nccl_communicator(group, device.index() < 0 ? 0 : device.index());
#else
    EP_FAIL("device {} needs the NCCL backend, but this eprunner was built without NCCL (CPU LibTorch, or "
            "nccl.h/libnccl not found at configure time); use device = \"cpu\" or rebuild", device.str());
#endif
  } else {
    comm = make_mpi_communicator(group);
  }
  if (comm->rank() == 0)
    spdlog::info("group communicator: {} over {} rank(s), device {}", comm->backend(), comm->size(), device.str());
  return comm;
}

}  // namespace ep::dist
