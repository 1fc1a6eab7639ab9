// BpeTokenizer read from a GGUF file's metadata. Small files written here check the
// loader, the "smollm" / "gpt-2" pre-tokenizers and every error; the real
// SmolLM2-135M-Instruct file is checked id for id against llama.cpp itself
// (tests/reference/llama_cpp_tokenize.py, PyPI llama-cpp-python) on the Debian
// license/copyright corpus that tokenizer_hf_test.cpp uses and on every arithmetic
// prompt and answer of the INT-SUM and INT-MULT tasks. Those skip only when the GGUF
// file is absent or EP_PYTHON cannot import llama_cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/tokenizer/byte_unicode.h"
#include "core/tokenizer/utf8.h"
#include "tests/core/tokenizer_test_util.h"

namespace ep {
namespace {

namespace fs = std::filesystem;
using test::expect_error_mentioning;
using test::TempDir;
using test::write_file;

// ---- small GGUF files ----------------------------------------------------------

// GGUF v3 metadata assembled by hand, no tensors (ref: core/io/gguf.h for the layout).
class GgufMetadata {
 public:
  GgufMetadata& string(const std::string& key, const std::string& v) { return entry(key, kString).str(v); }
  GgufMetadata& strings(const std::string& key, const std::vector<std::string>& v) {
    entry(key, kArray).u32(kString).u64(v.size());
    for (const auto& s : v) str(s);
    return *this;
  }
  GgufMetadata& int32s(const std::string& key, const std::vector<int32_t>& v) {
    entry(key, kArray).u32(kInt32).u64(v.size());
    for (int32_t x : v) u32(static_cast<uint32_t>(x));
    return *this;
  }
  GgufMetadata& uint32(const std::string& key, uint32_t v) { return entry(key, kUint32).u32(v); }
  GgufMetadata& boolean(const std::string& key, bool v) {
    entry(key, kBool);
    body_ += static_cast<char>(v);
    return *this;
  }
  std::string bytes() const {
    GgufMetadata head;
    head.body_ = "GGUF";
    head.u32(3).u64(0).u64(count_);
    return head.body_ + body_;
  }

 private:
  static constexpr uint32_t kUint32 = 4, kInt32 = 5, kBool = 7, kString = 8, kArray = 9;
  GgufMetadata& entry(const std::string& key, uint32_t type) {
    ++count_;
    return str(key).u32(type);
  }
  GgufMetadata& str(const std::string& s) {
    u64(s.size());
    body_ += s;
    return *this;
  }
  GgufMetadata& u32(uint32_t v) { return le(v, 4); }
  GgufMetadata& u64(uint64_t v) { return le(v, 8); }
  GgufMetadata& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) body_ += static_cast<char>(v >> (8 * i));
    return *this;
  }
  std::string body_;
  uint64_t count_ = 0;
};

// A tiny byte-level vocabulary: byte b is token b, then merged tokens, then one control
// and one user-defined token. Each field can be left out or replaced to break the file.
struct TinyTokenizer {
  std::string model = "gpt2";
  std::string pre = "smollm";
  std::vector<std::string> tokens;
  std::vector<std::string> merges = {"Ġ Ġ", "1 2", "h i", "Ġ hi"};
  std::vector<int32_t> types;
  bool with_model = true, with_pre = true, with_tokens = true, with_merges = true, with_types = true;
  uint32_t bos = 257, eos = 258;

  TinyTokenizer() {
    for (int b = 0; b < 256; ++b) tokens.push_back(tokenizer_detail::byte_symbols()[b]);
    for (const char* t : {"ĠĠ", "12", "hi", "Ġhi", "<|im_start|>", "<think>"}) tokens.push_back(t);
    types.assign(tokens.size(), 1);
    types[260] = 3;  // control
    types[261] = 4;  // user-defined
  }
  static constexpr TokenId kSpaces = 256, kTwelve = 257, kHi = 258, kSpaceHi = 259, kImStart = 260, kThink = 261;

  // Adds the merge "left right" (and its result as a token); returns the result's id.
  TokenId add_merge(const std::string& left, const std::string& right) {
    merges.push_back(left + " " + right);
    auto it = std::find(tokens.begin(), tokens.end(), left + right);
    if (it != tokens.end()) return it - tokens.begin();
    tokens.push_back(left + right);
    types.push_back(1);
    return static_cast<TokenId>(tokens.size()) - 1;
  }
  // Adds merges that join the bytes of `utf8` onto `token` one by one.
  TokenId add_merge_chain(std::string token, std::string_view utf8) {
    TokenId id = -1;
    for (unsigned char b : utf8) {
      id = add_merge(token, tokenizer_detail::byte_symbols()[b]);
      token += tokenizer_detail::byte_symbols()[b];
    }
    return id;
  }

  std::string bytes() const {
    GgufMetadata m;
    m.string("general.architecture", "llama");
    if (with_model) m.string("tokenizer.ggml.model", model);
    if (with_pre) m.string("tokenizer.ggml.pre", pre);
    if (with_tokens) m.strings("tokenizer.ggml.tokens", tokens);
    if (with_types) m.int32s("tokenizer.ggml.token_type", types);
    if (with_merges) m.strings("tokenizer.ggml.merges", merges);
    m.uint32("tokenizer.ggml.bos_token_id", bos).uint32("tokenizer.ggml.eos_token_id", eos);
    m.boolean("tokenizer.ggml.add_bos_token", true);
    return m.bytes();
  }
};

fs::path write_gguf(const TempDir& dir, const std::string& bytes) {
  fs::path path = dir.path() / "tokenizer.gguf";
  write_file(path, bytes);
  return path;
}

std::vector<TokenId> bytes_of(std::string_view s) { return std::vector<TokenId>(s.begin(), s.end()); }

TEST(TokenizerGguf, TinyFileLoadsWithSpecialTokensAndBos) {
  TempDir dir("gguf-ok");
  BpeTokenizer tok = BpeTokenizer::load(write_gguf(dir, TinyTokenizer().bytes()));
  EXPECT_EQ(tok.vocab_size(), 262);
  EXPECT_EQ(tok.bos_id(), 257);
  EXPECT_EQ(tok.eos_id(), 258);
  EXPECT_TRUE(tok.add_bos());
  EXPECT_EQ(tok.encode("hi"), std::vector<TokenId>{TinyTokenizer::kHi});
  EXPECT_EQ(tok.encode("a hi"), (std::vector<TokenId>{'a', TinyTokenizer::kSpaceHi}));
  // Control and user-defined tokens are matched whole, as llama.cpp's parse_special does.
  EXPECT_EQ(tok.encode("<|im_start|>hi<think>"),
            (std::vector<TokenId>{TinyTokenizer::kImStart, TinyTokenizer::kHi, TinyTokenizer::kThink}));
  EXPECT_EQ(tok.decode(tok.encode("<|im_start|>hi<think> x")), "<|im_start|>hi<think> x");
  EXPECT_EQ(tok.id_to_token(TinyTokenizer::kSpaces), "ĠĠ");
}

TEST(TokenizerGguf, SmolLMSplitsEveryDigitAndKeepsBlanksBeforeDigitsTogether) {
  TempDir dir("gguf-smollm");
  BpeTokenizer tok = BpeTokenizer::load(write_gguf(dir, TinyTokenizer().bytes()));
  // "12" is a token, but each digit is a piece of its own.
  EXPECT_EQ(tok.encode("12"), bytes_of("12"));
  // Two blanks before a digit end the stretch the GPT-2 rules see, so they stay one piece.
  EXPECT_EQ(tok.encode("x  1"), (std::vector<TokenId>{'x', TinyTokenizer::kSpaces, '1'}));
  EXPECT_EQ(tok.encode("  hi"), (std::vector<TokenId>{' ', TinyTokenizer::kSpaceHi}));
  EXPECT_EQ(tok.encode(" 3"), bytes_of(" 3"));
  // Non-ASCII numbers split too: Arabic-Indic digits, and U+11F50 KAWI DIGIT ZERO, which
  // llama.cpp's Unicode 15.1 tables know and PCRE2 10.42 (Unicode 14) does not.
  EXPECT_EQ(tok.encode("a\u0661\u0662").size(), 1u + 2u + 2u);
  EXPECT_EQ(tok.decode(tok.encode("a\U00011F50\U00011F51b")), "a\U00011F50\U00011F51b");
}

// Letters and numbers are llama.cpp's (Unicode 15.1), whatever PCRE2's tables say:
// U+2EBF0 (CJK extension I, Unicode 15.1) is a letter, though PCRE2 10.42 (Unicode 14)
// does not know it; U+105C0 (Todhri, Unicode 16.0) is not, so a PCRE2 on Unicode 16
// fails here (docs/tokenizer.md "Unicode tables").
TEST(TokenizerGguf, UnicodeTablesAreLlamaCpps) {
  TempDir dir("gguf-unicode");
  TinyTokenizer tiny;
  const TokenId a_cjk = tiny.add_merge_chain("a", "\U0002EBF0");
  tiny.add_merge_chain("a", "\U000105C0");
  const TokenId digit = tiny.add_merge_chain(tokenizer_detail::byte_symbols()[0xF0], "\x9E\x93\xB3");  // U+1E4F3
  const TokenId space_digit = tiny.add_merge("Ġ", tiny.tokens[digit]);
  for (const char* pre : {"smollm", "gpt-2"}) {
    SCOPED_TRACE(pre);
    tiny.pre = pre;
    BpeTokenizer tok = BpeTokenizer::load(write_gguf(dir, tiny.bytes()));
    EXPECT_EQ(tok.encode("a\U0002EBF0"), std::vector<TokenId>{a_cjk});
    EXPECT_EQ(tok.encode("a\U000105C0"), (std::vector<TokenId>{'a', 0xF0, 0x90, 0x97, 0x80}));
    // U+1E4F3 NAG MUNDARI DIGIT THREE (Unicode 15.0) is a number: its own piece for smollm.
    const std::vector<TokenId> split = {' ', digit}, whole = {space_digit};
    EXPECT_EQ(tok.encode(" \U0001E4F3"), std::string(pre) == "smollm" ? split : whole);
  }
}

TEST(TokenizerGguf, BytesWithoutATokenAreDroppedAndBlockMerges) {
  TempDir dir("gguf-nobyte");
  TinyTokenizer tiny;
  tiny.tokens[4] = "<unused4>";  // byte 0x04 has no token, as in SmolLM2's vocabulary
  BpeTokenizer tok = BpeTokenizer::load(write_gguf(dir, tiny.bytes()));
  EXPECT_EQ(tok.encode("h\x04i"), bytes_of("hi"));  // as llama.cpp: dropped, "h" "i" not merged
  EXPECT_EQ(tok.encode("\x04"), std::vector<TokenId>{});
  EXPECT_EQ(tok.encode("hi\x04\x04 hi"), (std::vector<TokenId>{TinyTokenizer::kHi, TinyTokenizer::kSpaceHi}));
  EXPECT_EQ(tok.encode("hi\x04\x04 hi"), (std::vector<TokenId>{TinyTokenizer::kHi, TinyTokenizer::kSpaceHi}));  // cached
}

TEST(TokenizerGguf, Gpt2PreTokenizerKeepsNumbersTogether) {
  TempDir dir("gguf-gpt2");
  TinyTokenizer tiny;
  tiny.pre = "gpt-2";
  BpeTokenizer tok = BpeTokenizer::load(write_gguf(dir, tiny.bytes()));
  EXPECT_EQ(tok.encode("12"), std::vector<TokenId>{TinyTokenizer::kTwelve});
  EXPECT_EQ(tok.encode("x  1"), bytes_of("x  1"));  // "x", " ", " 1": no "Ġ1" token
}

// ---- errors -----------------------------------------------------------------------

void expect_gguf_error(const TinyTokenizer& tiny, std::initializer_list<std::string> needles) {
  TempDir dir("gguf-bad");
  fs::path path = write_gguf(dir, tiny.bytes());
  expect_error_mentioning([&] { BpeTokenizer::load(path); }, needles);
  expect_error_mentioning([&] { BpeTokenizer::load(path); }, {path.string()});
}

TEST(TokenizerGgufErrors, MissingTokensOrMerges) {
  TinyTokenizer no_tokens;
  no_tokens.with_tokens = false;
  expect_gguf_error(no_tokens, {"tokenizer.ggml.tokens", "missing"});
  TinyTokenizer no_merges;
  no_merges.with_merges = false;
  expect_gguf_error(no_merges, {"tokenizer.ggml.merges", "missing"});
}

TEST(TokenizerGgufErrors, WrongTypes) {
  TempDir dir("gguf-types");
  GgufMetadata m;  // tokens as an array of int32
  m.string("tokenizer.ggml.model", "gpt2").string("tokenizer.ggml.pre", "smollm");
  m.int32s("tokenizer.ggml.tokens", {1, 2, 3});
  fs::path path = write_gguf(dir, m.bytes());
  expect_error_mentioning([&] { BpeTokenizer::load(path); },
                          {path.string(), "tokenizer.ggml.tokens", "array of 3 int32", "expected an array of string"});
  GgufMetadata merges_scalar;
  merges_scalar.string("tokenizer.ggml.model", "gpt2").string("tokenizer.ggml.pre", "smollm");
  merges_scalar.strings("tokenizer.ggml.tokens", TinyTokenizer().tokens).string("tokenizer.ggml.merges", "a b");
  path = write_gguf(dir, merges_scalar.bytes());
  expect_error_mentioning([&] { BpeTokenizer::load(path); },
                          {path.string(), "tokenizer.ggml.merges", "is string", "expected an array of string"});
  GgufMetadata model_number;
  model_number.uint32("tokenizer.ggml.model", 2);
  path = write_gguf(dir, model_number.bytes());
  expect_error_mentioning([&] { BpeTokenizer::load(path); }, {path.string(), "tokenizer.ggml.model", "uint32"});
  TinyTokenizer short_types;
  short_types.types.pop_back();
  expect_gguf_error(short_types, {"tokenizer.ggml.token_type", "261 entries", "262 tokens"});
}

TEST(TokenizerGgufErrors, MergeNamingAnUnknownToken) {
  TinyTokenizer unknown_part;
  unknown_part.merges.push_back("hi xyz");
  expect_gguf_error(unknown_part, {"tokenizer.ggml.merges", "entry 4", "\"xyz\"", "tokenizer.ggml.tokens"});
  TinyTokenizer unknown_result;
  unknown_result.merges.push_back("a b");  // "ab" is no token
  expect_gguf_error(unknown_result, {"tokenizer.ggml.merges", "entry 4", "\"ab\" is not in"});
  TinyTokenizer no_space;
  no_space.merges.push_back("ab");
  expect_gguf_error(no_space, {"tokenizer.ggml.merges", "entry 4", "two tokens"});
}

TEST(TokenizerGgufErrors, UnsupportedModelOrPreTokenizer) {
  TinyTokenizer sentencepiece;
  sentencepiece.model = "llama";
  expect_gguf_error(sentencepiece, {"tokenizer.ggml.model", "\"llama\"", "SentencePiece", "\"gpt2\""});
  TinyTokenizer bert;
  bert.model = "bert";
  expect_gguf_error(bert, {"tokenizer.ggml.model", "\"bert\"", "\"gpt2\""});
  TinyTokenizer no_model;
  no_model.with_model = false;
  expect_gguf_error(no_model, {"tokenizer.ggml.model", "missing"});
  TinyTokenizer qwen;
  qwen.pre = "qwen2";
  expect_gguf_error(qwen, {"tokenizer.ggml.pre", "\"qwen2\"", "\"smollm\", \"gpt-2\", \"phi-2\""});
  TinyTokenizer no_pre;  // llama.cpp's "default" splits differently from GPT-2
  no_pre.with_pre = false;
  expect_gguf_error(no_pre, {"tokenizer.ggml.pre", "missing", "\"default\"", "\"smollm\""});
}

TEST(TokenizerGgufErrors, BadSpecialIdsAndDuplicateTokens) {
  TinyTokenizer bos;
  bos.bos = 9999;
  expect_gguf_error(bos, {"tokenizer.ggml.bos_token_id", "9999", "0..261"});
  TinyTokenizer twice;
  twice.tokens[259] = "hi";
  expect_gguf_error(twice, {"tokenizer.ggml.tokens", "\"hi\" twice", "258 and 259"});
}

TEST(TokenizerGgufErrors, AFileThatIsNotGguf) {
  TempDir dir("gguf-notgguf");
  write_file(dir.path() / "vocab.json", R"({"a": 1, "b": 2})");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path() / "vocab.json"); },
                          {(dir.path() / "vocab.json").string(), "not a GGUF file"});
}

// ---- the real SmolLM2 file against llama.cpp ---------------------------------------------

fs::path smollm2_gguf() {
  const char* env = std::getenv("EP_SMOLLM2_GGUF");
  return env ? fs::path(env) : fs::path(EP_SOURCE_DIR) / "data" / "SmolLM2-135M-Instruct.Q4_1.gguf";
}

const fs::path kReference = fs::path(EP_SOURCE_DIR) / "tests" / "reference" / "llama_cpp_tokenize.py";

bool have_llama_cpp() { return std::system("'" EP_PYTHON "' -c 'import llama_cpp' >/dev/null 2>&1") == 0; }

#define SKIP_WITHOUT_SMOLLM2()                                                                       \
  if (!fs::exists(smollm2_gguf())) GTEST_SKIP() << smollm2_gguf() << " is absent (scripts/setup)"
#define SKIP_WITHOUT_LLAMA_CPP()                                                                     \
  SKIP_WITHOUT_SMOLLM2();                                                                            \
  if (!have_llama_cpp()) GTEST_SKIP() << EP_PYTHON << " cannot import llama_cpp (llama-cpp-python)"

const BpeTokenizer& smollm2() {
  static const BpeTokenizer tokenizer = BpeTokenizer::load(smollm2_gguf());
  return tokenizer;
}

std::vector<std::vector<TokenId>> run_llama_cpp(const fs::path& gguf, const std::vector<std::string>& texts,
                                                bool special = false) {
  test::TempDir work("llama-cpp");
  return test::reference_ids(kReference, gguf.string(), texts, work.path(), special ? "special" : "");
}

struct Comparison {
  size_t mismatches = 0, tokens = 0, round_trip_failures = 0;
};

// Encodes every text, checks ids against `theirs` and decode(encode(x)) == x; the first
// five differences are reported with the text around them.
Comparison compare(const BpeTokenizer& tok, const std::vector<std::string>& texts,
                   const std::vector<std::vector<TokenId>>& theirs) {
  Comparison c;
  EXPECT_EQ(theirs.size(), texts.size());
  for (size_t i = 0; i < texts.size() && i < theirs.size(); ++i) {
    std::vector<TokenId> ours = tok.encode(texts[i]);
    c.tokens += ours.size();
    if (tok.decode(ours) != texts[i] && ++c.round_trip_failures <= 5) {
      ADD_FAILURE() << "text " << i << " does not survive decode(encode(x)): \"" << texts[i].substr(0, 160) << "\"";
    }
    if (ours == theirs[i]) continue;
    if (++c.mismatches <= 5)
      ADD_FAILURE() << "text " << i << ": " << test::describe_mismatch(tok, texts[i], ours, theirs[i], "llama.cpp");
  }
  EXPECT_EQ(c.mismatches, 0u) << "of " << texts.size() << " texts";
  EXPECT_EQ(c.round_trip_failures, 0u) << "of " << texts.size() << " texts";
  return c;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(TokenizerGgufSmolLM2, MetadataGivesVocabularyAndSpecialIds) {
  SKIP_WITHOUT_SMOLLM2();
  const BpeTokenizer& tok = smollm2();
  EXPECT_EQ(tok.vocab_size(), 49152);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_FALSE(tok.add_bos());
  EXPECT_EQ(tok.token_to_id("<|im_start|>"), 1);
  EXPECT_EQ(tok.id_to_token(0), "<|endoftext|>");
}

TEST(TokenizerGgufSmolLM2, MatchesLlamaCppOnDebianText) {
  SKIP_WITHOUT_LLAMA_CPP();
  test::Corpus corpus = test::debian_corpus();
  ASSERT_GE(corpus.bytes, size_t{4} << 20) << "too little text under /usr/share/common-licenses and /usr/share/doc";
  auto t0 = std::chrono::steady_clock::now();
  auto theirs = run_llama_cpp(smollm2_gguf(), corpus.chunks);
  double llama_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  Comparison c = compare(smollm2(), corpus.chunks, theirs);
  std::cout << "[ corpus   ] " << corpus.bytes << " bytes, " << corpus.chunks.size() << " chunks from " << corpus.files
            << " files (skipped " << corpus.skipped_files << "); " << c.tokens << " tokens, " << c.mismatches
            << " mismatches; llama.cpp " << llama_s << " s (incl. start-up), eprunner " << seconds_since(t0)
            << " s (incl. decode)\n";
}

// Every prompt and answer of INT-SUM ("{i} + {j} =", " {i+j}", i, j < 100) and INT-MULT
// ("{i} x {j} =", " {i*j}", i, j < 20), each encoded on its own.
TEST(TokenizerGgufSmolLM2, MatchesLlamaCppOnArithmeticPrompts) {
  SKIP_WITHOUT_LLAMA_CPP();
  std::vector<std::string> texts;
  for (int i = 0; i < 100; ++i) {
    for (int j = 0; j < 100; ++j) {
      texts.push_back(std::to_string(i) + " + " + std::to_string(j) + " =");
      texts.push_back(" " + std::to_string(i + j));
    }
  }
  for (int i = 0; i < 20; ++i) {
    for (int j = 0; j < 20; ++j) {
      texts.push_back(std::to_string(i) + " x " + std::to_string(j) + " =");
      texts.push_back(" " + std::to_string(i * j));
    }
  }
  Comparison c = compare(smollm2(), texts, run_llama_cpp(smollm2_gguf(), texts));
  std::cout << "[ prompts  ] " << texts.size() << " texts, " << c.tokens << " tokens, " << c.mismatches
            << " mismatches\n";
  EXPECT_EQ(smollm2().encode("12 + 34 ="), (std::vector<TokenId>{33, 34, 1232, 216, 35, 36, 446}));
}

// Where the pre-tokenizers differ: blanks before digits, non-ASCII numbers and letters
// (some only in Unicode 15.1), contractions, control tokens.
const std::vector<std::string> kEdgeCases = {
    "x  12",  "abc\n\n2024",  "\t7",        "a \n 3",          "   \u00A0 9",       "I'll 2's 'S 3'd",
    "٣٤٥ ١٢",  "Ⅻ ½ ²",        "x\U00011F50y", "\U0002EBF0\U0002EBF1 \U0001E4F3", "𝟘𝟙 ①②", "trailing  ",
    "5\u3000 6", "\u2028\u2029 1", "e\u0301 2", "",                "0",                "  ",
};

TEST(TokenizerGgufSmolLM2, MatchesLlamaCppOnEdgeCases) {
  SKIP_WITHOUT_LLAMA_CPP();
  compare(smollm2(), kEdgeCases, run_llama_cpp(smollm2_gguf(), kEdgeCases));
}

TEST(TokenizerGgufSmolLM2, MatchesLlamaCppParseSpecialOnChatText) {
  SKIP_WITHOUT_LLAMA_CPP();
  const std::vector<std::string> texts = {"<|im_start|>user\nWhat is 12 + 34?<|im_end|>\n<|im_start|>assistant\n",
                                          "a<|endoftext|>b <filename>x<jupyter_code>  7<|im_end|>"};
  auto theirs = run_llama_cpp(smollm2_gguf(), texts, /*special=*/true);
  compare(smollm2(), texts, theirs);
  ASSERT_FALSE(theirs.empty());
  EXPECT_EQ(theirs[0].front(), 1) << "<|im_start|> is one token";
}

// A metadata-only copy of the SmolLM2 file changed as `changes` says (see
// llama_cpp_tokenize.py variant).
fs::path smollm2_variant(const test::TempDir& dir, const nlohmann::json& changes) {
  fs::path out = dir.path() / "variant.gguf";
  std::string text = changes.dump();
  EXPECT_EQ(text.find('\''), std::string::npos) << "the JSON goes into a shell command in single quotes";
  std::string cmd = "'" EP_PYTHON "' '" + kReference.string() + "' variant '" + smollm2_gguf().string() + "' '" +
                    out.string() + "' '" + text + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

// The same vocabulary under tokenizer.ggml.pre = "gpt-2": llama.cpp's GPT-2
// pre-tokenizer, on a tenth of the corpus and the edge cases.
TEST(TokenizerGgufSmolLM2, MatchesLlamaCppWithGpt2PreTokenizer) {
  SKIP_WITHOUT_LLAMA_CPP();
  test::TempDir dir("gguf-gpt2-pre");
  fs::path variant = smollm2_variant(dir, {{"set", {{"tokenizer.ggml.pre", "gpt-2"}}}});
  BpeTokenizer tok = BpeTokenizer::load(variant);
  test::Corpus corpus = test::debian_corpus();
  std::vector<std::string> texts = kEdgeCases;
  for (size_t i = 0; i < corpus.chunks.size(); i += 10) texts.push_back(corpus.chunks[i]);
  Comparison c = compare(tok, texts, run_llama_cpp(variant, texts));
  std::cout << "[ gpt-2    ] " << texts.size() << " texts, " << c.tokens << " tokens, " << c.mismatches
            << " mismatches\n";
  EXPECT_NE(tok.encode("x  12"), smollm2().encode("x  12"));
}

// The pieces follow llama.cpp's Unicode 15.1 tables, not PCRE2's (10.42: Unicode 14):
// U+1E4F3 NAG MUNDARI DIGIT THREE is a number there and U+2EBF0 (CJK extension I) a
// letter. SmolLM2's merges never join such a character to a neighbour, so the ids could
// not tell; a variant of the file gets merges that make " \U0001E4F3" and "a\U0002EBF0"
// tokens. With PCRE2's tables the SmolLM split would keep " \U0001E4F3" whole and both
// splits would cut "a" from "\U0002EBF0".
TEST(TokenizerGgufSmolLM2, SplitsWithLlamaCppUnicodeTables) {
  SKIP_WITHOUT_LLAMA_CPP();
  std::vector<std::string> merges;
  auto merge_up = [&](std::string token, std::string_view utf8) {  // token + the bytes of utf8
    for (unsigned char b : utf8) {
      merges.push_back(token + " " + tokenizer_detail::byte_symbols()[b]);
      token += tokenizer_detail::byte_symbols()[b];
    }
    return token;
  };
  const std::string digit = "\U0001E4F3", letter = "\U0002EBF0";
  const std::string digit_token = merge_up(tokenizer_detail::byte_symbols()[0xF0], digit.substr(1));
  const std::string letter_token = merge_up(tokenizer_detail::byte_symbols()[0xF0], letter.substr(1));
  merges.push_back("Ġ " + digit_token);
  merges.push_back("a " + letter_token);
  const std::vector<std::string> texts = {" " + digit, "a" + letter, "x " + digit + digit + " a" + letter + "b"};
  for (const char* pre : {"smollm", "gpt-2"}) {
    SCOPED_TRACE(pre);
    test::TempDir dir("gguf-unicode");
    fs::path variant = smollm2_variant(dir, {{"set", {{"tokenizer.ggml.pre", pre}}}, {"add_merges", merges}});
    BpeTokenizer tok = BpeTokenizer::load(variant);
    compare(tok, texts, run_llama_cpp(variant, texts));
    const bool smollm = std::string(pre) == "smollm";
    const std::vector<TokenId> split = {216, *tok.token_to_id(digit_token)};
    const std::vector<TokenId> whole = {*tok.token_to_id("Ġ" + digit_token)};
    EXPECT_EQ(tok.encode(texts[0]), smollm ? split : whole);
    EXPECT_EQ(tok.encode(texts[1]), std::vector<TokenId>{*tok.token_to_id("a" + letter_token)});
  }
}

}  // namespace
}  // namespace ep
