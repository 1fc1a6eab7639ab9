// JSON as every reader here parses it: a syntax error, or an object that names a
// key twice (nlohmann keeps the last of two equal keys silently, so a config.json or
// header with a field twice would be read as whichever came last), is an ep::Error
// naming `where` ("dir/config.json") and what is wrong. Torch-free.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ep::io {

nlohmann::json parse_strict_json(std::string_view text, const std::string& where);

}  // namespace ep::io
