// `eprunner plan`'s text: the grid's models, tasks, cells and rank groups (plan.h).
#include "runner/plan.h"

#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runner/cell_memory.h"
#include "runner/schedule.h"

namespace ep::runner {
namespace {

namespace fs = std::filesystem;

std::string path_note(const fs::path& p) { return fs::exists(p) ? p.string() : p.string() + " (missing)"; }

std::string model_line(const grid::ModelSpec& m) {
  std::string s = m.checkpoint ? "checkpoint " + path_note(*m.checkpoint)
                               : fmt::format("random {} ({} layers, hidden {}, {} heads, {} positions, seed {})",
                                             name_of(m.init->arch), m.init->layers, m.init->hidden, m.init->heads,
                                             m.init->max_positions, m.init->seed);
  if (m.init || m.tokenizer != *m.checkpoint) s += "; tokenizer " + path_note(m.tokenizer);
  if (m.finetune)
    s += fmt::format("; fine-tuned per task: lr {}, batch {}, {} epoch(s), weight decay {}, seed {}", m.finetune->lr,
                     m.finetune->batch_size, m.finetune->epochs, m.finetune->weight_decay, m.finetune->seed);
  return s;
}

std::string task_line(const grid::TaskSpec& t) {
  std::string s = t.kind;
  if (t.data_dir) s += " from " + path_note(*t.data_dir);
  s += fmt::format("; prompts {}, metric {}, BOS {}", t.prompt_set, name_of(t.metric), !t.bos ? "as the tokenizer says" : *t.bos ? "on" : "off");
  if (t.split.test_fraction > 0) s += fmt::format("; test {:g}", t.split.test_fraction);
  s += fmt::format("; validation {:g} of train; split seed {}", t.split.validation_fraction, t.split.seed);
  if (t.split.max_train || t.split.max_validation || t.split.max_test)
    s += fmt::format("; at most {} train, {} validation, {} test (0: all)", t.split.max_train, t.split.max_validation,
                     t.split.max_test);
  return s;
}

std::string cell_state(const Cell& c, const std::map<std::string, std::string>& finished,
                       const std::map<std::string, std::string>& failed) {
  auto done = finished.find(c.name);
  if (done != finished.end()) return done->second == c.fingerprint ? "done (skipped)" : "settings changed (rerun)";
  if (failed.count(c.name)) return "failed before (rerun)";
  return "to run";
}

std::string ranks_text(int first, int n) {
  return n == 1 ? fmt::format("rank {}", first) : fmt::format("ranks {}-{}", first, first + n - 1);
}

// Each cell's estimated memory on its device (runner/cell_memory.h).
std::string memory_section(const grid::Grid& g, const std::vector<Cell>& cells) {
  const auto& e = g.eigenprune;
  std::string out = fmt::format(
      "\nmemory (estimated, per rank on its device: {}): peak = weights + SVD + scoring a whole batch of {} "
      "rows; least = scoring one row at a time (micro-batches; a cell needing more than its device has free is "
      "refused before it loads anything)\n",
      e.uses_cuda() ? (g.layout.gpus_per_node > 0
                           ? fmt::format("one GPU per rank, local rank % {}", g.layout.gpus_per_node)
                           : std::string("one GPU per rank, local rank % the GPUs the node shows"))
                    : std::string("cpu, the node's memory shared by its ranks"),
      e.batch_size);
  out += fmt::format("  {:>3}  {:<32} {:>6} {:>11} {:>11} {:>11} {:>11} {:>11}\n", "#", "cell", "T", "weights", "SVD",
                     "scoring", "peak", "least");
  for (const auto& c : cells) {
    try {
      const CellNeeds n = estimate_cell_needs(g, c);
      const CellMemory& m = n.memory;
      out += fmt::format("  {:>3}  {:<32} {:>6} {:>11} {:>11} {:>11} {:>11} {:>11}\n", c.index, c.name, n.positions,
                         gib(m.weights), gib(m.decompositions), gib(m.scoring), gib(m.peak()), gib(m.least()));
    } catch (const std::exception& ex) {
      out += fmt::format("  {:>3}  {:<32} unknown: {}\n", c.index, c.name, ex.what());
    }
  }
  return out;
}

}  // namespace

std::string format_plan(const grid::Grid& g, int world_size, const std::map<std::string, std::string>& finished,
                        const std::map<std::string, std::string>& failed) {
  std::string out = fmt::format("grid {} (seed {})\nresults {}\n", g.source.string(), g.seed, g.output.string());
  out += fmt::format("\nmodels ({}):\n", g.models.size());
  for (const auto& m : g.models) out += fmt::format("  {:<16} {}\n", m.name, model_line(m));
  out += fmt::format("\ntasks ({}):\n", g.tasks.size());
  for (const auto& t : g.tasks) out += fmt::format("  {:<16} {}\n", t.name, task_line(t));
  const auto& e = g.eigenprune;
  out += fmt::format("\neigenpruning: recipe {}; matrices {} per {}; ΔL over positions: {}; {} partner(s) per example; "
                     "bias {}; batch {} (eval {}); {} on {}; svd {}\n",
                     name_of(e.recipe), join_names(e.matrices), name_of(e.granularity), name_of(e.position_reduction), e.pairs,
                     name_of(e.bias), e.batch_size, e.eval_batch_size, name_of(e.dtype), name_of(e.device),
                     name_of(e.svd));
  out += fmt::format("p: {}\n", fmt::join(e.p, ", "));
  if (g.controls.any())
    out += fmt::format("controls (docs/methods.md): {}{}{} at every p\n", g.controls.highest ? "highest ΔL" : "",
                       g.controls.highest && !g.controls.random_seeds.empty() ? ", " : "",
                       g.controls.random_seeds.empty()
                           ? std::string()
                           : fmt::format("random with seeds {}", fmt::join(g.controls.random_seeds, ", ")));
  if (g.laser) {
    const std::vector<std::string> sets = grid::layer_set_names(*g.laser);
    out += fmt::format("LASER (docs/methods.md): matrices {}; layers {}; rho {}\n", join_names(g.laser->matrices),
                       sets.empty() ? std::string("each on its own (the search)") : fmt::format("{}", fmt::join(sets, ", ")),
                       fmt::join(g.laser->rho, ", "));
  }

  const auto cells = make_cells(g);
  out += fmt::format("\ncells ({}): each loads its model, fine-tunes it if asked, scores once, then evaluates base "
                     "and {} value(s) of p\n", cells.size(), e.p.size());
  out += fmt::format("  {:>3}  {:<32} {:<16} {:<10} {:<16} {}\n", "#", "cell", "model", "fine-tune", "task", "state");
  int to_run = 0;
  for (const auto& c : cells) {
    const std::string state = cell_state(c, finished, failed);
    to_run += state == "done (skipped)" ? 0 : 1;
    out += fmt::format("  {:>3}  {:<32} {:<16} {:<10} {:<16} {}\n", c.index, c.name, g.models[c.model].name,
                       g.models[c.model].finetune ? "yes" : "-", g.tasks[c.task].name, state);
  }
  out += fmt::format("  {} of {} cell(s) to run\n", to_run, cells.size());
  out += memory_section(g, cells);

  std::vector<std::string> notes;
  const GroupLayout l = plan_groups(world_size, g.layout.ranks_per_cell, &notes);
  out += fmt::format("\nranks: {}, ranks_per_cell {} -> {} group(s)\n", world_size, g.layout.ranks_per_cell,
                     l.n_groups);
  for (int grp = 0; grp < l.n_groups; ++grp)
    out += fmt::format("  group {}: {}{}\n", grp, ranks_text(l.leader_of(grp), l.ranks_per_cell),
                       grp == 0 ? " (world rank 0 also serves the cell queue and writes the results)" : "");
  if (l.idle_ranks > 0) out += fmt::format("  idle: {}\n", ranks_text(l.n_groups * l.ranks_per_cell, l.idle_ranks));
  for (const auto& n : notes) out += "  note: " + n + "\n";
  out += "schedule: dynamic; each group takes the next cell from a queue on world rank 0, preferring cells of the\n"
         "model it already holds (cells are in model-major order)\n";
  if (to_run < l.n_groups)
    out += fmt::format("  note: {} group(s) for {} cell(s): {} group(s) will have nothing to do\n", l.n_groups, to_run,
                       l.n_groups - to_run);
  return out;
}

}  // namespace ep::runner
