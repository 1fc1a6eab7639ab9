// Added tokens (tokenizer.json's added_tokens, added_tokens.json, tokenizer_config.json's
// added_tokens_decoder) are found in the raw text before BPE, leftmost then longest.
// The tokenizers here are the real GPT-2 vocabulary re-packed in those layouts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/core/tokenizer_test_util.h"

namespace ep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::TempDir;
using test::write_file;

json gpt2_vocab() { return json::parse(test::read_file(test::kGpt2TokenizerDir / "vocab.json")); }

// merges.txt lines without the "#version" header, as ["a", "b"] pairs or "a b" strings.
json gpt2_merges(bool as_pairs) {
  std::istringstream lines(test::read_file(test::kGpt2TokenizerDir / "merges.txt"));
  json merges = json::array();
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    if (!as_pairs) {
      merges.push_back(line);
      continue;
    }
    auto space = line.find(' ');
    merges.push_back(json::array({line.substr(0, space), line.substr(space + 1)}));
  }
  return merges;
}

json added_token(int64_t id, const std::string& content, bool special) {
  return json{{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
              {"rstrip", false}, {"normalized", !special}, {"special", special}};
}

// ids 50257.. follow GPT-2's 50257 tokens, as Phi-2's added tokens do.
constexpr TokenId kImStart = 50257, kFourSpaces = 50258, kTwoSpaces = 50259, kImStartX = 50260;

void write_tokenizer_json(const fs::path& dir, bool merges_as_pairs) {
  json added = json::array({added_token(50256, "<|endoftext|>", true), added_token(kImStart, "<|im_start|>", true),
                            added_token(kFourSpaces, "    ", false), added_token(kTwoSpaces, "  ", false),
                            added_token(kImStartX, "<|im_start|>x", true)});
  json root{{"version", "1.0"},
            {"added_tokens", added},
            {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"vocab", gpt2_vocab()}, {"merges", gpt2_merges(merges_as_pairs)}}}};
  write_file(dir / "tokenizer.json", root.dump());
}

std::vector<TokenId> concat(std::initializer_list<std::vector<TokenId>> parts) {
  std::vector<TokenId> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  return all;
}

class TokenizerJsonAddedTokens : public ::testing::TestWithParam<bool> {};

TEST_P(TokenizerJsonAddedTokens, AreMatchedBeforeBpe) {
  TempDir dir("tokjson");
  write_tokenizer_json(dir.path(), GetParam());
  BpeTokenizer tok = BpeTokenizer::load(dir.path());
  const auto& gpt2 = test::gpt2_tokenizer();

  EXPECT_EQ(tok.vocab_size(), 50261);
  EXPECT_EQ(tok.token_to_id("<|im_start|>"), kImStart);
  EXPECT_EQ(tok.id_to_token(kFourSpaces), "    ");
  EXPECT_EQ(tok.bos_id(), 50256);

  // Special token glued to text: split out, the text around it is BPE'd on its own.
  EXPECT_EQ(tok.encode("<|im_start|>hello"), concat({{kImStart}, gpt2.encode("hello")}));
  EXPECT_EQ(tok.encode("Hi<|endoftext|><|im_start|>"), concat({gpt2.encode("Hi"), {50256, kImStart}}));
  // Longest match at one position: "<|im_start|>x" beats "<|im_start|>".
  EXPECT_EQ(tok.encode("<|im_start|>xy"), concat({{kImStartX}, gpt2.encode("y")}));
  // Whitespace tokens (Phi-2 style): six spaces = four + two, before the regex sees them.
  EXPECT_EQ(tok.encode("a      b"), concat({gpt2.encode("a"), {kFourSpaces, kTwoSpaces}, gpt2.encode("b")}));
  EXPECT_EQ(tok.encode("a b"), gpt2.encode("a b"));  // one space is no added token
  // Text without added tokens tokenizes exactly as the plain GPT-2 files do.
  for (std::string text : {"Hello world", "It's a dog's life, isn't it?", "日本語のテキスト", "emoji 🚀🔥 mix"}) {
    EXPECT_EQ(tok.encode(text), gpt2.encode(text)) << text;
  }
  for (std::string text : {"<|im_start|>xy  z", "a      b<|endoftext|>", "<|im_start<|im_start|>"}) {
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
  }
}

INSTANTIATE_TEST_SUITE_P(MergesAsPairsOrStrings, TokenizerJsonAddedTokens, ::testing::Bool());

TEST(TokenizerAddedTokens, PartialSpecialTokenIsPlainText) {
  const auto& tok = test::gpt2_tokenizer();
  auto ids = tok.encode("<|endoftext|");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 50256), 0);
  EXPECT_EQ(tok.decode(ids), "<|endoftext|");
  EXPECT_EQ(tok.encode("<|endoftext|><|endoftext|>"), (std::vector<TokenId>{50256, 50256}));
}

// vocab.json + merges.txt with Phi-2's extra files beside them.
TEST(TokenizerAddedTokens, ReadsAddedTokensJsonAndTokenizerConfig) {
  TempDir dir("phi");
  fs::copy_file(test::kGpt2TokenizerDir / "vocab.json", dir.path() / "vocab.json");
  fs::copy_file(test::kGpt2TokenizerDir / "merges.txt", dir.path() / "merges.txt");
  write_file(dir.path() / "added_tokens.json", R"({"\t\t": 50294, "   ": 50293})");
  json config{{"added_tokens_decoder",
               {{"50256", {{"content", "<|endoftext|>"}, {"special", true}}},
                {"50293", {{"content", "   "}, {"special", false}}},
                {"50290", {{"content", "<|tool|>"}, {"special", true}}}}}};
  write_file(dir.path() / "tokenizer_config.json", config.dump());
  BpeTokenizer tok = BpeTokenizer::load(dir.path());
  const auto& gpt2 = test::gpt2_tokenizer();

  EXPECT_EQ(tok.vocab_size(), 50295);
  EXPECT_EQ(tok.encode("x\t\t\ty"), concat({gpt2.encode("x"), {50294}, gpt2.encode("\ty")}));
  EXPECT_EQ(tok.encode("a   <|tool|>"), concat({gpt2.encode("a"), {50293, 50290}}));
  // Ids 50257..50289 are holes: not tokens, so decoding them is an error.
  EXPECT_THROW(tok.decode({50260}), Error);
  EXPECT_EQ(tok.decode({50294, 50290}), "\t\t<|tool|>");
}

}  // namespace
}  // namespace ep
