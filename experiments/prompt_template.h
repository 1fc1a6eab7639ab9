// Prompt templates: plain strings with {field} placeholders, filled from a record's
// fields. Prompts are data: a new prompt is a new string, not new code.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ep {

using Fields = std::map<std::string, std::string>;

// Replaces each {name} with fields.at(name); "{{" and "}}" stand for literal braces.
// An unknown name or an unbalanced brace is an ep::Error that quotes the template
// and lists the fields there are.
std::string render_template(std::string_view tmpl, const Fields& fields);

// The placeholder names a template uses, in order of appearance (repeats kept).
std::vector<std::string> template_fields(std::string_view tmpl);

}  // namespace ep
