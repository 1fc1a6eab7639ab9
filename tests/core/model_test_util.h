// Helpers for the model tests: fixture paths, reading and writing safetensors
// files as torch tensors, and a relative-closeness assertion that prints the worst
// element (index, got, expected).
#pragma once

#include <unistd.h>

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/safetensors.h"
#include "core/model/causal_lm.h"
#include "core/util/error.h"

namespace ep::model_test {

// A seeded random Llama with grouped-query attention (4 query heads sharing 2 key/value
// heads), SwiGLU and RMSNorm, in `dtype` (seed 77).
inline std::unique_ptr<CausalLM> random_llama(torch::ScalarType dtype) {
  ModelConfig c;
  c.arch = Arch::Llama;
  c.model_type = "llama";
  c.vocab_size = 512;
  c.max_positions = 32;
  c.hidden = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.rotary_dim = 16;
  c.intermediate = 96;
  c.activation = "silu";
  c.layer_norm_eps = 1e-6;
  LoadOptions opts;
  opts.dtype = dtype;
  return init_causal_lm(c, 77, opts);
}

inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(EP_TEST_DATA_DIR) / "fixtures" / name;
}

// The model tests run with 2 threads whatever the machine (set once per binary).
class TorchThreads : public ::testing::Environment {
 public:
  void SetUp() override { at::set_num_threads(2); }
};
inline ::testing::Environment* const kTorchThreads = ::testing::AddGlobalTestEnvironment(new TorchThreads);

inline torch::ScalarType to_torch(st::DType dt) {
  switch (dt) {
    case st::DType::F32: return torch::kFloat32;
    case st::DType::F16: return torch::kFloat16;
    case st::DType::BF16: return torch::kBFloat16;
    case st::DType::I64: return torch::kLong;
    case st::DType::I32: return torch::kInt;
    default: throw std::runtime_error("test helper: unsupported dtype");
  }
}

inline st::DType to_st(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return st::DType::F32;
    case torch::kFloat16: return st::DType::F16;
    case torch::kBFloat16: return st::DType::BF16;
    case torch::kLong: return st::DType::I64;
    case torch::kInt: return st::DType::I32;
    default: throw std::runtime_error("test helper: unsupported dtype");
  }
}

// All tensors of one .safetensors file, copied.
inline std::map<std::string, torch::Tensor> read_tensors(const std::filesystem::path& path) {
  auto f = st::SafetensorsFile::open(path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& name : f->names()) {
    const auto& v = f->get(name);
    out[name] = at::from_blob(const_cast<std::byte*>(v.data), v.shape, at::TensorOptions().dtype(to_torch(v.dtype)))
                    .clone();
  }
  return out;
}

inline void write_tensors(const std::filesystem::path& path, const std::map<std::string, torch::Tensor>& tensors) {
  std::vector<torch::Tensor> keep;
  std::vector<st::TensorToWrite> list;
  for (const auto& [name, t] : tensors) {
    keep.push_back(t.detach().cpu().contiguous());
    const auto& c = keep.back();
    list.push_back({name, to_st(c.scalar_type()), c.sizes().vec(), c.data_ptr(), c.nbytes()});
  }
  st::write_safetensors(path, list);
}

// A fresh directory under the system temp dir, removed when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() / ("ep_model_test_" + tag + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// max|got - expected| / max|expected| <= tol; on failure names the worst element.
inline ::testing::AssertionResult RelClose(const char* got_expr, const char* exp_expr, const char*,
                                           const torch::Tensor& got, const torch::Tensor& expected, double tol) {
  if (got.sizes() != expected.sizes())
    return ::testing::AssertionFailure() << got_expr << " has shape " << got.sizes() << ", " << exp_expr
                                         << " has " << expected.sizes();
  auto g = got.detach().cpu().to(torch::kFloat64), e = expected.detach().cpu().to(torch::kFloat64);
  auto diff = (g - e).abs();
  const int64_t worst = diff.flatten().argmax().item<int64_t>();
  const double max_abs = diff.max().item<double>(), scale = e.abs().max().item<double>();
  const double rel = max_abs / (scale > 0 ? scale : 1.0);
  std::vector<int64_t> idx(g.dim());
  for (int64_t d = g.dim() - 1, r = worst; d >= 0; --d) idx[d] = r % g.size(d), r /= g.size(d);
  std::printf("[ measure  ] %s vs %s: relative error %.3g (max abs %.3g)\n", got_expr, exp_expr, rel, max_abs);
  if (rel <= tol && !std::isnan(rel)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << got_expr << " vs " << exp_expr << ": relative error " << rel << " > "
                                       << tol << "; worst at " << at::IntArrayRef(idx) << ": got "
                                       << g.flatten()[worst].item<double>() << ", expected "
                                       << e.flatten()[worst].item<double>();
}

#define EXPECT_REL_CLOSE(got, expected, tol) EXPECT_PRED_FORMAT3(::ep::model_test::RelClose, got, expected, tol)

// EXPECT that `stmt` throws ep::Error whose message contains every one of `parts`.
#define EXPECT_EP_ERROR(stmt, ...)                                                          \
  do {                                                                                      \
    try {                                                                                   \
      stmt;                                                                                 \
      ADD_FAILURE() << #stmt " did not throw";                                              \
    } catch (const ::ep::Error& e) {                                                        \
      for (const std::string& part : std::vector<std::string>{__VA_ARGS__})                 \
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos)                      \
            << "message: " << e.what() << "\n  lacks: " << part;                            \
    }                                                                                       \
  } while (0)

}  // namespace ep::model_test
