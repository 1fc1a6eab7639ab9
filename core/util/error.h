// Errors in eprunner: one exception type for user-facing problems (bad files, bad
// input), thrown with the file:line of the check that failed and a message that
// names the file, tensor or field and what was expected.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace ep {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] inline void throw_error(const char* file, int line, const std::string& msg) {
  // Only the file's base name: full build paths make messages hard to read.
  std::string f(file);
  auto slash = f.find_last_of('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  throw Error(msg + " [" + f + ":" + std::to_string(line) + "]");
}
}  // namespace detail

}  // namespace ep

// EP_CHECK(cond, "fmt {}", args...): throws ep::Error with the formatted message
// when cond is false. For user errors (input files, arguments); use assert for
// programmer errors.
#define EP_CHECK(cond, ...)                                                        \
  do {                                                                             \
    if (!(cond)) ::ep::detail::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (0)

#define EP_FAIL(...) ::ep::detail::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__))
