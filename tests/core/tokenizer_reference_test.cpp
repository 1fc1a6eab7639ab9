// GPT-2 BPE against golden ids from HF tokenizers (tests/data/gpt2-bpe-reference.json,
// provenance in tests/data/README.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/core/tokenizer_test_util.h"

namespace ep {
namespace {

struct ReferenceCase {
  std::string text;
  std::vector<TokenId> ids;
};

std::vector<ReferenceCase> reference_cases() {
  auto root = nlohmann::json::parse(test::read_file(std::filesystem::path(EP_TEST_DATA_DIR) / "gpt2-bpe-reference.json"));
  std::vector<ReferenceCase> cases;
  for (const auto& c : root.at("cases")) cases.push_back({c.at("text").get<std::string>(), c.at("ids").get<std::vector<TokenId>>()});
  return cases;
}

TEST(Gpt2Tokenizer, ReferenceFileHasAllCases) {
  // Guards against an empty or truncated copy silently passing the loops below.
  EXPECT_EQ(reference_cases().size(), 27u);
}

TEST(Gpt2Tokenizer, EncodesReferenceCasesExactly) {
  const auto& tok = test::gpt2_tokenizer();
  for (const auto& c : reference_cases()) {
    EXPECT_EQ(tok.encode(c.text), c.ids) << "text: \"" << c.text << "\"";
  }
}

TEST(Gpt2Tokenizer, DecodeInvertsEncodeOnReferenceCases) {
  const auto& tok = test::gpt2_tokenizer();
  for (const auto& c : reference_cases()) {
    EXPECT_EQ(tok.decode(tok.encode(c.text)), c.text);
    EXPECT_EQ(tok.decode(c.ids), c.text);
  }
}

TEST(Gpt2Tokenizer, EndOfTextIsBosEosAndLastId) {
  const auto& tok = test::gpt2_tokenizer();
  ASSERT_TRUE(tok.bos_id().has_value());
  EXPECT_EQ(*tok.bos_id(), 50256);
  EXPECT_EQ(tok.eos_id(), tok.bos_id());
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.id_to_token(50256), "<|endoftext|>");
}

TEST(Gpt2Tokenizer, TokenStringsUseTheByteMapping) {
  const auto& tok = test::gpt2_tokenizer();
  // ref: encoder.json: " the" is written "Ġthe" (space = U+0120), id 262; "\n" is "Ċ", 198.
  EXPECT_EQ(tok.token_to_id("\xC4\xA0the"), 262);
  EXPECT_EQ(tok.id_to_token(262), "\xC4\xA0the");
  EXPECT_EQ(tok.token_to_id("\xC4\x8A"), 198);
  EXPECT_EQ(tok.decode({262, 198}), " the\n");
  EXPECT_FALSE(tok.token_to_id(" the").has_value());
}

TEST(Gpt2Tokenizer, DecodesPartialUtf8TokensToRawBytes) {
  const auto& tok = test::gpt2_tokenizer();
  // "🚀" is split into byte tokens; each piece alone is not valid UTF-8 but the bytes
  // must come back exactly.
  auto ids = tok.encode("\xF0\x9F\x9A\x80");
  ASSERT_GT(ids.size(), 1u);
  std::string bytes;
  for (auto id : ids) bytes += tok.decode({id});
  EXPECT_EQ(bytes, "\xF0\x9F\x9A\x80");
}

}  // namespace
}  // namespace ep
