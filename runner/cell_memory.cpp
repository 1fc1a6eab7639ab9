#include "runner/cell_memory.h"

#include <fmt/format.h>

#include "core/io/model_config.h"
#include "core/util/error.h"
#include "core/model/load_settings.h"
#include "core/model/model_shape.h"
#include "experiments/load_task.h"
#include "experiments/tokenized_task.h"

namespace ep::runner {

ModelConfig model_config_of(const grid::ModelSpec& model, const BpeTokenizer& tokenizer) {
  if (model.checkpoint) return load_model_config(*model.checkpoint);
  return shape_config(*model.init, tokenizer.vocab_size(), tokenizer.bos_id(), tokenizer.eos_id());
}

namespace {
int64_t element_bytes(ComputeDtype d) { return d == ComputeDtype::F32 ? 4 : 2; }
}  // namespace

void require_model_files(const grid::ModelSpec& m, const std::filesystem::path& grid_file) {
  if (m.checkpoint)
    EP_CHECK(std::filesystem::exists(*m.checkpoint),
             "model \"{}\" ({}:{}): checkpoint {} does not exist; expected an HF model folder (config.json + "
             "*.safetensors) or a .gguf file",
             m.name, grid_file.string(), m.line, m.checkpoint->string());
  EP_CHECK(std::filesystem::exists(m.tokenizer), "model \"{}\" ({}:{}): tokenizer {} does not exist", m.name,
           grid_file.string(), m.line, m.tokenizer.string());
}

CellNeeds cell_needs(const grid::Grid& g, const Cell& cell, const BpeTokenizer& tok, int64_t positions) {
  CellNeeds n;
  n.config = model_config_of(g.models[cell.model], tok);
  n.positions = positions;
  const auto& e = g.eigenprune;
  n.memory = estimate_cell_memory(n.config, e.matrices, e.batch_size, e.eval_batch_size > 0 ? e.eval_batch_size : e.batch_size,
                                  n.positions, element_bytes(e.dtype));
  return n;
}

CellNeeds estimate_cell_needs(const grid::Grid& g, const Cell& cell) {
  const grid::ModelSpec& model = g.models[cell.model];
  const grid::TaskSpec& task = g.tasks[cell.task];
  require_model_files(model, g.source);
  const BpeTokenizer tok = BpeTokenizer::load(model.tokenizer);
  TaskSpec ts(task.kind, task.prompt_set, task.data_dir.value_or(std::filesystem::path{}));
  ts.split = task.split;
  TokenizeOptions to;
  to.prepend_bos = grid::prepends_bos(task, model, tok.add_bos());
  int64_t positions = 0;  // as core/prune/batching.h longest_teacher_forced_input
  for (const auto& ex : tokenize_task(load_task(ts).train, tok, to).examples)
    positions = std::max<int64_t>(positions, static_cast<int64_t>(ex.prompt_ids.size() + ex.answer_ids.size()) - 1);
  return cell_needs(g, cell, tok, positions);
}

std::string gib(int64_t bytes) { return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0)); }

}  // namespace ep::runner
