// `eprunner export results.h5 (--cell NAME | --model M --task T) --out DIR
//                  (--p P | --method highest --p P | --method random --seed S --p P
//                   | --method laser --matrix K --layers L[,L...] --rho R)
//                  [--force] [--device cpu|cuda] [--threads N] [--test-logits FILE]`
// Writes one cell's pruned model at one p (or a comparison of docs/methods.md) as a
// Hugging Face folder that transformers loads unchanged (runner/export_model.h,
// docs/export.md).
#ifdef EPRUNNER_WITH_MODELS

#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "runner/commands.h"
#include "runner/export_model.h"

namespace ep::cli {

void add_export_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write a cell's pruned model at one p as a Hugging Face folder "
                                           "(config.json, model.safetensors, tokenizer files, provenance)");
  auto r = std::make_shared<runner::ExportRequest>();
  auto results = std::make_shared<std::string>(), out = std::make_shared<std::string>(),
       test_logits = std::make_shared<std::string>();
  cmd->add_option("results", *results, "results .h5 file written by `eprunner run`")->required();
  cmd->add_option("--cell", r->cell, "the cell, <model>__<task> (or --model and --task)");
  cmd->add_option("--model", r->model, "the cell's model (grid name)");
  cmd->add_option("--task", r->task, "the cell's task (grid name)");
  cmd->add_option("--p", r->p, "the prune fraction to export (one of the grid's p)");
  cmd->add_option("--method", r->method,
                  "what to export: eigenpruning, or a comparison the grid ran: highest, random (--seed), laser "
                  "(--matrix, --layers, --rho)")
      ->capture_default_str();
  cmd->add_option("--seed", r->seed, "--method random: the seed of the draw");
  cmd->add_option("--matrix", r->matrix, "--method laser: the matrix kind it reduced (e.g. mlp_in)");
  cmd->add_option("--layers", r->layers, "--method laser: the layers it reduced together (e.g. 5 or 4,5)")
      ->delimiter(',');
  cmd->add_option("--rho", r->rho, "--method laser: the fraction of the rank it kept");
  cmd->add_option("--out", *out, "the folder to write (must not exist or be empty, unless --force)")->required();
  cmd->add_flag("--force", r->force, "replace a non-empty --out");
  cmd->add_option("--device", r->device, "where the model is rebuilt: cpu or cuda")->capture_default_str();
  cmd->add_option("--threads", r->threads, "CPU threads for torch (0 = one per hardware thread)")->capture_default_str();
  cmd->add_option("--test-logits", *test_logits,
                  "also write the cell's test split (input_ids, attention_mask, position_ids, targets) and eprunner's "
                  "pruned model's logits at the answer positions to this safetensors file");
  cmd->callback([r, results, out, test_logits] {
    r->results = *results;
    r->out = *out;
    r->test_logits = *test_logits;
    const runner::ExportSummary s = runner::export_pruned_model(*r, std::cerr);
    if (s.method == "eigenpruning")
      std::cout << fmt::format("exported cell {} at p = {:g} ({} of {} components frozen, bias \"{}\"{}) to {}\n",
                               s.cell, s.p, s.n_frozen, s.n_components, s.bias,
                               s.approximate ? ", exported as its mean over positions" : "", r->out.string());
    else
      std::cout << fmt::format("exported cell {} with {} ({} of {} components removed, bias \"{}\"{}) to {}\n", s.cell,
                               s.label, s.n_frozen, s.n_components, s.bias,
                               s.approximate ? ", exported as its mean over positions" : "", r->out.string());
    if (s.approximate)
      std::cout << "note: the cell used bias = \"position\"; Hugging Face's modules have no per-position bias, so the "
                   "exported model adds the mean over all positions at every position. Its outputs are close to, not "
                   "equal to, the run's pruned model's (see eprunner_export.json, bias_note).\n";
  });
}

}  // namespace ep::cli

#endif  // EPRUNNER_WITH_MODELS
