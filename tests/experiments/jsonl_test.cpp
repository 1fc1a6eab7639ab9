// JSON-lines reading: records, and clear errors (file, line, what was expected)
// for the malformed files in tests/data/superglue/malformed/.
#include <gtest/gtest.h>

#include <string>

#include "core/util/error.h"
#include "experiments/jsonl.h"

namespace ep {
namespace {

const std::string kMalformed = std::string(EP_TEST_DATA_DIR) + "/superglue/malformed/";

// The ep::Error message of `fn`, or "" when it does not throw.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Jsonl, ReadsOneObjectPerLineWithSources) {
  auto records = parse_jsonl("{\"a\": \"x\", \"n\": 3}\n\n{\"a\": \"y\", \"n\": 4}\n", "mem.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].source, "mem.jsonl:1");
  EXPECT_EQ(records[1].source, "mem.jsonl:3");  // blank line 2 skipped, numbering kept
  EXPECT_EQ(string_field(records[1], "a"), "y");
  EXPECT_EQ(int_field(records[0], "n"), 3);
}

TEST(Jsonl, AcceptsCrLfLineEnds) {
  auto records = parse_jsonl("{\"a\": \"x\"}\r\n{\"a\": \"y\"}\r\n", "crlf.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(string_field(records[1], "a"), "y");
}

TEST(Jsonl, EmptyFileIsAnError) {
  std::string msg = error_of([] { read_jsonl(kMalformed + "empty.jsonl"); });
  EXPECT_NE(msg.find("empty.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no records"), std::string::npos) << msg;
}

TEST(Jsonl, BlankLinesOnlyIsAnError) {
  std::string msg = error_of([] { read_jsonl(kMalformed + "blank-lines-only.jsonl"); });
  EXPECT_NE(msg.find("blank-lines-only.jsonl: no records"), std::string::npos) << msg;
}

TEST(Jsonl, InvalidUtf8NamesFileAndLine) {
  std::string msg = error_of([] { read_jsonl(kMalformed + "invalid-utf8.jsonl"); });
  EXPECT_NE(msg.find("invalid-utf8.jsonl:2: invalid UTF-8 at byte 18"), std::string::npos) << msg;
}

TEST(Jsonl, LineThatIsNotJsonNamesFileAndLine) {
  std::string msg = error_of([] { read_jsonl(kMalformed + "not-json.jsonl"); });
  EXPECT_NE(msg.find("not-json.jsonl:3: not valid JSON"), std::string::npos) << msg;
}

// Found by tests/fuzz/fuzz_jsonl.cpp: nlohmann throws out_of_range, not parse_error, for a
// number too big for a double; it escaped as an internal error.
TEST(Jsonl, NumberTooBigForADoubleNamesFileAndLine) {
  std::string msg = error_of([] { parse_jsonl("{\"idx\": 0}\n{\"idx\": 1e999}\n", "big.jsonl"); });
  EXPECT_NE(msg.find("big.jsonl:2: not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("number overflow"), std::string::npos) << msg;
  // The fuzzer's input: an unterminated array whose first number overflows.
  msg = error_of([] { parse_jsonl("[22222222222220000e0001771282799prbbbb", "fuzz.jsonl"); });
  EXPECT_NE(msg.find("fuzz.jsonl:1: not valid JSON"), std::string::npos) << msg;
}

TEST(Jsonl, LineThatIsNotAnObjectNamesFileAndLine) {
  std::string msg = error_of([] { read_jsonl(kMalformed + "not-object.jsonl"); });
  EXPECT_NE(msg.find("not-object.jsonl:1: expected a JSON object, got a JSON array"), std::string::npos) << msg;
}

TEST(Jsonl, MissingFileNamesIt) {
  std::string msg = error_of([] { read_jsonl(kMalformed + "no-such-file.jsonl"); });
  EXPECT_NE(msg.find("no-such-file.jsonl: cannot open"), std::string::npos) << msg;
}

TEST(Jsonl, FieldErrorsNameSourceFieldAndType) {
  auto records = parse_jsonl("{\"a\": 1}\n", "f.jsonl");
  EXPECT_NE(error_of([&] { string_field(records[0], "b"); }).find("f.jsonl:1: field 'b' is missing; expected a string"),
            std::string::npos);
  EXPECT_NE(error_of([&] { string_field(records[0], "a"); }).find("field 'a' is a JSON number; expected a string"),
            std::string::npos);
  auto strings = parse_jsonl("{\"n\": \"3\"}\n", "g.jsonl");
  EXPECT_NE(error_of([&] { int_field(strings[0], "n"); }).find("g.jsonl:1: field 'n' is a JSON string; expected an integer"),
            std::string::npos);
}

}  // namespace
}  // namespace ep
