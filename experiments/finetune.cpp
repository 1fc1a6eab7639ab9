#include "experiments/finetune.h"

#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/prune/batching.h"
#include "core/util/error.h"
#include "experiments/seeded_shuffle.h"

namespace ep {

namespace {

// ---- parameters ------------------------------------------------------------------

// Turns requires_grad on for the call and back off after, so that later scoring
// passes (which take gradients of probes only) do not build weight gradients.
class TrainableParams {
 public:
  explicit TrainableParams(CausalLM& model) : named_(model.named_parameters()) {
    for (auto& [name, t] : named_) {
      was_.push_back(t.requires_grad());
      t.requires_grad_(true);
      tensors_.push_back(t);
    }
  }
  ~TrainableParams() {
    for (size_t i = 0; i < tensors_.size(); ++i) {
      tensors_[i].mutable_grad() = torch::Tensor();
      tensors_[i].requires_grad_(was_[i]);
    }
  }
  TrainableParams(const TrainableParams&) = delete;
  TrainableParams& operator=(const TrainableParams&) = delete;

  const std::vector<std::pair<std::string, torch::Tensor>>& named() const { return named_; }
  std::vector<torch::Tensor>& tensors() { return tensors_; }

 private:
  std::vector<std::pair<std::string, torch::Tensor>> named_;
  std::vector<torch::Tensor> tensors_;
  std::vector<bool> was_;
};

// ---- checkpoint ------------------------------------------------------------------
// One torch archive: "param_<name>" tensors, the Adam state ("optimizer"), the step,
// and what the batch order depends on, so a resume with other data or settings is
// refused instead of silently training on a different sequence.

std::string archive_key(const std::string& name) {
  std::string key = "param_";
  for (char c : name) key += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return key;
}

torch::Tensor scalar(int64_t v) { return torch::tensor({v}, torch::kLong); }
int64_t read_scalar(torch::serialize::InputArchive& in, const char* key) {
  torch::Tensor t;
  in.read(key, t);
  return t.item<int64_t>();
}

struct RunShape {  // what must match between a checkpoint and the run resuming it
  int64_t n_examples, batch_size, epochs;
  uint64_t seed;
};

void save_checkpoint(const std::filesystem::path& path, TrainableParams& params, torch::optim::Adam& adam,
                     int64_t step, const RunShape& shape) {
  torch::serialize::OutputArchive archive;
  for (const auto& [name, t] : params.named()) archive.write(archive_key(name), t.detach().cpu());
  torch::serialize::OutputArchive opt_archive;
  adam.save(opt_archive);
  archive.write("optimizer", opt_archive);
  archive.write("step", scalar(step));
  archive.write("n_examples", scalar(shape.n_examples));
  archive.write("batch_size", scalar(shape.batch_size));
  archive.write("epochs", scalar(shape.epochs));
  archive.write("seed", scalar(static_cast<int64_t>(shape.seed)));
  auto tmp = path;
  tmp += ".tmp";
  archive.save_to(tmp.string());
  std::filesystem::rename(tmp, path);  // a crash mid-write leaves the old checkpoint whole
}

int64_t load_checkpoint(const std::filesystem::path& path, TrainableParams& params, torch::optim::Adam& adam,
                        const RunShape& shape, torch::Device device) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path.string(), device);
  } catch (const c10::Error& e) {
    EP_FAIL("{}: cannot read the fine-tuning checkpoint ({})", path.string(), e.what_without_backtrace());
  }
  auto expect = [&](const char* key, int64_t want) {
    int64_t got = read_scalar(archive, key);
    EP_CHECK(got == want, "{}: checkpoint has {} = {}, this run has {}; resume with the same data and settings",
             path.string(), key, got, want);
  };
  expect("n_examples", shape.n_examples);
  expect("batch_size", shape.batch_size);
  expect("epochs", shape.epochs);
  expect("seed", static_cast<int64_t>(shape.seed));
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : params.named()) {
    torch::Tensor saved;
    try {
      archive.read(archive_key(name), saved);
    } catch (const c10::Error&) {
      EP_FAIL("{}: checkpoint has no parameter '{}'; was it written for another model?", path.string(), name);
    }
    EP_CHECK(saved.sizes() == t.sizes(), "{}: parameter '{}' has shape {} in the checkpoint, {} in the model",
             path.string(), name, c10::str(saved.sizes()), c10::str(t.sizes()));
    t.copy_(saved);
  }
  torch::serialize::InputArchive opt_archive;
  archive.read("optimizer", opt_archive);
  adam.load(opt_archive);
  return read_scalar(archive, "step");
}

// ---- one step ------------------------------------------------------------------

// This shard's rows of a batch.
std::vector<int64_t> shard_rows(const std::vector<int64_t>& batch, int rank, int count) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < batch.size(); ++i)
    if (static_cast<int>(i % static_cast<size_t>(count)) == rank) rows.push_back(batch[i]);
  return rows;
}

// Forward + backward on this shard's rows; returns the shard's loss sum / batch size.
// A shard with no rows still takes part (zero gradients) so collectives line up.
double accumulate_gradients(CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                            const std::vector<std::vector<int64_t>>& answers, const std::vector<int64_t>& rows,
                            int64_t full_batch, int64_t pad_id) {
  if (rows.empty()) return 0.0;
  const AnswerBatch b = teacher_forced_batch(prompts, answers, rows, pad_id, model.device());
  auto logits = model.forward(b.batch, LogitsScope::last_positions(b.K));  // [b, K, V]
  auto loss = answer_token_nll(logits, b.targets).sum() / static_cast<double>(full_batch);
  loss.backward();
  return loss.item<double>();
}

std::vector<torch::Tensor> gradients(TrainableParams& params) {
  std::vector<torch::Tensor> grads;
  for (auto& t : params.tensors()) {
    if (!t.grad().defined()) t.mutable_grad() = torch::zeros_like(t);
    grads.push_back(t.grad());
  }
  return grads;
}

// The hook may reduce in place or hand back new tensors; either way the parameters'
// gradients end up holding the result.
void reduce(TrainableParams& params, const FinetuneOptions& opts) {
  std::vector<torch::Tensor> grads = gradients(params);
  if (!opts.reduce_gradients) return;
  opts.reduce_gradients(grads);
  EP_CHECK(grads.size() == params.tensors().size(), "reduce_gradients returned {} gradients for {} parameters",
           grads.size(), params.tensors().size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < grads.size(); ++i)
    if (!grads[i].is_same(params.tensors()[i].grad())) params.tensors()[i].grad().copy_(grads[i]);
}

// Batches of one epoch: a seeded shuffle cut into batch_size pieces (the last may
// be smaller). Depends on (seed, epoch, n) only, never on the shard count.
std::vector<std::vector<int64_t>> epoch_batches(int64_t n, int64_t batch_size, uint64_t seed, int64_t epoch) {
  auto perm = seeded_permutation(n, derive_seed(seed, kFinetuneShuffleStream + static_cast<uint64_t>(epoch)));
  std::vector<std::vector<int64_t>> batches;
  for (int64_t start = 0; start < n; start += batch_size)
    batches.emplace_back(perm.begin() + start, perm.begin() + std::min(n, start + batch_size));
  return batches;
}

void check_options(const TokenizedTask& train, const FinetuneOptions& opts) {
  EP_CHECK(!train.examples.empty(), "fine-tuning on task '{}': no training examples", train.name);
  EP_CHECK(opts.batch_size >= 1, "fine-tuning batch size must be >= 1, got {}", opts.batch_size);
  EP_CHECK(opts.epochs >= 1, "fine-tuning epochs must be >= 1, got {}", opts.epochs);
  EP_CHECK(opts.lr > 0 && std::isfinite(opts.lr), "fine-tuning learning rate must be > 0, got {}", opts.lr);
  EP_CHECK(opts.weight_decay >= 0, "fine-tuning weight decay must be >= 0, got {}", opts.weight_decay);
  EP_CHECK(opts.shard_count >= 1 && opts.shard_rank >= 0 && opts.shard_rank < opts.shard_count,
           "fine-tuning shard {} of {} is not a valid shard", opts.shard_rank, opts.shard_count);
}

}  // namespace

FinetuneResult finetune(CausalLM& model, const TokenizedTask& train, const FinetuneOptions& opts) {
  check_options(train, opts);
  std::vector<std::vector<int64_t>> prompts;
  std::vector<std::vector<int64_t>> answers;
  for (const TokenizedExample& ex : train.examples) {
    prompts.push_back(ex.prompt_ids);
    answers.push_back(ex.answer_ids);
  }
  const auto n = static_cast<int64_t>(prompts.size());
  const int64_t steps_per_epoch = (n + opts.batch_size - 1) / opts.batch_size;
  const RunShape shape{n, opts.batch_size, opts.epochs, opts.seed};

  TrainableParams params(model);
  torch::optim::Adam adam(params.tensors(), torch::optim::AdamOptions(opts.lr).weight_decay(opts.weight_decay));

  FinetuneResult result;
  result.total_steps = opts.epochs * steps_per_epoch;
  const bool resume = !opts.checkpoint.empty() && std::filesystem::exists(opts.checkpoint);
  if (resume) result.start_step = load_checkpoint(opts.checkpoint, params, adam, shape, model.device());
  const int64_t last_step = opts.stop_after_steps < 0 ? result.total_steps
                                                      : std::min(result.total_steps, opts.stop_after_steps);
  const bool writes_checkpoints = !opts.checkpoint.empty() && opts.shard_rank == 0;

  int64_t step = result.start_step;
  for (int64_t epoch = step / steps_per_epoch; epoch < opts.epochs && step < last_step; ++epoch) {
    const auto batches = epoch_batches(n, opts.batch_size, opts.seed, epoch);
    for (int64_t b = step - epoch * steps_per_epoch; b < steps_per_epoch && step < last_step; ++b) {
      const auto& batch = batches[static_cast<size_t>(b)];
      adam.zero_grad();
      double loss = accumulate_gradients(model, prompts, answers, shard_rows(batch, opts.shard_rank, opts.shard_count),
                                         static_cast<int64_t>(batch.size()), opts.pad_id);
      reduce(params, opts);
      adam.step();
      ++step;
      result.losses.push_back(loss);
      if (opts.on_step) opts.on_step({step, result.total_steps, epoch, loss});
      if (writes_checkpoints && opts.checkpoint_every > 0 && step % opts.checkpoint_every == 0 && step < last_step)
        save_checkpoint(opts.checkpoint, params, adam, step, shape);
    }
  }
  if (writes_checkpoints && step > result.start_step) save_checkpoint(opts.checkpoint, params, adam, step, shape);
  result.steps_done = step;
  return result;
}

}  // namespace ep
