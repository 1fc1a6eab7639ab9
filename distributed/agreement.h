// One rank's failure must end its group's cell, never hang the group.
//
// NCCL has no timeout, and an MPI collective waits forever for a rank that never
// comes: a rank that throws (out of memory, a NaN check, a bad example) while the
// others go on to the next all-reduce would leave them there. So every collective of
// an AgreeingCommunicator first exchanges one small message over MPI: "my part since
// the last collective went well" (empty) or the error that stopped it. A rank that
// fails calls fail(error) in place of its next collective; in that exchange every rank
// of the group learns it, and each throws the same GroupFailure naming the failed
// ranks and their errors. The group then leaves the cell together and the grid goes
// on with the next one.
//
// The exchanges go over the agreement's own MPI communicator (a duplicate of the
// group's), whatever the data backend, so they work when the device is the problem.
// The contract that makes them line up: between two collectives a rank either
// reaches the next collective or calls fail() exactly once; a GroupFailure (already
// agreed) is rethrown, never failed again; creating the data communicator (itself
// collective) is preceded by an exchange (connect()); a cell ends with checkpoint(),
// so a failure after the last collective still meets the others.
// ref: PyTorch c10d's monitored barrier and NCCL's async error handling solve the
// same problem with timeouts; an explicit agreement needs none.
#pragma once

#include <memory>
#include <string>

#include "core/util/error.h"
#include "distributed/communicator.h"

namespace ep::dist {

// Thrown on every rank of a group once any rank failed; what() is the same on all.
class GroupFailure : public ep::Error {
 public:
  using ep::Error::Error;
};

class AgreeingCommunicator final : public Communicator {
 public:
  // The agreement channel over `group` (collective over the group). The data
  // communicator comes with connect(); until then collectives are an error.
  explicit AgreeingCommunicator(MPI_Comm group);
  // An exchange, then the data communicator `make()` returns (make() is collective
  // and may throw; a throw becomes fail()).
  template <class Make>
  void connect(Make&& make) {
    checkpoint();
    try {
      inner_ = make();
    } catch (const std::exception& e) {
      fail(e.what());
    }
  }
  bool connected() const { return inner_ != nullptr; }

  int rank() const override { return agreement_->rank(); }
  int size() const override { return agreement_->size(); }
  std::string_view backend() const override { return inner_ ? inner_->backend() : "none"; }

  void all_reduce(const at::Tensor& tensor, ReduceOp op) override;
  std::vector<Bytes> all_gather_bytes(const Bytes& mine) override;
  void broadcast_bytes(Bytes& buffer, int root) override;

  // The exchange alone: throws GroupFailure if any rank failed since the last one.
  void checkpoint();
  // The data communicator without exchanges, for collectives that follow a
  // checkpoint() with no work in between (e.g. one fine-tuning step's gradients).
  Communicator& unchecked() { return data(); }
  // This rank failed with `error`: takes part in the exchange the others are in, then
  // throws the group's GroupFailure.
  [[noreturn]] void fail(const std::string& error);

 private:
  void exchange(const std::string& error);
  Communicator& data();
  std::unique_ptr<Communicator> agreement_;  // MPI, for the exchanges only
  std::unique_ptr<Communicator> inner_;      // the data backend (MPI or NCCL)
};

// Runs `body`; an exception other than GroupFailure becomes comm.fail(what).
template <class F>
void agree_on_failure(AgreeingCommunicator& comm, F&& body) {
  try {
    body();
  } catch (const GroupFailure&) {
    throw;
  } catch (const std::exception& e) {
    comm.fail(e.what());
  }
}

}  // namespace ep::dist
