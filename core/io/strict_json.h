// JSON as every reader here parses it: a syntax error, an object that names a key
// twice (nlohmann keeps the last of two equal keys silently, so a config.json or
// header with a field twice would be read as whichever came last), or arrays and
// objects nested deeper than kMaxJsonDepth, is an ep::Error naming `where`
// ("dir/config.json") and what is wrong. Torch-free.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ep::io {

// The files read here nest 2 to 5 levels. nlohmann parses any depth, but printing or
// copying a value recurses once per level: a few hundred KB of "[[[[..." in a
// tokenizer.json overflowed the stack when an error message printed it (found while
// writing tests/fuzz). So deeper input is refused while it is parsed.
constexpr int kMaxJsonDepth = 64;

nlohmann::json parse_strict_json(std::string_view text, const std::string& where);

}  // namespace ep::io
