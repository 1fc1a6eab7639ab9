// Text with @NAME@ placeholders: the batch scripts' templates (slurm/templates/*.sh.in),
// embedded into the library at build time (slurm/CMakeLists.txt, embed_templates.cmake)
// and filled in by sbatch.cpp. One explicit rule instead of format-string escapes:
//
//   @NAME@ (NAME: a capital letter, then capitals, digits, '_') is a placeholder; every
//   other '@' is literal text ("USR1@@SIGNAL_SECONDS@" gives "USR1@300"), except an
//   '@' before a capital letter that does not close as a placeholder, which is an error
//   (a typo such as "@NODES" must not pass as text).
//   inline  @NAME@ within a line: the value must be one line (no '\n').
//   block   a line that is exactly @NAME@: replaced, newline included, by the value,
//           which is whole lines (each ending in '\n') or empty, leaving no line.
//
// Every placeholder needs a value and every value must be used; otherwise render()
// throws ep::Error naming the template, line and placeholder.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace ep::slurm {

struct TextTemplate {
  std::string_view name;  // "slurm/templates/run.sh.in", for messages
  std::string_view text;
};

using TemplateValues = std::map<std::string, std::string, std::less<>>;

std::string render(const TextTemplate& tmpl, const TemplateValues& values);

}  // namespace ep::slurm
