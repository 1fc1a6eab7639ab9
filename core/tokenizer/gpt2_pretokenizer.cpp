#include "core/tokenizer/gpt2_pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "core/util/error.h"

namespace ep::tokenizer_detail {

// Match data, match context and JIT stack of one thread. Match data holds the
// ovector that pcre2 writes, so threads must not share it; none of the three depends
// on the compiled pattern beyond its one capture pair, so one set serves all
// tokenizers of the thread.
struct ThreadMatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  ThreadMatchState();
  ~ThreadMatchState();
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;
};

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  if (n < 0) return "PCRE2 error " + std::to_string(code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

// ref: pcre2jit(3) "Controlling the JIT stack": the default 32 KiB machine stack can
// run out on long backtracking runs (e.g. a huge whitespace run before `(?!\S)`);
// a private stack that may grow to 8 MiB keeps such inputs working.
constexpr size_t kJitStackStart = 32 * 1024;
constexpr size_t kJitStackMax = 8 * 1024 * 1024;

}  // namespace

ThreadMatchState::ThreadMatchState() {
  data = pcre2_match_data_create(1, nullptr);
  context = pcre2_match_context_create(nullptr);
  jit_stack = pcre2_jit_stack_create(kJitStackStart, kJitStackMax, nullptr);
  if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
}

ThreadMatchState::~ThreadMatchState() {
  pcre2_jit_stack_free(jit_stack);
  pcre2_match_context_free(context);
  pcre2_match_data_free(data);
}

namespace {

ThreadMatchState& thread_match_state() {
  thread_local ThreadMatchState state;
  EP_CHECK(state.data && state.context, "GPT-2 pre-tokenizer: out of memory for PCRE2 match data");
  return state;
}

}  // namespace

std::string_view pre_tokenizer_name(PreTokenizer kind) {
  switch (kind) {
    case PreTokenizer::Gpt2: return "GPT-2";
    case PreTokenizer::LlamaCppGpt2: return "llama.cpp gpt-2";
    case PreTokenizer::LlamaCppSmolLM: return "llama.cpp smollm";
  }
  return "unknown";
}

const Gpt2PreTokenizer& Gpt2PreTokenizer::instance(PreTokenizer kind) {
  switch (kind) {
    case PreTokenizer::LlamaCppGpt2: {
      static const Gpt2PreTokenizer pretokenizer(kind, kLlamaCppGpt2SplitPattern);
      return pretokenizer;
    }
    case PreTokenizer::LlamaCppSmolLM: {
      static const Gpt2PreTokenizer pretokenizer(kind, kLlamaCppSmolLMSplitPattern);
      return pretokenizer;
    }
    case PreTokenizer::Gpt2:
      break;
  }
  static const Gpt2PreTokenizer pretokenizer(PreTokenizer::Gpt2, kGpt2SplitPattern);
  return pretokenizer;
}

Gpt2PreTokenizer::Gpt2PreTokenizer(PreTokenizer kind, std::string_view pattern) : kind_(kind) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (!code) {
    EP_FAIL("{} pre-tokenizer: PCRE2 could not compile the split pattern at offset {}: {}",
            pre_tokenizer_name(kind), error_offset, pcre2_message(error_code));
  }
  code_ = code;
  // Without JIT support (some platforms) the interpreter gives the same matches, slower.
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Gpt2PreTokenizer::~Gpt2PreTokenizer() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

Gpt2PreTokenizer::Scanner::Scanner(const Gpt2PreTokenizer& pretokenizer, std::string_view text)
    : pre_(pretokenizer), state_(thread_match_state()), text_(text) {}

bool Gpt2PreTokenizer::Scanner::next(std::string_view& piece) {
  if (offset_ >= text_.size()) return false;
  ThreadMatchState& state = state_;
  auto* code = static_cast<const pcre2_code*>(pre_.code_);
  auto subject = reinterpret_cast<PCRE2_SPTR>(text_.data());
  // The text was validated by the caller; NO_UTF_CHECK spares the interpreter a
  // re-scan of the whole subject on every call (pcre2_jit_match never checks).
  int rc = pre_.jit_ ? pcre2_jit_match(code, subject, text_.size(), offset_, 0, state.data, state.context)
                     : pcre2_match(code, subject, text_.size(), offset_, PCRE2_NO_UTF_CHECK, state.data,
                                   state.context);
  if (rc == PCRE2_ERROR_NOMATCH) {
    offset_ = text_.size();
    return false;
  }
  if (rc < 0) {
    EP_FAIL("GPT-2 pre-tokenizer: PCRE2 matching failed at byte offset {} of a {}-byte text: {}",
            offset_, text_.size(), pcre2_message(rc));
  }
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
  size_t start = ovector[0];
  size_t end = ovector[1];
  // Every alternative consumes at least one character, so end > start; the guard only
  // keeps a future pattern change from looping forever.
  if (end <= start) {
    offset_ = text_.size();
    return false;
  }
  piece = text_.substr(start, end - start);
  offset_ = end;
  return true;
}

}  // namespace ep::tokenizer_detail
