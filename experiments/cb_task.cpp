// CB (CommitmentBank). Fields: premise, hypothesis, label
// ("entailment", "contradiction", "neutral"), idx.
#include "experiments/superglue_loader.h"
#include "experiments/superglue_tasks.h"

namespace ep {

namespace {

Record parse_cb(const JsonlRecord& json) {
  Record r;
  r.source = json.source;
  r.fields = {{"premise", string_field(json, "premise")}, {"hypothesis", string_field(json, "hypothesis")}};
  r.label = superglue_label(json, {"entailment", "contradiction", "neutral"});
  return r;
}

}  // namespace

TaskKind cb_task_kind() {
  PromptSet paper;  // ref: official-implementation-notes.md, Tasks, CB
  paper.name = "paper";
  paper.scoring = Scoring::FirstToken;
  paper.prompt =
      "Premise: {premise}\n\nHypothesis: {hypothesis}\n\nDoes the premise entail, contradict or is neutral to the "
      "hypothesis?\nAnswer (entails, contradicts, is neutral): The premise";
  paper.choices = {" entails", " contradicts", " is neutral"};

  PromptSet lm_eval;  // ref: lm-evaluation-harness super_glue/cb/default.yaml
  lm_eval.name = "lm-eval";
  lm_eval.scoring = Scoring::ChoiceLogLikelihood;
  lm_eval.prompt = "{premise}\nQuestion: {hypothesis}. True, False, or Neither?\nAnswer:";
  lm_eval.choices = {" True", " False", " Neither"};

  TaskKind kind;
  kind.name = "cb";
  kind.description = "SuperGLUE CB: CB/train.jsonl (train), CB/val.jsonl (test); 3 classes";
  kind.load = [](const std::filesystem::path& dir) { return load_superglue_folder(dir, parse_cb); };
  kind.prompt_sets = {paper, lm_eval};
  kind.needs_data_dir = true;
  return kind;
}

}  // namespace ep
