// JSON-lines files (one JSON object per line), as SuperGLUE ships its data.
// Every error names the file and the 1-based line, and says what was expected.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ep {

struct JsonlRecord {
  std::string source;     // "path:line", for messages
  nlohmann::json value;   // always an object
};

// Reads `path`. Blank lines are skipped; a file with no records is an error, as is
// a line that is not valid UTF-8, not JSON, or not a JSON object.
std::vector<JsonlRecord> read_jsonl(const std::filesystem::path& path);

// The same for text already in memory; `source` names it in messages.
std::vector<JsonlRecord> parse_jsonl(const std::string& text, const std::string& source);

// Field accessors whose errors name the record's source and the field.
const std::string& string_field(const JsonlRecord& record, const char* key);
int64_t int_field(const JsonlRecord& record, const char* key);
bool has_field(const JsonlRecord& record, const char* key);

}  // namespace ep
