// The MPI backend: CPU tensors through MPI_Allreduce / MPI_Bcast, byte buffers
// through MPI_Gatherv / MPI_Allgatherv.
#include <algorithm>
#include <climits>

#include <ATen/core/Tensor.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/util/error.h"
#include "distributed/check.h"
#include "distributed/communicator.h"

namespace ep::dist {
namespace {

MPI_Datatype mpi_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kInt: return MPI_INT32_T;
    case at::kLong: return MPI_INT64_T;
    default:
      EP_FAIL("MPI all_reduce: dtype {} is not supported (use float32, float64, int32 or int64; "
              "reduce fp16/bf16 values in float32)", c10::toString(t.scalar_type()));
  }
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::Sum ? MPI_SUM : MPI_MAX; }

// MPI counts are ints: big buffers go in pieces of at most this many elements.
constexpr int64_t kMaxCount = INT_MAX / 2;

int checked_count(size_t n, const char* what) {
  EP_CHECK(n <= static_cast<size_t>(INT_MAX), "{}: {} bytes is more than MPI's int count allows", what, n);
  return static_cast<int>(n);
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm) {
    EP_MPICHECK(MPI_Comm_dup(comm, &comm_));
    EP_MPICHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
    EP_MPICHECK(MPI_Comm_rank(comm_, &rank_));
    EP_MPICHECK(MPI_Comm_size(comm_, &size_));
  }

  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string_view backend() const override { return "mpi"; }

  void all_reduce(const at::Tensor& t, ReduceOp op) override {
    collective("all_reduce", t, [&](char* data, int64_t count, MPI_Datatype type, size_t elem) {
      EP_MPICHECK(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), type, mpi_op(op), comm_));
    });
  }

  std::vector<Bytes> all_gather_bytes(const Bytes& mine) override {
    std::vector<int> sizes = all_gather_sizes(mine);
    std::vector<int> offsets;
    Bytes all = receive_buffer(sizes, offsets);
    EP_MPICHECK(MPI_Allgatherv(mine.data(), checked_count(mine.size(), "all_gather_bytes"), MPI_BYTE, all.data(),
                               sizes.data(), offsets.data(), MPI_BYTE, comm_));
    return split(all, sizes, offsets);
  }

  void broadcast_bytes(Bytes& buffer, int root) override {
    check_root(root, "broadcast_bytes");
    uint64_t n = buffer.size();
    EP_MPICHECK(MPI_Bcast(&n, 1, MPI_UINT64_T, root, comm_));
    buffer.resize(n);
    EP_MPICHECK(MPI_Bcast(buffer.data(), checked_count(n, "broadcast_bytes"), MPI_BYTE, root, comm_));
  }

 private:
  // The one path every tensor collective takes: check the tensor, then run `fn`
  // on pieces of at most kMaxCount elements, naming the collective in errors.
  template <class Fn>
  void collective(const char* name, const at::Tensor& t, Fn&& fn) {
    EP_CHECK(t.defined(), "MPI {}: the tensor is undefined", name);
    EP_CHECK(t.device().is_cpu(), "MPI {}: tensor is on {}; the MPI backend takes CPU tensors (CUDA tensors go "
             "through the NCCL backend)", name, t.device().str());
    EP_CHECK(t.is_contiguous(), "MPI {}: tensor of shape {} is not contiguous; call .contiguous() first", name,
             fmt::join(t.sizes(), "x"));
    const MPI_Datatype type = mpi_type(t);
    const size_t elem = t.element_size();
    const int64_t total = t.numel();
    char* data = static_cast<char*>(t.data_ptr());
    for (int64_t start = 0; start < total; start += kMaxCount)
      fn(data + start * static_cast<int64_t>(elem), std::min(kMaxCount, total - start), type, elem);
  }

  void check_root(int root, const char* what) const {
    EP_CHECK(root >= 0 && root < size_, "MPI {}: root {} is not a rank of this group (size {})", what, root, size_);
  }

  std::vector<int> all_gather_sizes(const Bytes& mine) {
    int n = checked_count(mine.size(), "gather");
    std::vector<int> sizes(static_cast<size_t>(size_), 0);
    EP_MPICHECK(MPI_Allgather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, comm_));
    return sizes;
  }

  static Bytes receive_buffer(const std::vector<int>& sizes, std::vector<int>& offsets) {
    offsets.assign(sizes.size(), 0);
    int64_t total = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      offsets[i] = checked_count(static_cast<size_t>(total), "gather (offsets)");
      total += sizes[i];
    }
    checked_count(static_cast<size_t>(total), "gather (total)");
    return Bytes(static_cast<size_t>(total));
  }

  static std::vector<Bytes> split(const Bytes& all, const std::vector<int>& sizes, const std::vector<int>& offsets) {
    std::vector<Bytes> out;
    for (size_t i = 0; i < sizes.size(); ++i)
      out.emplace_back(all.begin() + offsets[i], all.begin() + offsets[i] + sizes[i]);
    return out;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm) { return std::make_unique<MpiCommunicator>(comm); }

}  // namespace ep::dist
