// RTE (Recognizing Textual Entailment). Fields: premise, hypothesis, label
// ("entailment", "not_entailment"), idx.
#include "experiments/superglue_loader.h"
#include "experiments/superglue_tasks.h"

namespace ep {

namespace {

Record parse_rte(const JsonlRecord& json) {
  Record r;
  r.source = json.source;
  r.fields = {{"premise", string_field(json, "premise")}, {"hypothesis", string_field(json, "hypothesis")}};
  r.label = superglue_label(json, {"entailment", "not_entailment"});
  return r;
}

}  // namespace

TaskKind rte_task_kind() {
  PromptSet paper;  // ref: official-implementation-notes.md, Tasks, RTE
  paper.name = "paper";
  paper.scoring = Scoring::FirstToken;
  paper.prompt =
      "Premise: {premise}\n\nHypothesis: {hypothesis}\n\nDoes the premise entail or contradict to the "
      "hypothesis?\nAnswer (entails or contradicts): The premise";
  paper.choices = {" entails", " contradicts"};

  PromptSet lm_eval;  // ref: lm-evaluation-harness super_glue/rte/default.yaml
  lm_eval.name = "lm-eval";
  lm_eval.scoring = Scoring::ChoiceLogLikelihood;
  lm_eval.prompt = "{premise}\nQuestion: {hypothesis} True or False?\nAnswer:";
  lm_eval.choices = {" True", " False"};

  TaskKind kind;
  kind.name = "rte";
  kind.description = "SuperGLUE RTE: RTE/train.jsonl (train), RTE/val.jsonl (test); 2 classes";
  kind.load = [](const std::filesystem::path& dir) { return load_superglue_folder(dir, parse_rte); };
  kind.prompt_sets = {paper, lm_eval};
  kind.needs_data_dir = true;
  return kind;
}

}  // namespace ep
