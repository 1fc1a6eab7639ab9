// The size-1 backend: every collective is the identity. Lets single-process runs
// and tests use the same code as distributed runs.
#include <ATen/core/Tensor.h>

#include "core/util/error.h"
#include "distributed/communicator.h"

namespace ep::dist {
namespace {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string_view backend() const override { return "local"; }

  void all_reduce(const at::Tensor& t, ReduceOp) override {
    EP_CHECK(t.defined(), "local all_reduce: the tensor is undefined");
  }
  std::vector<Bytes> all_gather_bytes(const Bytes& mine) override { return {mine}; }
  void broadcast_bytes(Bytes&, int root) override { check_root(root); }

 private:
  static void check_root(int root) { EP_CHECK(root == 0, "local communicator: root {} is not rank 0", root); }
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() { return std::make_unique<LocalCommunicator>(); }

}  // namespace ep::dist
