// `eprunner logits --model DIR --input IN.safetensors --output OUT.safetensors
//                  [--targets] [--capture M] [--dtype fp32|bf16|fp16] [--device cpu|cuda] [--threads N]`
// Runs a checkpoint on token ids from a safetensors file and writes what it computed:
//   in:  input_ids [B, T] int64; optional attention_mask [B, T], position_ids [B, T],
//        and with --targets, targets [B]
//   out: logits [B, T, V] float32; with --targets also loss [1] (sum over the batch of
//        last-position cross-entropy) and, for each layer l of matrix kind M (default k),
//        capture.M.in.{l} [B, T, in] (the matrix's input) and capture.M.grad.{l}
//        [B, T, out] (d loss / d its output; before rotary for q and k).
// Users check a model against another implementation with it; tests/cli/logits.sh does.
#ifdef EPRUNNER_WITH_MODELS  // the torch-free build (-DEPRUNNER_WITH_TORCH=OFF) has no models

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/io/safetensors.h"
#include "core/model/causal_lm.h"
#include "core/util/error.h"
#include "runner/commands.h"

namespace ep::cli {
namespace {

struct LogitsArgs {
  std::string model, input, output, capture = "k", dtype = "fp32", device = "cpu";
  bool targets = false;
  int threads = 0;
};

// An integer tensor of the input file, copied; undefined if absent and optional.
torch::Tensor read_ids(const st::SafetensorsFile& f, const std::string& name, bool required) {
  if (!f.contains(name)) {
    EP_CHECK(!required, "{}: tensor '{}' is missing", f.path().string(), name);
    return {};
  }
  const st::TensorView& v = f.get(name);
  torch::ScalarType t = v.dtype == st::DType::I64 ? torch::kLong : torch::kInt;
  EP_CHECK(v.dtype == st::DType::I64 || v.dtype == st::DType::I32, "{}: tensor '{}' has dtype {}; expected I64 or I32",
           f.path().string(), name, st::dtype_name(v.dtype));
  return at::from_blob(const_cast<std::byte*>(v.data), v.shape, at::TensorOptions().dtype(t)).to(torch::kLong, false, true);
}

// Output tensors as float32 (or as they are), kept alive until written.
class Outputs {
 public:
  void add(const std::string& name, const torch::Tensor& t) {
    keep_.push_back(t.detach().to(torch::kCPU).contiguous());
    names_.push_back(name);
  }
  void write(const std::string& path) const {
    std::vector<st::TensorToWrite> list;
    for (size_t i = 0; i < keep_.size(); ++i) {
      const auto& t = keep_[i];
      EP_CHECK(t.scalar_type() == torch::kFloat32, "internal: output {} is not float32", names_[i]);
      list.push_back({names_[i], st::DType::F32, t.sizes().vec(), t.data_ptr(), t.nbytes()});
    }
    st::write_safetensors(path, list);
  }

 private:
  std::vector<torch::Tensor> keep_;
  std::vector<std::string> names_;
};

void run_logits(const LogitsArgs& a) {
  // Explicit: torch would otherwise pick its own count (physical cores).
  at::set_num_threads(a.threads > 0 ? a.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  LoadOptions opts;
  opts.dtype = scalar_type(parse_name<ComputeDtype>(a.dtype, "--dtype"));
  opts.device = torch::Device(device_type(parse_name<DeviceKind>(a.device, "--device")));
  const MatrixKind kind = parse_name<MatrixKind>(a.capture, "--capture matrix");

  auto in = st::SafetensorsFile::open(a.input);
  Batch batch{read_ids(*in, "input_ids", true), read_ids(*in, "attention_mask", false),
              read_ids(*in, "position_ids", false)};
  auto model = load_causal_lm(a.model, opts);
  Outputs out;
  if (!a.targets) {
    at::NoGradGuard no_grad;
    out.add("logits", model->forward(batch, LogitsScope::All));
    out.write(a.output);
    return;
  }
  Taps taps;
  taps.at = model->matrices(kind);
  taps.want_grad = true;
  auto logits = model->forward(batch, LogitsScope::All, &taps);  // [B, T, V]
  auto loss = last_token_loss_sum(logits.select(1, -1), read_ids(*in, "targets", true));
  auto grads = torch::autograd::grad({loss}, taps.probes);
  out.add("logits", logits);
  out.add("loss", loss.reshape({1}));
  for (size_t l = 0; l < taps.at.size(); ++l) {
    out.add(fmt::format("capture.{}.in.{}", a.capture, l), taps.inputs[l].to(torch::kFloat32));
    out.add(fmt::format("capture.{}.grad.{}", a.capture, l), grads[l].to(torch::kFloat32));
  }
  out.write(a.output);
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("logits", "Logits (and with --targets: loss, captured inputs and gradients) "
                                           "of a checkpoint on token ids from a safetensors file");
  auto a = std::make_shared<LogitsArgs>();
  cmd->add_option("--model", a->model, "HF checkpoint folder (config.json + *.safetensors) or a GGUF file")->required();
  cmd->add_option("--input", a->input, "safetensors with input_ids [B, T] (+ attention_mask, position_ids, targets)")
      ->required();
  cmd->add_option("--output", a->output, "safetensors to write: logits [B, T, V] float32, ...")->required();
  cmd->add_flag("--targets", a->targets, "read targets [B]; also write loss and captures of --capture");
  cmd->add_option("--capture", a->capture, "matrix kind to capture with --targets: q, k, v, o, mlp_in, mlp_out")
      ->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "model dtype: fp32, bf16 or fp16")->capture_default_str();
  cmd->add_option("--device", a->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads for torch (0 = one per hardware thread)")->capture_default_str();
  cmd->callback([a] { run_logits(*a); });
}

}  // namespace ep::cli

#endif  // EPRUNNER_WITH_MODELS
