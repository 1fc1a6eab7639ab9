#include "experiments/finetune.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <torch/optim/adam.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>

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

// ---- writing it ----------------------------------------------------------------
// The archive streams through a writer function into a temporary file private to
// this process (<checkpoint>.tmp-<pid>, next to it), which is fsync'ed and renamed
// over the checkpoint: the checkpoint's name holds the previous checkpoint or the
// new one, never part of one, whatever happens while writing.
//
// A failed write is remembered here and NOT reported to torch. Told of one (a short
// count), torch's zip writer throws, and while that exception unwinds, the writer's
// destructor writes the end of the archive, fails again and throws out of a
// destructor: std::terminate, SIGABRT, the whole run gone (issue 14: a full disk
// while saving). So the writer takes every byte, writes nothing after the first
// error, counts the bytes (the checkpoint's size, for the message), and the error
// is raised as an ep::Error once torch has returned: the cell fails, the run goes on.

std::string megabytes(uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

// The mount point of the file system holding `dir`: the highest folder above it on
// the same device (what `df` names).
std::filesystem::path mount_point(const std::filesystem::path& dir) {
  std::filesystem::path p = std::filesystem::absolute(dir);
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return p;
  while (p.has_parent_path() && p.parent_path() != p) {
    struct stat up {};
    if (::stat(p.parent_path().c_str(), &up) != 0 || up.st_dev != st.st_dev) break;
    p = p.parent_path();
  }
  return p;
}

// The error for a checkpoint that could not be written (`op` failed with `err`
// after `bytes` of it), its temporary file already removed. A full disk names the
// file system and what is free on it: the fix is there, not in the settings.
[[noreturn]] void fail_checkpoint_write(const std::filesystem::path& path, const char* op, int err, uint64_t bytes) {
  const std::filesystem::path dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  const std::string size = bytes > 0 ? " (" + megabytes(bytes) + ")" : "";
  if (err == ENOSPC || err == EDQUOT) {
    struct statvfs vfs {};
    const std::string free_text =
        ::statvfs(dir.c_str(), &vfs) == 0 ? megabytes(static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize) + " free"
                                          : "free space unknown";
    EP_FAIL("{} on {} (the file system of {}, {}) while writing the fine-tuning checkpoint {}{}; the partial file "
            "is removed and an earlier checkpoint, if any, is kept. Free space there and run again",
            err == ENOSPC ? "no space left" : "disk quota exceeded", mount_point(dir).string(), dir.string(),
            free_text, path.string(), size);
  }
  EP_FAIL("cannot write the fine-tuning checkpoint {}{}: {} failed: {}; the partial file is removed and an earlier "
          "checkpoint, if any, is kept",
          path.string(), size, op, std::strerror(err));
}

class CheckpointFile {
 public:
  explicit CheckpointFile(std::filesystem::path path) : path_(std::move(path)) {
    tmp_ = path_;
    tmp_ += ".tmp-" + std::to_string(::getpid());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_checkpoint_write(path_, "creating its temporary file", errno, 0);
  }
  ~CheckpointFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  CheckpointFile(const CheckpointFile&) = delete;
  CheckpointFile& operator=(const CheckpointFile&) = delete;

  // torch's writer function: always "all written" (see above). A null `data` means
  // "skip n bytes" (torch's zip writer may leave holes).
  size_t write(const void* data, size_t n) noexcept {
    bytes_ += n;
    if (err_ != 0) return n;
    if (data == nullptr) {
      if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) < 0) remember("seeking", errno);
      return n;
    }
    const char* p = static_cast<const char*>(data);
    for (size_t left = n; left > 0;) {
      const ssize_t w = ::write(fd_, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        remember("writing", w < 0 ? errno : ENOSPC);  // 0 bytes written: a full device
        break;
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    return n;
  }

  // fsync, close (network file systems report write errors there), rename into
  // place, fsync the folder (a rename is durable once its folder is).
  void commit() {
    if (err_ == 0 && ::fsync(fd_) != 0) remember("fsync", errno);
    const int rc = ::close(fd_);
    fd_ = -1;
    if (err_ == 0 && rc != 0) remember("closing", errno);
    if (err_ != 0) {
      ::unlink(tmp_.c_str());  // before the message: the space is free again when it is read
      committed_ = true;
      fail_checkpoint_write(path_, op_, err_, bytes_);
    }
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
      fail_checkpoint_write(path_, "renaming it into place", errno, bytes_);
    committed_ = true;
    const std::filesystem::path folder = path_.parent_path().empty() ? "." : path_.parent_path();
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);  // best effort: some file systems refuse fsync on a folder; the file itself is synced
      ::close(dir);
    }
  }

 private:
  void remember(const char* op, int err) {
    if (err_ != 0) return;
    op_ = op;
    err_ = err;
  }

  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  int err_ = 0;
  const char* op_ = "";
  uint64_t bytes_ = 0;
  bool committed_ = false;
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
  CheckpointFile file(path);
  archive.save_to([&file](const void* data, size_t n) { return file.write(data, n); });
  file.commit();  // a crash mid-write leaves the old checkpoint whole
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
