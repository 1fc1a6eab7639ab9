#include "core/io/text_file.h"

#include <fstream>
#include <sstream>

#include "core/util/error.h"

namespace ep::io {

std::string read_text_file(const std::filesystem::path& path, const char* what) {
  std::error_code ec;
  EP_CHECK(std::filesystem::is_regular_file(path, ec), "{}: {} not found (expected a file)",
           path.string(), what);
  std::ifstream in(path, std::ios::binary);
  EP_CHECK(in.good(), "{}: cannot open {} for reading", path.string(), what);
  std::ostringstream text;
  text << in.rdbuf();
  EP_CHECK(!in.bad(), "{}: error while reading {}", path.string(), what);
  return text.str();
}

}  // namespace ep::io
