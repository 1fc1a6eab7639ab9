// Fine-tuning a causal LM on a task (the paper's FT-GPT-2 row; also how the demo's
// small GPT-2-architecture model learns the arithmetic tasks from random weights).
//
// ref: paper appendix C — Adam over all parameters, lr 0.01, batch 2, one epoch;
// official code: cross-entropy of the answer token at the last position (summed
// over the answer's tokens under teacher forcing when an answer is several tokens).
//
// Data parallel without knowing MPI: every process runs the same batches (a seeded
// shuffle per epoch, independent of the process count), computes the loss of its
// shard of each batch divided by the FULL batch size, and hands its gradients to
// `reduce_gradients` after backward and before the step. A sum all-reduce there
// gives every process the gradient of the batch mean, so all replicas stay equal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "core/model/causal_lm.h"
#include "experiments/finetune_schedule.h"
#include "experiments/tokenized_task.h"

namespace ep {

struct FinetuneStep {
  int64_t step = 0;         // 1-based, counted over the whole run (all epochs)
  int64_t total_steps = 0;
  int64_t epoch = 0;        // 0-based
  double loss = 0;          // this shard's loss sum / full batch size (the batch mean when unsharded)
};

// lr, batch_size, epochs, weight_decay, seed: FinetuneSchedule.
struct FinetuneOptions : FinetuneSchedule {
  int64_t pad_id = 0;         // any id: pads are masked

  // Data parallel: this process's share of each batch is the rows i with
  // i % shard_count == shard_rank.
  int shard_rank = 0;
  int shard_count = 1;
  // Called after backward, before the optimizer step, with one gradient per
  // parameter (in named_parameters() order). Reduce in place (sum) or replace.
  std::function<void(std::vector<torch::Tensor>& grads)> reduce_gradients;

  // Resumable runs: when `checkpoint` names a file that exists, training continues
  // from it (parameters, Adam state, step); it is written every `checkpoint_every`
  // steps (0: only at the end or stop) by shard 0, atomically (a private
  // <checkpoint>.tmp-<pid>, fsync, rename). A write that fails (a full disk, any I/O
  // error) throws ep::Error naming the file, its size and the file system, and leaves
  // the previous checkpoint (if any) as it was and no temporary file behind.
  std::filesystem::path checkpoint;
  int64_t checkpoint_every = 0;
  // Stop once this many steps are done in total (-1: run to the end). For bounded
  // jobs and for testing resumption.
  int64_t stop_after_steps = -1;

  std::function<void(const FinetuneStep&)> on_step;  // progress reports
};

struct FinetuneResult {
  int64_t start_step = 0;       // steps already done when this call began (from a checkpoint)
  int64_t steps_done = 0;       // steps done in total after this call
  int64_t total_steps = 0;      // epochs * ceil(n / batch_size)
  std::vector<double> losses;   // one per step of this call
};

// Trains the model in place on the task's examples (prompt ids -> answer_ids).
// Parameters require grad only during the call. To measure the loss before or
// after, use evaluate(model, to_eval_set(task), ...).mean_loss (task_metrics.h).
FinetuneResult finetune(CausalLM& model, const TokenizedTask& train, const FinetuneOptions& opts);

}  // namespace ep
