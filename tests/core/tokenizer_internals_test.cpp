// The tokenizer's parts on their own: byte <-> unicode mapping, UTF-8 validation, the
// GPT-2 pre-tokenizer, BPE merge order, the word cache and added-token matching; plus
// robustness (huge pieces, many threads).
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "core/tokenizer/added_token_matcher.h"
#include "core/tokenizer/bpe_merges.h"
#include "core/tokenizer/byte_unicode.h"
#include "core/tokenizer/gpt2_pretokenizer.h"
#include "core/tokenizer/utf8.h"
#include "core/tokenizer/word_cache.h"
#include "tests/core/tokenizer_test_util.h"

namespace ep {
namespace {

namespace td = tokenizer_detail;

TEST(ByteUnicode, MatchesOpenAiTable) {
  // ref: openai/gpt-2 bytes_to_unicode(): printable bytes map to themselves, the other
  // 68 to 256.. in byte order, so ' ' (33rd unprintable) is U+0120 'Ġ'.
  EXPECT_EQ(td::byte_to_code_point('A'), 'A');
  EXPECT_EQ(td::byte_to_code_point('!'), '!');
  EXPECT_EQ(td::byte_to_code_point(0x00), 256u);
  EXPECT_EQ(td::byte_to_code_point(' '), 0x120u);
  EXPECT_EQ(td::byte_to_code_point('\n'), 0x10Au);
  EXPECT_EQ(td::byte_to_code_point(0x7F), 289u);
  EXPECT_EQ(td::byte_to_code_point(0xAD), 323u);
  EXPECT_EQ(td::byte_to_code_point(0xFF), 0xFFu);
  std::set<uint32_t> distinct;
  for (int b = 0; b < 256; ++b) distinct.insert(td::byte_to_code_point(static_cast<uint8_t>(b)));
  EXPECT_EQ(distinct.size(), 256u);
}

TEST(ByteUnicode, RoundTripsAllBytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string vocab_string = td::bytes_to_vocab_string(all);
  EXPECT_EQ(td::vocab_string_to_bytes(vocab_string), all);
  EXPECT_EQ(td::bytes_to_vocab_string(" the"), "\xC4\xA0the");
  EXPECT_FALSE(td::vocab_string_to_bytes("\xE2\x82\xAC").has_value());  // '€' is no byte symbol
}

TEST(Utf8, FindsFirstIllFormedSequence) {
  EXPECT_EQ(td::find_invalid_utf8(""), td::kUtf8Valid);
  EXPECT_EQ(td::find_invalid_utf8("plain ascii text, long enough for the 8-byte path"), td::kUtf8Valid);
  EXPECT_EQ(td::find_invalid_utf8("na\xC3\xAFve \xE6\x97\xA5 \xF0\x9F\x9A\x80 \xF4\x8F\xBF\xBF"), td::kUtf8Valid);
  EXPECT_EQ(td::find_invalid_utf8("abcdefghij\x80"), 10u);           // lone continuation after fast path
  EXPECT_EQ(td::find_invalid_utf8("ab\xE2\x82"), 2u);                // cut short at the end
  EXPECT_EQ(td::find_invalid_utf8("\xE2\x28\xA1"), 0u);              // bad continuation
  EXPECT_EQ(td::find_invalid_utf8("a\xC1\xBF"), 1u);                 // overlong 2-byte
  EXPECT_EQ(td::find_invalid_utf8("\xE0\x80\xAF"), 0u);              // overlong 3-byte
  EXPECT_EQ(td::find_invalid_utf8("\xED\xBF\xBF"), 0u);              // surrogate U+DFFF
  EXPECT_EQ(td::find_invalid_utf8("\xF4\x90\x80\x80"), 0u);          // above U+10FFFF
  EXPECT_EQ(td::find_invalid_utf8("\xF8\x88\x80\x80\x80"), 0u);      // 5-byte form
  EXPECT_EQ(td::find_invalid_utf8(std::string("a\0b", 3)), td::kUtf8Valid);  // NUL is valid
}

std::vector<std::string> pieces(std::string_view text) {
  td::Gpt2PreTokenizer::Scanner scanner(td::Gpt2PreTokenizer::instance(), text);
  std::vector<std::string> out;
  std::string_view piece;
  while (scanner.next(piece)) out.emplace_back(piece);
  return out;
}

TEST(Gpt2PreTokenizer, SplitsLikeTheGpt2Regex) {
  EXPECT_TRUE(td::Gpt2PreTokenizer::instance().uses_jit()) << "PCRE2 JIT unavailable: slower, still correct";
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces("Hello world's 123  x\n"), (V{"Hello", " world", "'s", " 123", " ", " x", "\n"}));
  EXPECT_EQ(pieces("they'd've"), (V{"they", "'d", "'ve"}));
  EXPECT_EQ(pieces("THEY'RE"), (V{"THEY", "'", "RE"}));  // contractions are lower-case only
  EXPECT_EQ(pieces("a+=b;;  "), (V{"a", "+=", "b", ";;", "  "}));
  EXPECT_EQ(pieces("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC 42\xC2\xB2"), (V{"caf\xC3\xA9", " \xE6\x97\xA5\xE6\x9C\xAC", " 42\xC2\xB2"}));
  EXPECT_TRUE(pieces("").empty());
}

TEST(Gpt2PreTokenizer, WhitespaceIsUnicodeWhiteSpace) {
  using V = std::vector<std::string>;
  // U+0085 (NEL) is White_Space: a run of it is split like spaces, last one kept for "b".
  EXPECT_EQ(pieces("a\xC2\x85\xC2\x85" "b"), (V{"a", "\xC2\x85", "\xC2\x85", "b"}));
  // U+00A0 and U+3000 are White_Space too.
  EXPECT_EQ(pieces("a\xC2\xA0\xE3\x80\x80"), (V{"a", "\xC2\xA0\xE3\x80\x80"}));
  // U+FEFF (BOM) and U+180E are not (JavaScript's \s has U+FEFF, PCRE2's \s U+180E):
  // they group with punctuation.
  EXPECT_EQ(pieces("a\xEF\xBB\xBF\xEF\xBB\xBF" "b"), (V{"a", "\xEF\xBB\xBF\xEF\xBB\xBF", "b"}));
  EXPECT_EQ(pieces("a\xE1\xA0\x8E\xE1\xA0\x8E" "b"), (V{"a", "\xE1\xA0\x8E\xE1\xA0\x8E", "b"}));
}

TEST(Gpt2PreTokenizer, HandlesHugeRuns) {
  // Backtracking over a long whitespace run before "(?!\S)" must fit the JIT stack.
  std::string spaces(4 << 20, ' ');
  auto p = pieces(spaces + "x");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].size(), spaces.size() - 1);
  EXPECT_EQ(p[1], " x");
  std::string newlines(1 << 20, '\n');
  EXPECT_EQ(pieces(newlines).size(), 1u);
}

// Tiny merge table over byte ids (id = byte value): a+b -> 300, 300+c -> 301, a+a -> 302.
td::BpeMerges tiny_merges() {
  std::array<int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) byte_ids[b] = b;
  return td::BpeMerges(byte_ids, {{'a', 'b', 300}, {300, 'c', 301}, {'a', 'a', 302}, {'b', 'c', 303}});
}

std::vector<int32_t> merge(const td::BpeMerges& m, std::string_view word) {
  std::vector<int32_t> ids;
  m.encode_word(word, ids);
  return ids;
}

TEST(BpeMerges, AppliesLowestRankFirstThenLeftmost) {
  auto m = tiny_merges();
  using V = std::vector<int32_t>;
  EXPECT_EQ(merge(m, "abc"), (V{301}));          // a+b (rank 0) before b+c (rank 3)
  EXPECT_EQ(merge(m, "aaa"), (V{302, 'a'}));     // overlapping pair: leftmost wins
  EXPECT_EQ(merge(m, "aab"), (V{'a', 300}));     // a+b outranks a+a
  EXPECT_EQ(merge(m, "bcab"), (V{303, 300}));
  EXPECT_EQ(merge(m, "x"), (V{'x'}));
  EXPECT_TRUE(merge(m, "").empty());
  EXPECT_EQ(m.size(), 4u);
  EXPECT_FALSE(m.find('c', 'a').has_value());
}

TEST(BpeMerges, RepeatedPairKeepsFirstRank) {
  std::array<int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) byte_ids[b] = b;
  td::BpeMerges m(byte_ids, {{'a', 'b', 300}, {'x', 'y', 301}, {'a', 'b', 302}});
  ASSERT_TRUE(m.find('a', 'b').has_value());
  EXPECT_EQ(m.find('a', 'b')->rank, 0);
  EXPECT_EQ(m.find('a', 'b')->merged, 300);
}

TEST(WordCache, StoresAndEvictsWhenFull) {
  td::WordCache cache(16);  // one word per shard
  const int32_t ids[] = {1, 2, 3};
  std::vector<int64_t> out;
  uint64_t h = td::WordCache::hash("hello");
  EXPECT_FALSE(cache.lookup("hello", h, out));
  cache.insert("hello", h, ids, 3);
  EXPECT_TRUE(cache.lookup("hello", h, out));
  EXPECT_EQ(out, (std::vector<int64_t>{1, 2, 3}));
  std::string long_word(td::WordCache::kMaxWordBytes + 1, 'x');
  uint64_t hl = td::WordCache::hash(long_word);
  cache.insert(long_word, hl, ids, 1);
  EXPECT_FALSE(cache.lookup(long_word, hl, out));  // too long to cache
  for (int i = 0; i < 200; ++i) {                  // fill every shard several times over
    std::string w = "w" + std::to_string(i);
    cache.insert(w, td::WordCache::hash(w), ids, 2);
  }
  std::string last = "w199";
  out.clear();
  EXPECT_TRUE(cache.lookup(last, td::WordCache::hash(last), out));
  EXPECT_EQ(out, (std::vector<int64_t>{1, 2}));
}

TEST(AddedTokenMatcher, LeftmostThenLongest) {
  td::AddedTokenMatcher m;
  m.add("<a>", 1);
  m.add("<a>b", 2);
  m.add("b<", 3);
  std::vector<td::AddedTokenMatcher::Segment> s;
  m.split("xb<a>bc<a", s);  // "b<" starts first (leftmost) and so takes the '<'
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].text, "x");
  EXPECT_EQ(s[0].id, -1);
  EXPECT_EQ(s[1].id, 3);
  EXPECT_EQ(s[2].text, "a>bc<a");
  s.clear();
  m.split("<a>bc", s);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].id, 2);
  EXPECT_EQ(s[1].text, "c");
}

TEST(Gpt2Tokenizer, HugePiecesRoundTrip) {
  // One regex piece of a megabyte goes through the heap-ordered merge loop in
  // O(n log n); a quadratic loop would take minutes here.
  const auto& tok = test::gpt2_tokenizer();
  std::string accents;
  for (int i = 0; i < 100000; ++i) accents += "\xC3\xA9";  // "é" x 100000: one \p{L} piece
  for (const std::string& text : {std::string(1 << 20, 'a'), std::string(300000, '7'), accents}) {
    auto ids = tok.encode(text);
    EXPECT_LE(ids.size(), text.size() / 2);
    EXPECT_EQ(tok.decode(ids), text);
  }
  // GPT-2 has no merge of two spaces: a run of spaces stays one token per space.
  std::string spaces(1 << 20, ' ');
  EXPECT_EQ(tok.encode(spaces), std::vector<TokenId>(spaces.size(), 220));
}

TEST(Gpt2Tokenizer, EncodeIsThreadSafe) {
  const auto& tok = test::gpt2_tokenizer();
  std::vector<std::string> texts;
  for (int i = 0; i < 8; ++i) {
    std::string t;
    for (int w = 0; w < 3000; ++w) t += " word" + std::to_string((w * 7919 + i * 104729) % 5000) + (w % 13 ? "" : ".\n");
    texts.push_back(t);
  }
  std::vector<std::vector<TokenId>> serial;
  for (const auto& t : texts) serial.push_back(tok.encode(t));
  std::vector<std::vector<TokenId>> parallel(texts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < texts.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int r = 0; r < 5; ++r) parallel[i] = tok.encode(texts[i]);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(parallel, serial);
}

}  // namespace
}  // namespace ep
