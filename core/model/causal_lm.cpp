// The architecture-neutral parts of CausalLM: matrix names, loading dispatch, the
// loss, and TransformerLM (batch checks, the forward skeleton, the matrix interface).
#include <fmt/format.h>

#include "core/io/gguf.h"
#include "core/io/gguf_config.h"
#include "core/model/blocks.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/util/error.h"

namespace ep {

torch::ScalarType scalar_type(ComputeDtype dtype) {
  switch (dtype) {
    case ComputeDtype::F32: return torch::kFloat32;
    case ComputeDtype::BF16: return torch::kBFloat16;
    case ComputeDtype::F16: return torch::kFloat16;
  }
  EP_FAIL("internal: unknown compute dtype {}", static_cast<int>(dtype));
}

torch::DeviceType device_type(DeviceKind kind) { return kind == DeviceKind::Cuda ? torch::kCUDA : torch::kCPU; }

std::string MatrixRef::name() const { return fmt::format("{}.{}", name_of(kind), layer); }

namespace {

void check_options(const LoadOptions& opts) {
  EP_CHECK(opts.dtype == torch::kFloat32 || opts.dtype == torch::kBFloat16 || opts.dtype == torch::kFloat16 ||
               opts.dtype == torch::kFloat64,
           "model dtype must be float32, bfloat16, float16 or float64; got {}", c10::toString(opts.dtype));
}

std::unique_ptr<CausalLM> build(const ModelConfig& cfg, model::WeightSource& src, const LoadOptions& opts) {
  check_options(opts);
  switch (cfg.arch) {
    case Arch::GPT2: return model::make_gpt2(cfg, src, opts);
    case Arch::Phi: return model::make_phi(cfg, src, opts);
    case Arch::Llama: return model::make_llama(cfg, src, opts);
  }
  EP_FAIL("config model_type '{}' is not supported; expected gpt2, phi or llama", cfg.model_type);
}

}  // namespace

std::unique_ptr<CausalLM> load_causal_lm(const std::filesystem::path& folder, const LoadOptions& opts) {
  if (folder.extension() == ".gguf" && std::filesystem::is_regular_file(folder)) {
    check_options(opts);
    std::shared_ptr<const gguf::GgufFile> file = gguf::GgufFile::open(folder);
    ModelConfig cfg = gguf_model_config(*file);
    auto src = model::gguf_source(file, cfg, opts);
    return build(cfg, *src, opts);
  }
  EP_CHECK(std::filesystem::is_directory(folder),
           "checkpoint folder {} does not exist (expected an HF model folder: config.json + *.safetensors, or "
           "a .gguf file)", folder.string());
  ModelConfig cfg = load_hf_config(folder);
  check_options(opts);
  auto src = model::checkpoint_source(folder, opts);
  return build(cfg, *src, opts);
}

std::unique_ptr<CausalLM> init_causal_lm(const ModelConfig& config, uint64_t seed, const LoadOptions& opts) {
  auto src = model::random_source(seed, opts);
  return build(config, *src, opts);
}

torch::Tensor answer_token_nll(const torch::Tensor& tail_logits, const torch::Tensor& targets) {
  EP_CHECK(tail_logits.dim() == 3, "answer logits must be [B, K, V]; got {} dims", tail_logits.dim());
  const int64_t B = tail_logits.size(0), K = tail_logits.size(1), V = tail_logits.size(2);
  EP_CHECK(targets.dim() == 2 && targets.size(0) == B && targets.size(1) == K, "answer targets must be [B, K] = [{}, {}]; got {}",
           B, K, model::shape_str(targets.sizes()));
  auto t = targets.to(tail_logits.device(), torch::kLong);
  auto used = t.ne(kNoTarget);  // [B, K]
  if (t.numel() > 0) {
    const int64_t lo = t.masked_fill(~used, 0).min().item<int64_t>(), hi = t.max().item<int64_t>();
    EP_CHECK(lo >= 0 && hi < V, "answer targets must be token ids in [0, {}) or {} (no token); got values in [{}, {}]", V,
             kNoTarget, t.min().item<int64_t>(), hi);
    EP_CHECK(used.any(1).all().item<bool>(), "an example has no answer token (a row of answer targets is all {})",
             kNoTarget);
  }
  auto logp = at::log_softmax(tail_logits.to(at::promote_types(tail_logits.scalar_type(), torch::kFloat32)), -1);
  auto picked = logp.gather(2, t.clamp_min(0).unsqueeze(2)).squeeze(2);  // [B, K]
  return picked.masked_fill(~used, 0).sum(1).neg();                     // [B]
}

torch::Tensor last_token_loss_sum(const torch::Tensor& last_logits, const torch::Tensor& targets) {
  EP_CHECK(last_logits.dim() == 2, "last-position logits must be [B, V]; got {} dims", last_logits.dim());
  const int64_t B = last_logits.size(0), V = last_logits.size(1);
  EP_CHECK(targets.dim() == 1 && targets.size(0) == B, "targets must be [B] = [{}]; got {}", B,
           model::shape_str(targets.sizes()));
  auto t = targets.to(last_logits.device(), torch::kLong);
  if (B > 0) {
    const int64_t lo = t.min().item<int64_t>(), hi = t.max().item<int64_t>();
    EP_CHECK(lo >= 0 && hi < V, "targets must be token ids in [0, {}); got values in [{}, {}]", V, lo, hi);
  }
  auto logp = at::log_softmax(last_logits.to(at::promote_types(last_logits.scalar_type(), torch::kFloat32)), -1);  // [B, V]
  return logp.gather(1, t.unsqueeze(1)).sum().neg();                 // scalar
}

}  // namespace ep

namespace ep::model {

std::string shape_str(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

TransformerLM::TransformerLM(ModelConfig cfg, Weights w, const LoadOptions& opts)
    : cfg_(std::move(cfg)), w_(std::move(w)), device_(opts.device), dtype_(opts.dtype) {}

namespace {

// The first (b, t) where `bad` [B, T] is true, as "[b, t]".
std::string first_index(const torch::Tensor& bad) {
  auto idx = bad.nonzero().select(0, 0).cpu();  // [2]
  return fmt::format("[{}, {}]", idx[0].item<int64_t>(), idx[1].item<int64_t>());
}

// Checks a [B, T] integer tensor named `what` and returns it as int64.
torch::Tensor check_bt(const torch::Tensor& t, const char* what, int64_t B, int64_t T) {
  EP_CHECK(t.dim() == 2 && t.size(0) == B && t.size(1) == T, "{} must be [B, T] = [{}, {}]; got {}", what, B, T,
           shape_str(t.sizes()));
  EP_CHECK(!c10::isFloatingType(t.scalar_type()) && t.scalar_type() != torch::kBool,
           "{} must hold integers; got {}", what, c10::toString(t.scalar_type()));
  return t.to(torch::kLong);
}

// Values of `t` [B, T] must lie in [0, limit).
void check_range(const torch::Tensor& t, int64_t limit, const char* what, const char* limit_name) {
  auto bad = t.lt(0).logical_or(t.ge(limit));
  if (!bad.any().item<bool>()) return;
  const std::string at_idx = first_index(bad);
  const int64_t value = t.masked_select(bad).select(0, 0).item<int64_t>();
  EP_FAIL("{} holds {} at {}; expected values in [0, {}) ({})", what, value, at_idx, limit, limit_name);
}

}  // namespace

Step TransformerLM::prepare(const Batch& batch, LogitsScope scope, Taps* taps) const {
  EP_CHECK(batch.input_ids.defined() && batch.input_ids.dim() == 2, "input_ids must be [B, T]; got {}",
           batch.input_ids.defined() ? shape_str(batch.input_ids.sizes()) : std::string("nothing"));
  Step s;
  s.B = batch.input_ids.size(0);
  s.T = batch.input_ids.size(1);
  EP_CHECK(s.B > 0 && s.T > 0, "input_ids must not be empty; got [{}, {}]", s.B, s.T);
  EP_CHECK(s.T <= cfg_.max_positions,
           "input_ids has {} positions; the model takes at most {} (config n_positions / max_position_embeddings)",
           s.T, cfg_.max_positions);
  EP_CHECK(cfg_.sliding_window == 0 || s.T <= cfg_.sliding_window,
           "input_ids has {} positions, more than the model's sliding attention window of {} (config "
           "sliding_window); eprunner runs full attention, which equals the window only up to its length",
           s.T, cfg_.sliding_window);
  auto ids = check_bt(batch.input_ids, "input_ids", s.B, s.T);
  check_range(ids, cfg_.vocab_size, "input_ids", "the vocabulary size, config vocab_size");

  auto mask = batch.attention_mask.defined() ? check_bt(batch.attention_mask, "attention_mask", s.B, s.T)
                                             : at::ones({s.B, s.T}, ids.options());
  mask = mask.ne(0).to(torch::kLong);
  EP_CHECK(scope.tail >= 0 && scope.tail <= s.T && (!scope.squeeze || scope.tail == 1),
           "logits of the last {} positions asked of a batch of {} positions", scope.tail, s.T);
  if (scope.tail > 0 && batch.attention_mask.defined()) {
    auto last_pad = mask.select(1, s.T - 1).eq(0);
    EP_CHECK(!last_pad.any().item<bool>(),
             "attention_mask has a pad at the last position of row {}; batches are left padded (the last "
             "position must be a real token)", last_pad.nonzero().select(0, 0).item<int64_t>());
  }
  auto pos = batch.position_ids.defined() ? check_bt(batch.position_ids, "position_ids", s.B, s.T)
                                          : (mask.cumsum(-1) - 1).clamp_min(0);
  check_range(pos, cfg_.max_positions, "position_ids", "the number of positions, config max_positions");

  s.position_ids = pos.to(device_);
  s.allowed = attention_allowed(mask.to(device_));
  if (taps) {
    EP_CHECK(!taps->want_grad || at::GradMode::is_enabled(),
             "Taps.want_grad needs autograd: forward was called under NoGradGuard or InferenceMode");
    s.taps = taps;
    taps->inputs.assign(taps->at.size(), torch::Tensor());
    taps->probes.assign(taps->at.size(), torch::Tensor());
    s.tap_index.assign(static_cast<size_t>(cfg_.n_layers) * kMatrixKinds, -1);
    for (size_t i = 0; i < taps->at.size(); ++i) {
      check_ref(taps->at[i]);
      int& slot = s.tap_index[taps->at[i].layer * kMatrixKinds + kind_index(taps->at[i].kind)];
      EP_CHECK(slot < 0, "matrix {} is tapped twice", taps->at[i].name());
      slot = static_cast<int>(i);
    }
  }
  return s;
}

torch::Tensor TransformerLM::forward(const Batch& batch, LogitsScope scope, Taps* taps) {
  Step s = prepare(batch, scope, taps);
  auto h = embed(batch.input_ids.to(device_, torch::kLong), s);  // [B, T, D]
  for (int64_t l = 0; l < cfg_.n_layers; ++l) h = layer(l, h, s);
  // The final norm and the lm_head run on the positions asked for only.
  if (scope.squeeze) h = h.select(1, s.T - 1);                         // [B, D]
  else if (scope.tail > 0) h = h.narrow(1, s.T - scope.tail, scope.tail);  // [B, k, D]
  h = apply_norm(h, w_.ln_f, cfg_.layer_norm_eps);
  return at::linear(h, w_.lm_head.w, w_.lm_head.b).to(at::promote_types(dtype_, torch::kFloat32));  // [B, T, V] or [B, V]
}

MatrixRef TransformerLM::ref(MatrixKind kind, int64_t layer) const {
  const int64_t D = cfg_.hidden, I = cfg_.intermediate, H = cfg_.n_heads, Hkv = cfg_.kv_heads(), Dh = cfg_.head_dim;
  switch (kind) {
    case MatrixKind::Q: return {kind, layer, H * Dh, D, H, Dh, HeadAxis::Rows};
    // Grouped-query attention: k and v have one block of rows per key/value head.
    case MatrixKind::K:
    case MatrixKind::V: return {kind, layer, Hkv * Dh, D, Hkv, Dh, HeadAxis::Rows};
    case MatrixKind::O: return {kind, layer, D, H * Dh, H, Dh, HeadAxis::Columns};
    case MatrixKind::MlpIn: return {kind, layer, I, D, 1, I, HeadAxis::None};
    case MatrixKind::MlpOut: return {kind, layer, D, I, 1, D, HeadAxis::None};
  }
  throw std::logic_error("bad MatrixKind");
}

void TransformerLM::check_ref(const MatrixRef& m) const {
  EP_CHECK(m.layer >= 0 && m.layer < cfg_.n_layers, "matrix {}: layer {} out of range; the model has {} layers",
           m.name(), m.layer, cfg_.n_layers);
  const MatrixRef r = ref(m.kind, m.layer);
  EP_CHECK(m.out_features == r.out_features && m.in_features == r.in_features,
           "matrix {} is [{}, {}] in this model; the reference says [{}, {}] (from another model?)", m.name(),
           r.out_features, r.in_features, m.out_features, m.in_features);
}

std::vector<MatrixRef> TransformerLM::matrices(MatrixKind kind) const {
  std::vector<MatrixRef> out;
  for (int64_t l = 0; l < cfg_.n_layers; ++l) out.push_back(ref(kind, l));
  return out;
}

std::pair<torch::Tensor, torch::Tensor> TransformerLM::storage(const MatrixRef& m) const {
  check_ref(m);
  const Layer& L = w_.layers[m.layer];
  const Linear* lin = nullptr;
  switch (m.kind) {
    case MatrixKind::Q:
    case MatrixKind::K:
    case MatrixKind::V: {
      // q|k|v row blocks of qkv: q [0, Dq), k [Dq, Dq + Dkv), v [Dq + Dkv, Dq + 2 Dkv).
      const int64_t q_rows = cfg_.n_heads * cfg_.head_dim, kv_rows = cfg_.kv_heads() * cfg_.head_dim;
      const int64_t row = m.kind == MatrixKind::Q ? 0 : m.kind == MatrixKind::K ? q_rows : q_rows + kv_rows;
      const int64_t rows = m.kind == MatrixKind::Q ? q_rows : kv_rows;
      return {L.qkv.w.narrow(0, row, rows), L.qkv.b.defined() ? L.qkv.b.narrow(0, row, rows) : torch::Tensor()};
    }
    case MatrixKind::O: lin = &L.o; break;
    case MatrixKind::MlpIn: lin = &L.mlp_in; break;
    case MatrixKind::MlpOut: lin = &L.mlp_out; break;
  }
  return {lin->w, lin->b};
}

torch::Tensor TransformerLM::weight(const MatrixRef& m) const {
  return storage(m).first.detach().to(at::promote_types(dtype_, torch::kFloat32), false, /*copy=*/true).contiguous();  // [out, in]
}

torch::Tensor TransformerLM::bias(const MatrixRef& m) const {
  auto b = storage(m).second;
  const auto f32_or_wider = at::promote_types(dtype_, torch::kFloat32);
  if (!b.defined()) return at::zeros({m.out_features}, at::TensorOptions().dtype(f32_or_wider).device(device_));
  return b.detach().to(f32_or_wider, false, /*copy=*/true);  // [out]
}

InputNorm TransformerLM::input_norm(const MatrixRef& m) const {
  check_ref(m);
  const Layer& L = w_.layers[m.layer];
  const Norm* n = nullptr;
  switch (m.kind) {
    case MatrixKind::Q: case MatrixKind::K: case MatrixKind::V: n = &L.ln1; break;
    case MatrixKind::MlpIn: n = L.ln2.w.defined() ? &L.ln2 : &L.ln1; break;  // Phi: one norm feeds both
    default: return {};
  }
  const auto f32_or_wider = at::promote_types(dtype_, torch::kFloat32);
  InputNorm out;
  out.weight = n->w.detach().to(f32_or_wider, false, /*copy=*/true);  // [in]
  if (n->b.defined()) out.bias = n->b.detach().to(f32_or_wider, false, /*copy=*/true);
  out.rms = n->rms;
  out.eps = cfg_.layer_norm_eps;
  return out;
}

void TransformerLM::set_weight(const MatrixRef& m, const torch::Tensor& a) {
  auto dst = storage(m).first;
  EP_CHECK(a.defined() && a.dim() == 2 && a.size(0) == m.out_features && a.size(1) == m.in_features,
           "set_weight({}): A must be [{}, {}]; got {}", m.name(), m.out_features, m.in_features,
           a.defined() ? shape_str(a.sizes()) : std::string("nothing"));
  EP_CHECK(c10::isFloatingType(a.scalar_type()), "set_weight({}): A must be floating point; got {}", m.name(),
           c10::toString(a.scalar_type()));
  at::NoGradGuard no_grad;
  dst.copy_(a);
}

void TransformerLM::set_position_bias(const MatrixRef& m, const torch::Tensor& table,
                                      const torch::Tensor& fallback) {
  check_ref(m);
  PosBias& pb = w_.layers[m.layer].pos_bias[kind_index(m.kind)];
  if (!table.defined()) {
    pb = PosBias{};
    return;
  }
  EP_CHECK(table.dim() == 2 && table.size(1) == m.out_features && table.size(0) > 0,
           "position bias of {}: table must be [P, {}]; got {}", m.name(), m.out_features, shape_str(table.sizes()));
  EP_CHECK(fallback.defined() && fallback.dim() == 1 && fallback.size(0) == m.out_features,
           "position bias of {}: fallback must be [{}]; got {}", m.name(), m.out_features,
           fallback.defined() ? shape_str(fallback.sizes()) : std::string("nothing"));
  auto opts = at::TensorOptions().dtype(dtype_).device(device_);
  pb.table = table.detach().to(opts, false, /*copy=*/true);
  pb.fallback = fallback.detach().to(opts, false, /*copy=*/true);
}

std::vector<std::pair<std::string, torch::Tensor>> TransformerLM::named_parameters() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    if (t.defined()) out.emplace_back(name, t);
  };
  add("wte", w_.wte);
  add("wpe", w_.wpe);
  for (size_t l = 0; l < w_.layers.size(); ++l) {
    const Layer& L = w_.layers[l];
    const std::string p = fmt::format("layers.{}.", l);
    add(p + "ln1.weight", L.ln1.w), add(p + "ln1.bias", L.ln1.b);
    add(p + "ln2.weight", L.ln2.w), add(p + "ln2.bias", L.ln2.b);
    add(p + "qkv.weight", L.qkv.w), add(p + "qkv.bias", L.qkv.b);
    add(p + "o.weight", L.o.w), add(p + "o.bias", L.o.b);
    add(p + "mlp_in.weight", L.mlp_in.w), add(p + "mlp_in.bias", L.mlp_in.b);
    add(p + "mlp_gate.weight", L.mlp_gate.w), add(p + "mlp_gate.bias", L.mlp_gate.b);
    add(p + "mlp_out.weight", L.mlp_out.w), add(p + "mlp_out.bias", L.mlp_out.b);
  }
  add("ln_f.weight", w_.ln_f.w);
  add("ln_f.bias", w_.ln_f.b);
  if (!w_.lm_head.w.is_same(w_.wte)) add("lm_head.weight", w_.lm_head.w);  // absent when tied
  add("lm_head.bias", w_.lm_head.b);
  return out;
}

}  // namespace ep::model
