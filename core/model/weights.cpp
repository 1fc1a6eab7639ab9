// Weight sources: a checkpoint folder (validated, copied tensor by tensor from the
// memory-mapped files) and a seeded random initialisation.
#include "core/model/weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <set>

#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace ep::model {
namespace {

bool ignored(const std::string& name, const std::vector<std::string>& ignore) {
  for (const auto& suffix : ignore) {
    if (name == suffix) return true;
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        name[name.size() - suffix.size() - 1] == '.')
      return true;
  }
  return false;
}

torch::ScalarType torch_dtype(const st::TensorView& t, const std::filesystem::path& where) {
  switch (t.dtype) {
    case st::DType::F32: return torch::kFloat32;
    case st::DType::F16: return torch::kFloat16;
    case st::DType::BF16: return torch::kBFloat16;
    default:
      EP_FAIL("tensor '{}' in {} has dtype {}; expected F32, F16 or BF16", t.name, where.string(),
              st::dtype_name(t.dtype));
  }
}

// Drops the process's mapping of pages already copied, so that the resident size
// while loading stays near one copy of the checkpoint (the mapping is read-only:
// the pages come back from the file if touched again). ref: madvise(2) MADV_DONTNEED.
void release_pages(const std::byte* data, size_t nbytes) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  uintptr_t begin = reinterpret_cast<uintptr_t>(data) & ~(page - 1);
  uintptr_t end = (reinterpret_cast<uintptr_t>(data) + nbytes + page - 1) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

class CheckpointSource : public WeightSource {
 public:
  CheckpointSource(const std::filesystem::path& folder, const LoadOptions& opts)
      : folder_(folder), ckpt_(st::Checkpoint::open(folder)), opts_(opts) {}

  bool has(const std::string& name) const override { return ckpt_.contains(name); }

  torch::Tensor take(const std::string& name, const std::vector<int64_t>& shape, Init,
                     Layout layout) override {
    EP_CHECK(ckpt_.contains(name), "tensor '{}' is missing from {}; expected shape {}", name,
             folder_.string(), shape_str(shape));
    const st::TensorView& tv = ckpt_.get(name);
    EP_CHECK(tv.shape == shape, "tensor '{}' has wrong shape; expected {}, got {} (in {})", name,
             shape_str(shape), shape_str(tv.shape), folder_.string());
    EP_CHECK(taken_.insert(name).second, "tensor '{}' was asked for twice (a bug in the mapping)", name);
    // A view of the mapped bytes (never written), copied once into the parameter.
    auto src = at::from_blob(const_cast<std::byte*>(tv.data), shape,
                             at::TensorOptions().dtype(torch_dtype(tv, folder_)));
    if (layout == Layout::InOut) src = src.t();
    auto dst = at::empty(src.sizes(), at::TensorOptions().dtype(opts_.dtype).device(opts_.device));
    dst.copy_(src);
    release_pages(tv.data, tv.nbytes);
    check_finite(dst, name);
    return dst;
  }

  // A NaN or inf weight poisons every score; say where it is now rather than let it
  // surface as NaN losses later. Also catches values beyond the range of a 16-bit dtype.
  void check_finite(const torch::Tensor& t, const std::string& name) const {
    const torch::Tensor bad = t.isfinite().logical_not().flatten();
    const int64_t n_bad = bad.sum().item<int64_t>();
    if (n_bad == 0) return;
    const int64_t first = bad.nonzero().flatten()[0].item<int64_t>();
    EP_FAIL("tensor '{}' in {} holds {} non-finite value(s) (NaN or inf), the first at flat index {} ({} after "
            "conversion to {}); expected finite weights: a corrupted checkpoint, or values too large for that dtype",
            name, folder_.string(), n_bad, first, t.flatten()[first].item<double>(), c10::toString(t.scalar_type()));
  }

  void finish(const std::string& arch, const std::vector<std::string>& ignore) override {
    for (const auto& name : ckpt_.names()) {
      EP_CHECK(taken_.count(name) || ignored(name, ignore),
               "tensor '{}' in {} is not used by a {} model and is not on its ignore list "
               "(a checkpoint of another architecture or size?)",
               name, folder_.string(), arch);
    }
  }

 private:
  std::filesystem::path folder_;
  st::Checkpoint ckpt_;
  LoadOptions opts_;
  std::set<std::string> taken_;
};

class RandomSource : public WeightSource {
 public:
  RandomSource(uint64_t seed, const LoadOptions& opts) : gen_(at::detail::createCPUGenerator(seed)), opts_(opts) {}

  bool has(const std::string&) const override { return false; }

  torch::Tensor take(const std::string&, const std::vector<int64_t>& shape, Init init, Layout layout) override {
    std::vector<int64_t> s = shape;
    if (layout == Layout::InOut) std::swap(s[0], s[1]);
    // Drawn in float32 on the CPU: the same seed gives the same model whatever the device.
    auto t = at::empty(s, at::TensorOptions().dtype(torch::kFloat32));
    switch (init) {
      case Init::Normal: t.normal_(0.0, 0.02, gen_); break;
      case Init::Ones: t.fill_(1.0); break;
      case Init::Zeros: t.zero_(); break;
    }
    return t.to(at::TensorOptions().dtype(opts_.dtype).device(opts_.device));
  }

  void finish(const std::string&, const std::vector<std::string>&) override {}

 private:
  at::Generator gen_;
  LoadOptions opts_;
};

}  // namespace

std::unique_ptr<WeightSource> checkpoint_source(const std::filesystem::path& folder, const LoadOptions& opts) {
  return std::make_unique<CheckpointSource>(folder, opts);
}

std::unique_ptr<WeightSource> random_source(uint64_t seed, const LoadOptions& opts) {
  return std::make_unique<RandomSource>(seed, opts);
}

Norm take_norm(WeightSource& src, const std::string& prefix, int64_t dim) {
  return {src.take(prefix + "weight", {dim}, Init::Ones), src.take(prefix + "bias", {dim}, Init::Zeros)};
}

Linear take_linear(WeightSource& src, const std::string& prefix, int64_t out, int64_t in, Layout layout,
                   bool bias) {
  std::vector<int64_t> shape = layout == Layout::OutIn ? std::vector<int64_t>{out, in} : std::vector<int64_t>{in, out};
  Linear lin;
  lin.w = src.take(prefix + "weight", shape, Init::Normal, layout);
  if (bias) lin.b = src.take(prefix + "bias", {out}, Init::Zeros);
  return lin;
}

}  // namespace ep::model
