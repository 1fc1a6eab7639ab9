// GPT-2 pre-tokenization: splits text into the pieces that BPE then encodes one by
// one, with the GPT-2 regex compiled once per process by PCRE2 (UTF + UCP so that
// \p{L}, \p{N} and \s are Unicode-aware) and JIT-compiled when the platform allows.
// ref: openai/gpt-2 src/encoder.py `self.pat`; PCRE2 pcre2jit(3), pcre2pattern(3) "UCP".
#pragma once

#include <cstddef>
#include <string_view>

namespace ep::tokenizer_detail {

struct ThreadMatchState;  // PCRE2 match data of one thread (gpt2_pretokenizer.cpp)

// The GPT-2 split pattern as published ("\s" etc. as written there), for reference:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// ref: openai/gpt-2 src/encoder.py; HF tokenizers ByteLevel; gpt-tokenizer R50K_TOKEN_SPLIT_REGEX.
//
// What "\s" means differs between regex engines: HF tokenizers (Oniguruma) uses the
// Unicode White_Space property, PCRE2 with UCP adds U+180E, JavaScript adds U+FEFF and
// drops U+0085. The pattern compiled here spells White_Space out so that pieces match
// HF tokenizers, which the reference ids come from.
// ref: Unicode PropList.txt, White_Space (25 code points).
#define EP_GPT2_WHITE_SPACE \
  R"(\x{09}-\x{0D}\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})"
inline constexpr std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^)" EP_GPT2_WHITE_SPACE R"(\p{L}\p{N}]+)"
    R"(|[)" EP_GPT2_WHITE_SPACE R"(]+(?![^)" EP_GPT2_WHITE_SPACE R"(])|[)" EP_GPT2_WHITE_SPACE R"(]+)";
#undef EP_GPT2_WHITE_SPACE

class Gpt2PreTokenizer {
 public:
  // The process-wide instance (compiling + JIT takes about a millisecond; the compiled
  // code is immutable and shared by all threads).
  static const Gpt2PreTokenizer& instance();

  // Walks the pieces of `text`, which MUST be valid UTF-8 (the JIT matcher does not
  // check it). Each thread uses its own match data and JIT stack.
  class Scanner {
   public:
    Scanner(const Gpt2PreTokenizer& pretokenizer, std::string_view text);
    // Sets `piece` to the next piece; false at the end of the text.
    bool next(std::string_view& piece);

   private:
    const Gpt2PreTokenizer& pre_;
    ThreadMatchState& state_;
    std::string_view text_;
    size_t offset_ = 0;
  };

  ~Gpt2PreTokenizer();
  Gpt2PreTokenizer(const Gpt2PreTokenizer&) = delete;
  Gpt2PreTokenizer& operator=(const Gpt2PreTokenizer&) = delete;

  bool uses_jit() const { return jit_; }

 private:
  Gpt2PreTokenizer();
  void* code_ = nullptr;  // pcre2_code_8*; void keeps pcre2.h out of this header
  bool jit_ = false;
};

}  // namespace ep::tokenizer_detail
