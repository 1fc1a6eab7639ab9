// COPA (Choice of Plausible Alternatives). Fields: premise, choice1, choice2,
// question ("cause" or "effect"), label (0 or 1), idx.
//
// Derived fields for the templates:
//   question      the paper's question text for "cause" / "effect"
//   question_type the raw "cause" / "effect"
//   connector     lm-eval's " because" / " therefore" word (without the space)
//   premise_stem  the premise stripped of surrounding whitespace and its last
//                 character (the final period), as lm-eval's doc_to_text does
//   choice1_lc, choice2_lc  the choices with their first letter lower-cased
#include <cctype>

#include "core/util/error.h"
#include "experiments/superglue_loader.h"
#include "experiments/superglue_tasks.h"

namespace ep {

namespace {

std::string strip_ascii_space(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\n\r\f\v");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\n\r\f\v");
  return s.substr(begin, end - begin + 1);
}

// ref: lm-eval copa/utils.py doc_to_text: doc["premise"].strip()[:-1] — drops one
// character (one code point: UTF-8 continuation bytes go with it).
std::string premise_stem(const std::string& premise) {
  std::string s = strip_ascii_space(premise);
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
  if (!s.empty()) s.pop_back();
  return s;
}

// ref: lm-eval copa/utils.py convert_choice: choice[0].lower() + choice[1:]. Only
// an ASCII first letter is lower-cased (COPA's choices are English sentences).
std::string lower_first(const std::string& s) {
  std::string out = s;
  if (!out.empty() && static_cast<unsigned char>(out[0]) < 0x80)
    out[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[0])));
  return out;
}

Record parse_copa(const JsonlRecord& json) {
  const std::string& premise = string_field(json, "premise");
  const std::string& choice1 = string_field(json, "choice1");
  const std::string& choice2 = string_field(json, "choice2");
  const std::string& type = string_field(json, "question");
  EP_CHECK(type == "cause" || type == "effect", "{}: field 'question' is \"{}\"; expected \"cause\" or \"effect\"",
           json.source, type);
  const bool cause = type == "cause";

  Record r;
  r.source = json.source;
  r.fields = {
      {"premise", premise},
      {"choice1", choice1},
      {"choice2", choice2},
      // ref: official-implementation-notes.md, COPA: the two question texts
      {"question", cause ? "What was the cause of this?" : "What happened as a result?"},
      {"question_type", type},
      {"connector", cause ? "because" : "therefore"},  // ref: lm-eval copa/utils.py
      {"premise_stem", premise_stem(premise)},
      {"choice1_lc", lower_first(choice1)},
      {"choice2_lc", lower_first(choice2)},
  };
  r.label = int_field(json, "label");
  EP_CHECK(r.label == 0 || r.label == 1, "{}: field 'label' is {}, out of range; expected 0 (choice1) or 1 (choice2)",
           json.source, r.label);
  return r;
}

}  // namespace

TaskKind copa_task_kind() {
  PromptSet paper;  // ref: official-implementation-notes.md, Tasks, COPA
  paper.name = "paper";
  paper.scoring = Scoring::FirstToken;
  paper.prompt =
      "Premise: {premise}\n{question}\n\nAlternative 1: {choice1}\nAlternative 2: {choice2}\n\nWhat is the correct "
      "alternative?\nThe correct alternative is alternative";
  paper.choices = {" 1", " 2"};

  PromptSet lm_eval;  // ref: lm-evaluation-harness super_glue/copa/utils.py
  lm_eval.name = "lm-eval";
  lm_eval.scoring = Scoring::ChoiceLogLikelihood;
  lm_eval.prompt = "{premise_stem} {connector}";
  lm_eval.choices = {" {choice1_lc}", " {choice2_lc}"};

  TaskKind kind;
  kind.name = "copa";
  kind.description = "SuperGLUE COPA: COPA/train.jsonl (train), COPA/val.jsonl (test); 2 choices";
  kind.load = [](const std::filesystem::path& dir) { return load_superglue_folder(dir, parse_copa); };
  kind.prompt_sets = {paper, lm_eval};
  kind.needs_data_dir = true;
  return kind;
}

}  // namespace ep
