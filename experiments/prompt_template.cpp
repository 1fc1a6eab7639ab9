#include "experiments/prompt_template.h"

#include "core/util/error.h"

namespace ep {

namespace {

std::string field_names(const Fields& fields) {
  std::string names;
  for (const auto& [name, value] : fields) names += (names.empty() ? "" : ", ") + name;
  return names.empty() ? "(none)" : names;
}

// Walks the template once; calls on_text for literal pieces and on_field for
// placeholder names. Shared by render_template and template_fields so both agree on
// the syntax.
template <typename OnText, typename OnField>
void walk_template(std::string_view tmpl, OnText on_text, OnField on_field) {
  size_t i = 0;
  while (i < tmpl.size()) {
    char c = tmpl[i];
    bool doubled = i + 1 < tmpl.size() && tmpl[i + 1] == c;
    if ((c == '{' || c == '}') && doubled) {
      on_text(std::string_view(&tmpl[i], 1));
      i += 2;
    } else if (c == '{') {
      size_t close = tmpl.find('}', i + 1);
      EP_CHECK(close != std::string_view::npos, "prompt template \"{}\": '{{' at offset {} has no closing '}}'",
               tmpl, i);
      std::string_view name = tmpl.substr(i + 1, close - i - 1);
      EP_CHECK(!name.empty() && name.find('{') == std::string_view::npos,
               "prompt template \"{}\": bad placeholder at offset {}; expected {{field_name}}", tmpl, i);
      on_field(name);
      i = close + 1;
    } else {
      EP_CHECK(c != '}', "prompt template \"{}\": lone '}}' at offset {}; write '}}}}' for a literal brace",
               tmpl, i);
      size_t next = tmpl.find_first_of("{}", i);
      if (next == std::string_view::npos) next = tmpl.size();
      on_text(tmpl.substr(i, next - i));
      i = next;
    }
  }
}

}  // namespace

std::string render_template(std::string_view tmpl, const Fields& fields) {
  std::string out;
  walk_template(
      tmpl, [&](std::string_view text) { out += text; },
      [&](std::string_view name) {
        auto it = fields.find(std::string(name));
        EP_CHECK(it != fields.end(), "prompt template \"{}\" uses field '{}', which the record lacks; fields: {}",
                 tmpl, name, field_names(fields));
        out += it->second;
      });
  return out;
}

std::vector<std::string> template_fields(std::string_view tmpl) {
  std::vector<std::string> names;
  walk_template(
      tmpl, [](std::string_view) {}, [&](std::string_view name) { names.emplace_back(name); });
  return names;
}

}  // namespace ep
