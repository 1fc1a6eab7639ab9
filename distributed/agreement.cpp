#include "distributed/agreement.h"

#include <fmt/format.h>

namespace ep::dist {

AgreeingCommunicator::AgreeingCommunicator(MPI_Comm group) : agreement_(make_mpi_communicator(group)) {}

Communicator& AgreeingCommunicator::data() {
  EP_CHECK(inner_ != nullptr, "internal: a collective before the group's communicator was connected");
  return *inner_;
}

void AgreeingCommunicator::exchange(const std::string& error) {
  const Bytes mine(error.begin(), error.end());
  const std::vector<Bytes> all = agreement_->all_gather_bytes(mine);
  std::string failures;
  int failed = 0;
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty()) continue;
    failures += fmt::format("{}rank {} of the group failed: {}", failures.empty() ? "" : "; ", r,
                            std::string(all[r].begin(), all[r].end()));
    ++failed;
  }
  if (failed) throw GroupFailure(failures);
}

void AgreeingCommunicator::checkpoint() { exchange({}); }

void AgreeingCommunicator::fail(const std::string& error) {
  // An empty message would read as "went well".
  exchange(error.empty() ? std::string("unknown error") : error);
  throw GroupFailure("internal: a failure was not seen by its own exchange");  // unreachable
}

void AgreeingCommunicator::all_reduce(const at::Tensor& tensor, ReduceOp op) {
  checkpoint();
  data().all_reduce(tensor, op);
}

std::vector<Bytes> AgreeingCommunicator::all_gather_bytes(const Bytes& mine) {
  checkpoint();
  return data().all_gather_bytes(mine);
}

void AgreeingCommunicator::broadcast_bytes(Bytes& buffer, int root) {
  checkpoint();
  data().broadcast_bytes(buffer, root);
}

}  // namespace ep::dist
