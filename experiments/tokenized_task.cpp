#include "experiments/tokenized_task.h"

#include <map>

#include "core/util/error.h"

namespace ep {

namespace {

std::string ids_text(const std::vector<TokenId>& ids) {
  std::string out;
  for (TokenId id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
  return "[" + out + "]";
}

std::string task_label(const Task& task) {
  return fmt::format("task '{}', prompt set '{}'", task.name, task.prompt_set);
}

std::vector<TokenId> with_bos(std::vector<TokenId> ids, const BpeTokenizer& tok, const TokenizeOptions& opts) {
  if (opts.prepend_bos && tok.bos_id()) ids.insert(ids.begin(), *tok.bos_id());
  return ids;
}

// The tokens of each label word. Two words with the same first token (or, for whole
// answers, the same tokens) would make the metric unable to tell their classes apart.
std::vector<std::vector<TokenId>> encode_label_words(const Task& task, const BpeTokenizer& tok) {
  std::vector<std::vector<TokenId>> encoded;
  std::map<TokenId, size_t> owner;
  std::map<std::vector<TokenId>, size_t> whole_owner;
  for (size_t c = 0; c < task.choices.size(); ++c) {
    encoded.push_back(tok.encode(task.choices[c]));
    const auto& ids = encoded.back();
    EP_CHECK(!ids.empty(), "{}: label word {} (\"{}\") encodes to no tokens", task_label(task), c, task.choices[c]);
    if (task.whole_answers) {
      auto [it, fresh] = whole_owner.emplace(ids, c);
      EP_CHECK(fresh, "{}: answers \"{}\" and \"{}\" encode to the same tokens {}", task_label(task),
               task.choices[it->second], task.choices[c], ids_text(ids));
      continue;
    }
    auto [it, fresh] = owner.emplace(ids[0], c);
    EP_CHECK(fresh,
             "{}: label words \"{}\" and \"{}\" both start with token {} (\"{}\"); first-token scoring needs "
             "label words with distinct first tokens",
             task_label(task), task.choices[it->second], task.choices[c], ids[0], tok.id_to_token(ids[0]));
  }
  return encoded;
}

void tokenize_first_token(const Task& task, const BpeTokenizer& tok, const TokenizeOptions& opts,
                          TokenizedTask& out) {
  const auto words = encode_label_words(task, tok);
  for (const auto& ids : words) {
    out.choice_ids.push_back(ids[0]);
    out.choice_answers.push_back(task.whole_answers ? ids : std::vector<TokenId>{ids[0]});
  }
  for (const Example& ex : task.examples) {
    TokenizedExample t;
    t.prompt_ids = with_bos(tok.encode(ex.prompt), tok, opts);
    t.answer = ex.answer;
    t.answer_ids = out.choice_answers[static_cast<size_t>(ex.answer)];
    t.answer_id = t.answer_ids[0];
    out.examples.push_back(std::move(t));
  }
}

// ref: lm-evaluation-harness HFLM._encode_pair: trailing spaces of the context move
// to the continuation; the continuation's ids are what follows the context's ids in
// the encoding of context + continuation.
std::vector<TokenId> continuation_after(const std::string& context, const std::string& continuation,
                                        size_t context_len, const BpeTokenizer& tok) {
  std::vector<TokenId> whole = tok.encode(context + continuation);
  if (whole.size() <= context_len) return {};
  return std::vector<TokenId>(whole.begin() + static_cast<std::ptrdiff_t>(context_len), whole.end());
}

void tokenize_choice_loglik(const Task& task, const BpeTokenizer& tok, const TokenizeOptions& opts,
                            TokenizedTask& out) {
  for (const Example& ex : task.examples) {
    EP_CHECK(ex.continuations.size() == task.choices.size(), "{}: {} continuations for {} choices ({})", ex.source,
             ex.continuations.size(), task.choices.size(), task_label(task));
    size_t keep = ex.prompt.find_last_not_of(" \t\n\r\f\v");
    std::string context = keep == std::string::npos ? "" : ex.prompt.substr(0, keep + 1);
    std::string moved_spaces = ex.prompt.substr(context.size());
    std::vector<TokenId> context_ids = tok.encode(context);

    TokenizedExample t;
    t.answer = ex.answer;
    for (size_t c = 0; c < ex.continuations.size(); ++c) {
      auto ids = continuation_after(context, moved_spaces + ex.continuations[c], context_ids.size(), tok);
      EP_CHECK(!ids.empty(), "{}: choice {} (\"{}\") adds no tokens after the prompt ({})", ex.source, c,
               ex.continuations[c], task_label(task));
      t.continuation_ids.push_back(std::move(ids));
    }
    t.answer_id = t.continuation_ids[static_cast<size_t>(ex.answer)][0];
    t.answer_ids = {t.answer_id};
    t.prompt_ids = with_bos(std::move(context_ids), tok, opts);
    out.examples.push_back(std::move(t));
  }
}

}  // namespace

TokenizedTask tokenize_task(const Task& task, const BpeTokenizer& tokenizer, const TokenizeOptions& opts) {
  TokenizedTask out;
  out.name = task.name;
  out.prompt_set = task.prompt_set;
  out.scoring = task.scoring;
  out.whole_answers = task.whole_answers;
  out.examples.reserve(task.examples.size());
  if (task.scoring == Scoring::FirstToken)
    tokenize_first_token(task, tokenizer, opts, out);
  else
    tokenize_choice_loglik(task, tokenizer, opts, out);
  return out;
}

}  // namespace ep
