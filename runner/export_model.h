// `eprunner export`: one cell's pruned model at one p, rebuilt from a results file
// and written as a Hugging Face folder that transformers loads unchanged
// (docs/export.md).
//
// The results file holds what the freeze needs besides the weights: the grid text,
// the frozen masks per p and matrix kind [L, B, R], x̄ per position [L, P, I] with
// its counts [P], and the singular values [L, B, R]. The model is loaded as `run`
// loaded it, decomposed with the grid's options (runner/prune_options.h), its
// singular values checked against the stored ones (a changed checkpoint is an
// error), and frozen with ScopedFreeze, so the exported weights are the run's.
//
// The controls (highest, random) are rebuilt the same way from their own masks;
// LASER from the whole matrices it reduced, no bias (docs/methods.md).
//
// Bias: "mean", "paper_sum" (and "none") are constant over positions and export
// exactly, into each frozen matrix's own bias. "position" has no place in HF's
// modules: the export uses the mean over all positions and says so (message,
// metadata, model card).
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace ep::runner {

struct ExportRequest {
  std::filesystem::path results;  // results .h5 (and its journal)
  std::string cell;               // "<model>__<task>"; or model + task
  std::string model, task;
  // What was done to the model (docs/methods.md): "eigenpruning" at p, a control at p
  // ("highest"; "random" with its seed), or "laser" (matrix, layers, rho).
  std::string method = "eigenpruning";
  std::optional<double> p;
  std::optional<int64_t> seed;
  std::string matrix;
  std::vector<int64_t> layers;
  std::optional<double> rho;
  std::filesystem::path out;      // the folder to write
  bool force = false;             // replace a non-empty `out`
  std::string device = "cpu";     // where the model is rebuilt ("cpu" or "cuda")
  int threads = 0;                // torch CPU threads (0: one per hardware thread)
  // Optional: a safetensors file with the cell's test split as `run` evaluates it
  // (input_ids, attention_mask, position_ids [n, T], targets [n, K]) and the
  // logits [n, K, V] of eprunner's own pruned model at the answer positions, with the
  // cell's bias (and `logits_exported` with the exported bias when they differ).
  std::filesystem::path test_logits;
};

// What was written, for the command's message and for tests.
struct ExportSummary {
  std::string cell;
  std::string method;         // "eigenpruning", "highest", "random", "laser"
  std::string label;          // "eigenpruning p=0.3", "random seed=2 p=0.3", "laser mlp_in.5 rho=0.1"
  std::string matrices;       // the matrix kinds it changed, "k, mlp_out"
  std::string granularity;    // "head" or "matrix"
  double p = 0;               // p, or LASER's rho
  int64_t n_frozen = 0, n_components = 0;
  std::string bias;           // the cell's bias mode
  std::string exported_bias;  // what the folder holds
  bool approximate = false;   // bias = "position" exported as its mean
  double test_accuracy = 0;   // the results file's, at p
};

// Throws ep::Error for every bad input: a missing or damaged results file or cell,
// an error cell, an unknown model, task, p, method or LASER setting (each listing
// what exists), a grid
// whose model files are gone, a fine-tuned model, a checkpoint changed since the
// run, an existing non-empty `out` without `force`. Progress lines go to `log`.
ExportSummary export_pruned_model(const ExportRequest& request, std::ostream& log);

}  // namespace ep::runner
