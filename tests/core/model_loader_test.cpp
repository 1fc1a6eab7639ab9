// Bad checkpoints and bad input give an ep::Error that names the tensor or field:
// modified copies of the fixture checkpoints are written to a temp dir.
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "tests/core/model_test_util.h"

namespace ep {
namespace {

namespace fs = std::filesystem;
using model_test::fixture;
using Tensors = std::map<std::string, torch::Tensor>;

// Copies fixture `name` (config.json + all its tensors, as one model.safetensors)
// into `dir`, with `edit` applied to the tensors and `edit_config` to config.json.
void write_variant(const fs::path& dir, const std::string& name, const std::function<void(Tensors&)>& edit,
                   const std::function<void(std::string&)>& edit_config = {}) {
  std::ifstream in(fixture(name) / "config.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  if (edit_config) edit_config(config);
  std::ofstream(dir / "config.json") << config;
  Tensors t = model_test::read_tensors(fixture(name) / "model.safetensors");
  edit(t);
  model_test::write_tensors(dir / "model.safetensors", t);
}

std::unique_ptr<CausalLM> load(const fs::path& dir) { return load_causal_lm(dir, LoadOptions{}); }

torch::Tensor logits(CausalLM& m, const torch::Tensor& ids) {
  at::NoGradGuard no_grad;
  return m.forward({ids, {}, {}}, LogitsScope::All);
}

TEST(Loader, MissingTensorIsNamed) {
  model_test::TempDir dir("missing");
  write_variant(dir.path(), "tiny-gpt2", [](Tensors& t) { t.erase("transformer.h.1.ln_2.bias"); });
  EXPECT_EP_ERROR(load(dir.path()), "tensor 'transformer.h.1.ln_2.bias' is missing", "expected shape [64]");
  write_variant(dir.path(), "tiny-phi", [](Tensors& t) { t.erase("lm_head.bias"); });
  EXPECT_EP_ERROR(load(dir.path()), "tensor 'lm_head.bias' is missing");
}

TEST(Loader, ExtraTensorIsNamed) {
  model_test::TempDir dir("extra");
  write_variant(dir.path(), "tiny-gpt2", [](Tensors& t) { t["transformer.h.0.attn.extra.weight"] = at::zeros({2}); });
  EXPECT_EP_ERROR(load(dir.path()), "tensor 'transformer.h.0.attn.extra.weight'", "not used by a gpt2 model",
                  "ignore list");
  write_variant(dir.path(), "tiny-phi", [](Tensors& t) { t["model.layers.2.mlp.fc1.weight"] = at::zeros({2}); });
  EXPECT_EP_ERROR(load(dir.path()), "tensor 'model.layers.2.mlp.fc1.weight'", "not used by a phi model");
}

TEST(Loader, IgnoredBuffersAreAccepted) {
  model_test::TempDir dir("ignored");
  write_variant(dir.path(), "tiny-gpt2", [](Tensors& t) {
    t["transformer.h.0.attn.bias"] = at::ones({1, 1, 64, 64}).tril();
    t["transformer.h.1.attn.masked_bias"] = at::full({}, -1e4);
    t["lm_head.weight"] = t["transformer.wte.weight"];
  });
  auto ids = model_test::read_tensors(fixture("tiny-gpt2") / "reference.safetensors")["input_ids"];
  EXPECT_TRUE(logits(*load(dir.path()), ids).equal(logits(*load(fixture("tiny-gpt2")), ids)));
}

TEST(Loader, WrongShapeIsNamed) {
  model_test::TempDir dir("shape");
  write_variant(dir.path(), "tiny-gpt2", [](Tensors& t) {
    auto& w = t["transformer.h.0.attn.c_attn.weight"];
    w = w.narrow(1, 0, 190);
  });
  EXPECT_EP_ERROR(load(dir.path()),
                  "tensor 'transformer.h.0.attn.c_attn.weight' has wrong shape; expected [64, 192], got [64, 190]");
  write_variant(dir.path(), "tiny-phi", [](Tensors& t) {
    auto& w = t["model.layers.1.mlp.fc2.weight"];
    w = w.t().contiguous();
  });
  EXPECT_EP_ERROR(load(dir.path()),
                  "tensor 'model.layers.1.mlp.fc2.weight' has wrong shape; expected [64, 256], got [256, 64]");
}

TEST(Loader, NonFloatTensorIsNamed) {
  model_test::TempDir dir("dtype");
  write_variant(dir.path(), "tiny-gpt2", [](Tensors& t) {
    t["transformer.ln_f.bias"] = t["transformer.ln_f.bias"].to(torch::kLong);
  });
  EXPECT_EP_ERROR(load(dir.path()), "tensor 'transformer.ln_f.bias'", "dtype I64", "expected F32, F16 or BF16");
}

TEST(Loader, NonFiniteWeightIsNamed) {
  model_test::TempDir dir("nan");
  write_variant(dir.path(), "tiny-gpt2", [](Tensors& t) {
    t["transformer.h.1.mlp.c_fc.weight"].view({-1})[5] = std::numeric_limits<float>::quiet_NaN();
  });
  EXPECT_EP_ERROR(load(dir.path()), "tensor 'transformer.h.1.mlp.c_fc.weight'", "1 non-finite value(s)");
  // 1e6 fits float32 but not float16 (max 65504): the conversion at load makes it inf.
  write_variant(dir.path(), "tiny-phi", [](Tensors& t) { t["lm_head.bias"].view({-1})[3] = 1e6f; });
  EXPECT_NO_THROW(load(dir.path()));
  LoadOptions half;
  half.dtype = torch::kHalf;
  EXPECT_EP_ERROR(load_causal_lm(dir.path(), half), "tensor 'lm_head.bias'", "flat index 3");
}

TEST(Loader, MissingFolderIsNamed) {
  EXPECT_EP_ERROR(load("/nonexistent/model-folder"), "checkpoint folder /nonexistent/model-folder does not exist");
}

// GPT2Model checkpoints (and the original "gpt2" upload) have no "transformer." prefix.
TEST(Loader, Gpt2NamesWithoutPrefixLoad) {
  model_test::TempDir dir("prefix");
  write_variant(dir.path(), "tiny-gpt2", [](Tensors& t) {
    Tensors renamed;
    for (auto& [n, v] : t) renamed[n.substr(std::string("transformer.").size())] = v;
    t = renamed;
  });
  auto ids = model_test::read_tensors(fixture("tiny-gpt2") / "reference.safetensors")["input_ids"];
  EXPECT_TRUE(logits(*load(dir.path()), ids).equal(logits(*load(fixture("tiny-gpt2")), ids)));
}

TEST(Loader, UnknownModelTypeIsRejected) {
  model_test::TempDir dir("model_type");
  write_variant(
      dir.path(), "tiny-gpt2", [](Tensors&) {},
      [](std::string& c) { c.replace(c.find("\"gpt2\""), 6, "\"gemma\""); });
  EXPECT_EP_ERROR(load(dir.path()), "model_type", "gemma");
}

TEST(Forward, IdsOutOfVocabularyAreNamed) {
  auto model = load(fixture("tiny-gpt2"));
  auto ids = at::zeros({2, 4}, torch::kLong);
  ids[1][2] = 512;
  EXPECT_EP_ERROR(logits(*model, ids), "input_ids holds 512 at [1, 2]", "[0, 512)", "vocab_size");
  ids[1][2] = -3;
  EXPECT_EP_ERROR(logits(*model, ids), "input_ids holds -3 at [1, 2]");
  EXPECT_EP_ERROR(logits(*model, ids.to(torch::kFloat32)), "input_ids must hold integers");
}

TEST(Forward, TooLongSequenceIsRejected) {
  for (const char* name : {"tiny-gpt2", "tiny-phi"}) {
    auto model = load(fixture(name));
    EXPECT_EP_ERROR(logits(*model, at::zeros({1, 65}, torch::kLong)), "input_ids has 65 positions", "at most 64");
    auto ids = at::zeros({1, 3}, torch::kLong);
    auto pos = at::tensor(std::vector<int64_t>{0, 1, 64}).view({1, 3});
    at::NoGradGuard no_grad;
    EXPECT_EP_ERROR(model->forward({ids, {}, pos}, LogitsScope::All), "position_ids holds 64 at [0, 2]");
  }
}

TEST(Forward, MisShapedMaskIsNamed) {
  auto model = load(fixture("tiny-phi"));
  auto ids = at::zeros({2, 4}, torch::kLong);
  at::NoGradGuard no_grad;
  EXPECT_EP_ERROR(model->forward({ids, at::ones({2, 5}, torch::kLong), {}}, LogitsScope::All),
                  "attention_mask must be [B, T] = [2, 4]; got [2, 5]");
  EXPECT_EP_ERROR(model->forward({ids.view({8}), {}, {}}, LogitsScope::All), "input_ids must be [B, T]; got [8]");
}

TEST(Loss, TargetsOutOfVocabularyAreNamed) {
  auto logits = at::zeros({2, 10});
  EXPECT_NEAR(last_token_loss_sum(logits, at::tensor(std::vector<int64_t>{1, 9})).item<double>(), 2 * std::log(10.0),
              1e-5);
  EXPECT_EP_ERROR(last_token_loss_sum(logits, at::tensor(std::vector<int64_t>{1, 10})), "targets", "[0, 10)");
}

TEST(MatrixKind, NamesRoundTrip) {
  for (const char* n : {"q", "k", "v", "o", "mlp_in", "mlp_out"}) EXPECT_EQ(name_of(parse_name<MatrixKind>(n, "matrix")), n);
  EXPECT_EP_ERROR(parse_name<MatrixKind>("key", "matrix"), "unknown matrix 'key'", "mlp_out");
}

}  // namespace
}  // namespace ep
