// Broken tokenizer files and bad inputs must give an ep::Error that names the file
// and the line / field, never a crash or a silent wrong tokenizer.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/tokenizer/byte_unicode.h"
#include "tests/core/tokenizer_test_util.h"

namespace ep {
namespace {

namespace fs = std::filesystem;
using test::expect_error_mentioning;
using test::TempDir;
using test::write_file;

// A minimal byte-level vocabulary: the 256 byte tokens (ids 0..255) plus "ab" = 256.
nlohmann::json tiny_vocab() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[tokenizer_detail::byte_symbols()[b]] = b;
  vocab["ab"] = 256;
  return vocab;
}

void write_tiny_slow_files(const fs::path& dir, const std::string& merges) {
  write_file(dir / "vocab.json", tiny_vocab().dump());
  write_file(dir / "merges.txt", merges);
}

TEST(TokenizerErrors, TinyFilesLoad) {
  // The error cases below break one thing each in these otherwise valid files.
  TempDir dir("ok");
  write_tiny_slow_files(dir.path(), "#version: 0.2\na b\n");
  BpeTokenizer tok = BpeTokenizer::load(dir.path());
  EXPECT_EQ(tok.encode("abc"), (std::vector<TokenId>{256, 'c'}));  // byte tokens have the byte's id
  EXPECT_EQ(tok.vocab_size(), 257);
  EXPECT_FALSE(tok.bos_id().has_value());
}

TEST(TokenizerErrors, MissingDirectoryNamesIt) {
  expect_error_mentioning([] { BpeTokenizer::load("/nonexistent/ep-tokenizer-dir"); },
                          {"/nonexistent/ep-tokenizer-dir", "not found"});
}

TEST(TokenizerErrors, MissingVocabJsonNamesIt) {
  TempDir dir("novocab");
  write_file(dir.path() / "merges.txt", "a b\n");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"vocab.json", "not found", "tokenizer.json"});
}

TEST(TokenizerErrors, MissingMergesTxtNamesIt) {
  TempDir dir("nomerges");
  write_file(dir.path() / "vocab.json", tiny_vocab().dump());
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"merges.txt", "not found"});
}

TEST(TokenizerErrors, MalformedMergesLineNamesFileAndLine) {
  TempDir dir("badline");
  write_tiny_slow_files(dir.path(), "#version: 0.2\na b\nabc\n");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); },
                          {"merges.txt line 3", "two tokens separated by one space", "\"abc\""});
}

TEST(TokenizerErrors, MergesLineWithThreeTokensIsRejected) {
  TempDir dir("threetok");
  write_tiny_slow_files(dir.path(), "a b c\n");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"merges.txt line 1"});
}

TEST(TokenizerErrors, MergeOfUnknownTokenNamesLineAndVocab) {
  TempDir dir("unknownmerge");
  write_tiny_slow_files(dir.path(), "a b\nab c\n");  // "abc" is not in the vocab
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); },
                          {"merges.txt line 2", "\"abc\"", "vocab.json"});
}

TEST(TokenizerErrors, EmptyMergesTxtIsRejected) {
  for (const char* merges : {"", "#version: 0.2\n"}) {
    TempDir dir("emptymerges");
    write_tiny_slow_files(dir.path(), merges);
    expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"merges.txt", "no merge rules"});
  }
}

TEST(TokenizerErrors, BadJsonInVocabNamesFile) {
  TempDir dir("badjson");
  write_file(dir.path() / "vocab.json", "{\"a\": 1,");
  write_file(dir.path() / "merges.txt", "");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"vocab.json", "not valid JSON"});
}

TEST(TokenizerErrors, NonIntegerVocabIdNamesEntry) {
  TempDir dir("badid");
  auto vocab = tiny_vocab();
  vocab["ab"] = "256";
  write_file(dir.path() / "vocab.json", vocab.dump());
  write_file(dir.path() / "merges.txt", "");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); },
                          {"vocab.json", "entry \"ab\"", "expected an integer token id"});
}

TEST(TokenizerErrors, VocabWithoutByteTokensIsRejected) {
  TempDir dir("nobytes");
  write_file(dir.path() / "vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
  write_file(dir.path() / "merges.txt", "a b\n");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"vocab.json", "byte 0x00"});
}

TEST(TokenizerErrors, BadJsonInTokenizerJsonNamesFile) {
  TempDir dir("badtokjson");
  write_file(dir.path() / "tokenizer.json", "{\"model\": {\"vocab\": }");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"tokenizer.json", "not valid JSON"});
}

TEST(TokenizerErrors, TokenizerJsonWithoutVocabNamesField) {
  TempDir dir("novocabfield");
  write_file(dir.path() / "tokenizer.json", R"({"model": {"type": "BPE", "merges": []}})");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"tokenizer.json", "model", "\"vocab\""});
}

TEST(TokenizerErrors, TokenizerJsonOfAnotherModelTypeIsRejected) {
  TempDir dir("wordpiece");
  nlohmann::json root{{"model", {{"type", "WordPiece"}, {"vocab", tiny_vocab()}, {"merges", nlohmann::json::array()}}}};
  write_file(dir.path() / "tokenizer.json", root.dump());
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"tokenizer.json", "type", "\"BPE\""});
}

TEST(TokenizerErrors, MalformedJsonMergeNamesIndex) {
  TempDir dir("badjsonmerge");
  nlohmann::json merges = nlohmann::json::array({nlohmann::json::array({"a", "b"}), nlohmann::json::array({1, 2})});
  nlohmann::json root{{"model", {{"type", "BPE"}, {"vocab", tiny_vocab()}, {"merges", merges}}}};
  write_file(dir.path() / "tokenizer.json", root.dump());
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"tokenizer.json", "model.merges[1]"});
}

// Found while writing tests/fuzz (by hand: libFuzzer's inputs stay far smaller): printing a
// deeply nested merge entry in the error message recursed once per level and overflowed
// the stack (200000 levels, 400 KB).
TEST(TokenizerErrors, DeeplyNestedJsonIsRejectedNotPrinted) {
  TempDir dir("deepjson");
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  write_file(dir.path() / "tokenizer.json",
             R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [)" + deep + "]}}");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"tokenizer.json", "nested deeper than 64"});
  // Depth 63 is the deepest allowed: root 0, model 1, merges 2, then 61 more levels.
  write_file(dir.path() / "tokenizer.json",
             R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [)" + std::string(61, '[') +
                 std::string(61, ']') + "]}}");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"tokenizer.json", "model.merges[0]"});
}

TEST(TokenizerErrors, ConflictingAddedTokenIdsNameBothFiles) {
  TempDir dir("conflict");
  write_tiny_slow_files(dir.path(), "a b\n");
  write_file(dir.path() / "added_tokens.json", R"({"<|x|>": 257})");
  write_file(dir.path() / "tokenizer_config.json",
             R"({"added_tokens_decoder": {"258": {"content": "<|x|>", "special": true}}})");
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); },
                          {"added_tokens.json", "tokenizer_config.json", "<|x|>"});
}

TEST(TokenizerErrors, AddedTokenClashingWithVocabIdIsRejected) {
  TempDir dir("clash");
  write_tiny_slow_files(dir.path(), "a b\n");
  write_file(dir.path() / "added_tokens.json", R"({"<|x|>": 256})");  // 256 is "ab"
  expect_error_mentioning([&] { BpeTokenizer::load(dir.path()); }, {"added_tokens.json", "256", "vocab.json"});
}

TEST(TokenizerErrors, InvalidUtf8InputNamesByteOffset) {
  const auto& tok = test::gpt2_tokenizer();
  expect_error_mentioning([&] { tok.encode("abc\xFF" "def"); }, {"not valid UTF-8", "byte offset 3", "0xFF"});
  expect_error_mentioning([&] { tok.encode("ok \xE2\x82"); }, {"byte offset 3"});       // cut short
  expect_error_mentioning([&] { tok.encode("\xC0\xAF"); }, {"byte offset 0"});         // overlong '/'
  expect_error_mentioning([&] { tok.encode("x\xED\xA0\x80"); }, {"byte offset 1"});    // surrogate
}

TEST(TokenizerErrors, DecodeOfUnknownIdNamesIt) {
  const auto& tok = test::gpt2_tokenizer();
  expect_error_mentioning([&] { tok.decode({15496, 50257}); }, {"decode", "50257"});
  expect_error_mentioning([&] { tok.decode({-1}); }, {"-1"});
  expect_error_mentioning([&] { tok.id_to_token(1000000); }, {"id_to_token", "1000000"});
}

}  // namespace
}  // namespace ep
