#include "experiments/jsonl.h"

#include <fstream>
#include <sstream>

#include "core/util/error.h"

namespace ep {

namespace {

// Byte offset of the first ill-formed UTF-8 sequence in `s`, or npos.
// ref: RFC 3629 section 4 (no overlongs, no surrogates, nothing above U+10FFFF).
size_t first_invalid_utf8(const std::string& s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return i;
    uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    static const uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string::npos;
}

bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

JsonlRecord parse_line(const std::string& line, const std::string& where) {
  size_t bad = first_invalid_utf8(line);
  EP_CHECK(bad == std::string::npos, "{}: invalid UTF-8 at byte {} of the line; expected UTF-8 JSON text",
           where, bad + 1);
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for a number no double holds (1e999): both are the file's fault.
    EP_FAIL("{}: not valid JSON ({}); expected one JSON object per line", where, e.what());
  }
  EP_CHECK(value.is_object(), "{}: expected a JSON object, got a JSON {}", where, value.type_name());
  return {where, std::move(value)};
}

}  // namespace

std::vector<JsonlRecord> parse_jsonl(const std::string& text, const std::string& source) {
  std::vector<JsonlRecord> records;
  std::istringstream in(text);
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (is_blank(line)) continue;
    records.push_back(parse_line(line, fmt::format("{}:{}", source, number)));
  }
  EP_CHECK(!records.empty(), "{}: no records (the file is empty); expected one JSON object per line", source);
  return records;
}

std::vector<JsonlRecord> read_jsonl(const std::filesystem::path& path) {
  // A folder opens as an empty stream: say what it is rather than "empty".
  EP_CHECK(!std::filesystem::is_directory(path), "{}: a folder, not a file; expected a JSON-lines data file there",
           path.string());
  std::ifstream in(path, std::ios::binary);
  EP_CHECK(in.good(), "{}: cannot open the file; expected a JSON-lines data file there", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse_jsonl(text.str(), path.string());
}

bool has_field(const JsonlRecord& record, const char* key) {
  return record.value.contains(key);
}

const std::string& string_field(const JsonlRecord& record, const char* key) {
  auto it = record.value.find(key);
  EP_CHECK(it != record.value.end(), "{}: field '{}' is missing; expected a string", record.source, key);
  EP_CHECK(it->is_string(), "{}: field '{}' is a JSON {}; expected a string", record.source, key,
           it->type_name());
  return it->get_ref<const std::string&>();
}

int64_t int_field(const JsonlRecord& record, const char* key) {
  auto it = record.value.find(key);
  EP_CHECK(it != record.value.end(), "{}: field '{}' is missing; expected an integer", record.source, key);
  EP_CHECK(it->is_number_integer(), "{}: field '{}' is a JSON {}; expected an integer", record.source, key,
           it->type_name());
  return it->get<int64_t>();
}

}  // namespace ep
