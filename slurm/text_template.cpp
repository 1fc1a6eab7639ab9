// render(): see text_template.h for the placeholder rules.
#include "slurm/text_template.h"

#include <algorithm>
#include <set>

#include "core/util/error.h"

namespace ep::slurm {
namespace {

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_name_char(char c) { return is_upper(c) || (c >= '0' && c <= '9') || c == '_'; }

}  // namespace

std::string render(const TextTemplate& t, const TemplateValues& values) {
  std::string out;
  std::set<std::string_view> used;
  int line_no = 1;
  // The value of the placeholder NAME (checked to exist), for the message's context.
  auto value_of = [&](std::string_view name) -> const std::string& {
    const auto it = values.find(name);
    EP_CHECK(it != values.end(), "{}:{}: placeholder @{}@ has no value", t.name, line_no, name);
    used.insert(it->first);
    return it->second;
  };
  for (size_t start = 0; start < t.text.size(); ++line_no) {
    const size_t end = t.text.find('\n', start);
    EP_CHECK(end != std::string_view::npos, "{}:{}: the last line does not end with a newline", t.name, line_no);
    const std::string_view line = t.text.substr(start, end - start);
    start = end + 1;
    // A block: the line is just @NAME@.
    if (line.size() >= 3 && line.front() == '@' && line.back() == '@' && is_upper(line[1]) &&
        std::all_of(line.begin() + 1, line.end() - 1, is_name_char)) {
      const std::string_view name = line.substr(1, line.size() - 2);
      const std::string& v = value_of(name);
      EP_CHECK(v.empty() || v.back() == '\n', "{}:{}: block @{}@: the value must be whole lines (end with a newline)",
               t.name, line_no, name);
      out += v;
      continue;
    }
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] != '@' || i + 1 == line.size() || !is_upper(line[i + 1])) {
        out += line[i];
        continue;
      }
      size_t j = i + 1;
      while (j < line.size() && is_name_char(line[j])) ++j;
      EP_CHECK(j < line.size() && line[j] == '@', "{}:{}: '@{}' does not close as a placeholder @NAME@", t.name,
               line_no, line.substr(i + 1, j - i - 1));
      const std::string_view name = line.substr(i + 1, j - i - 1);
      const std::string& v = value_of(name);
      EP_CHECK(v.find('\n') == std::string::npos, "{}:{}: @{}@ is inline, its value must be one line", t.name,
               line_no, name);
      out += v;
      i = j;
    }
    out += '\n';
  }
  for (const auto& [name, v] : values)
    EP_CHECK(used.count(name), "{}: a value for @{}@, which the template does not have", t.name, name);
  return out;
}

}  // namespace ep::slurm
