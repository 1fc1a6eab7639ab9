// GPT-2 pre-tokenization: splits text into the pieces that BPE then encodes one by
// one, with the GPT-2 regex compiled once per process by PCRE2 (UTF + UCP so that
// \p{L}, \p{N} and \s are Unicode-aware) and JIT-compiled when the platform allows.
// Three flavours of the same regex: Hugging Face tokenizers' (tokenizer folders) and
// llama.cpp's "gpt-2" and "smollm" pre-tokenizers (GGUF files); docs/tokenizer.md.
// ref: openai/gpt-2 src/encoder.py `self.pat`; PCRE2 pcre2jit(3), pcre2pattern(3) "UCP".
#pragma once

#include <cstddef>
#include <string_view>

namespace ep::tokenizer_detail {

enum class PreTokenizer {
  Gpt2,            // HF tokenizers' ByteLevel (GPT-2 regex), PCRE2's Unicode tables
  LlamaCppGpt2,    // llama.cpp LLAMA_VOCAB_PRE_TYPE_GPT2: the same regex, llama.cpp's tables
  LlamaCppSmolLM,  // llama.cpp LLAMA_VOCAB_PRE_TYPE_SMOLLM: each \p{N} alone, then GPT-2
};
std::string_view pre_tokenizer_name(PreTokenizer kind);  // for messages

struct ThreadMatchState;  // PCRE2 match data of one thread (gpt2_pretokenizer.cpp)

// The GPT-2 split pattern as published ("\s" etc. as written there), for reference:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// ref: openai/gpt-2 src/encoder.py; HF tokenizers ByteLevel; gpt-tokenizer R50K_TOKEN_SPLIT_REGEX.
//
// What "\s" means differs between regex engines: HF tokenizers (Oniguruma) uses the
// Unicode White_Space property, PCRE2 with UCP adds U+180E, JavaScript adds U+FEFF and
// drops U+0085. The patterns compiled here spell White_Space out so that pieces match
// HF tokenizers, which the reference ids come from (llama.cpp's set is the same 25).
// ref: Unicode PropList.txt, White_Space (25 code points).
#define EP_GPT2_WHITE_SPACE \
  R"(\x{09}-\x{0D}\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})"
inline constexpr std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^)" EP_GPT2_WHITE_SPACE R"(\p{L}\p{N}]+)"
    R"(|[)" EP_GPT2_WHITE_SPACE R"(]+(?![^)" EP_GPT2_WHITE_SPACE R"(])|[)" EP_GPT2_WHITE_SPACE R"(]+)";

// llama.cpp classifies code points with its own tables (src/unicode-data.cpp, Unicode
// 15.1), not PCRE2's (10.42: Unicode 14). These are the code points llama.cpp calls
// letter (L) or number (N) and PCRE2 10.42 leaves unassigned: Unicode 15.0 and 15.1
// additions (Kawi, Nag Mundari, Kaktovik numerals, CJK extensions H and I, ...). Listing
// them beside \p{L} / \p{N} is a no-op for a PCRE2 that knows them already.
// ref: llama.cpp src/unicode.cpp unicode_cpt_flags_from_cpt; docs/tokenizer.md.
#define EP_LLAMA_CPP_EXTRA_L                                                       \
  R"(\x{1123F}-\x{11240}\x{11F02}\x{11F04}-\x{11F10}\x{11F12}-\x{11F33}\x{1342F})" \
  R"(\x{13441}-\x{13446}\x{1B132}\x{1B155}\x{1DF25}-\x{1DF2A}\x{1E030}-\x{1E06D})" \
  R"(\x{1E4D0}-\x{1E4EB}\x{2B739}\x{2EBF0}-\x{2EE5D}\x{31350}-\x{323AF})"
#define EP_LLAMA_CPP_EXTRA_N R"(\x{11F50}-\x{11F59}\x{1D2C0}-\x{1D2D3}\x{1E4F0}-\x{1E4F9})"
#define EP_L R"(\p{L})" EP_LLAMA_CPP_EXTRA_L
#define EP_N R"(\p{N})" EP_LLAMA_CPP_EXTRA_N

// llama.cpp's GPT-2 split, which its unicode_regex_split_custom_gpt2 implements by hand:
// the regex above without the final `|\s+`, text no alternative matches becoming a piece
// of its own; that gives the same pieces as `|\s+` (a lone whitespace character).
// ref: llama.cpp src/llama-vocab.cpp LLAMA_VOCAB_PRE_TYPE_GPT2, src/unicode.cpp.
inline constexpr std::string_view kLlamaCppGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?[)" EP_L R"(]+| ?[)" EP_N R"(]+| ?[^)" EP_GPT2_WHITE_SPACE EP_L EP_N R"(]+)"
    R"(|[)" EP_GPT2_WHITE_SPACE R"(]+(?![^)" EP_GPT2_WHITE_SPACE R"(])|[)" EP_GPT2_WHITE_SPACE R"(]+)";

// llama.cpp's SmolLM split applies two regexes in turn: `\p{N}` (each number character
// is a piece) and then the GPT-2 split on each stretch between them. One pattern does
// the same in one pass: `\p{N}` as the first alternative, ` ?\p{N}+` gone, and the
// whitespace lookahead treating a number like the end of the stretch (a run of blanks
// before a digit stays whole, as it would at the end of the text).
// ref: llama.cpp src/llama-vocab.cpp LLAMA_VOCAB_PRE_TYPE_SMOLLM (also STARCODER, REFACT, ...).
inline constexpr std::string_view kLlamaCppSmolLMSplitPattern =
    R"([)" EP_N R"(]|'s|'t|'re|'ve|'m|'ll|'d| ?[)" EP_L R"(]+| ?[^)" EP_GPT2_WHITE_SPACE EP_L EP_N R"(]+)"
    R"(|[)" EP_GPT2_WHITE_SPACE R"(]+(?![^)" EP_GPT2_WHITE_SPACE EP_N R"(])|[)" EP_GPT2_WHITE_SPACE R"(]+)";
#undef EP_N
#undef EP_L
#undef EP_LLAMA_CPP_EXTRA_N
#undef EP_LLAMA_CPP_EXTRA_L
#undef EP_GPT2_WHITE_SPACE

class Gpt2PreTokenizer {
 public:
  // The process-wide instance of one flavour (compiling + JIT takes about a millisecond;
  // the compiled code is immutable and shared by all threads).
  static const Gpt2PreTokenizer& instance(PreTokenizer kind = PreTokenizer::Gpt2);

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
  PreTokenizer kind() const { return kind_; }

 private:
  Gpt2PreTokenizer(PreTokenizer kind, std::string_view pattern);
  PreTokenizer kind_;
  void* code_ = nullptr;  // pcre2_code_8*; void keeps pcre2.h out of this header
  bool jit_ = false;
};

}  // namespace ep::tokenizer_detail
