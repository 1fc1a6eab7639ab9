// Strict typed reads from a toml++ table, with file:line:column in every error.
#include "runner/toml_table.h"

#include "core/util/error.h"

namespace ep::grid {
namespace {

SourcePos pos_of(const toml::node& node) {
  const auto& begin = node.source().begin;
  return {begin.line, begin.column};
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

std::string where(const std::string& file, SourcePos pos) {
  if (pos.line == 0) return file;
  return fmt::format("{}:{}:{}", file, pos.line, pos.column);
}

// An integer written without a dot is a fine float ("lr = 1" means 1.0); the
// reverse is not allowed, a count written as 2.0 is a mistake worth pointing at.
std::optional<double> as_number(const toml::node& node) {
  if (auto f = node.value_exact<double>()) return *f;
  if (auto i = node.value_exact<int64_t>()) return static_cast<double>(*i);
  return std::nullopt;
}

}  // namespace

toml::table parse_toml(std::string_view text, const std::string& file) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    EP_FAIL("{}: TOML syntax error: {}", where(file, {e.source().begin.line, e.source().begin.column}),
            e.description());
  }
#else
  toml::parse_result result = toml::parse(text, file);
  if (!result) {
    const auto& e = result.error();
    EP_FAIL("{}: TOML syntax error: {}", where(file, {e.source().begin.line, e.source().begin.column}),
            e.description());
  }
  return std::move(result).table();
#endif
}

TomlTable::TomlTable(const toml::table& table, std::string file, std::string path)
    : table_(&table), file_(std::move(file)), path_(std::move(path)) {}

SourcePos TomlTable::pos() const { return pos_of(*table_); }

bool TomlTable::has(std::string_view key) const { return table_->contains(key); }

const toml::node* TomlTable::find(std::string_view key) {
  const toml::node* node = table_->get(key);
  if (node) read_.emplace(key);
  return node;
}

const toml::node& TomlTable::require(std::string_view key) {
  const toml::node* node = find(key);
  if (!node) fail(fmt::format("missing required key '{}'", key));
  return *node;
}

void TomlTable::fail_wrong_type(std::string_view key, const toml::node& node, std::string_view want) const {
  fail_at(key, fmt::format("expected {}, got {}", want, type_name(node)));
}

std::string TomlTable::string(std::string_view key) {
  const toml::node& node = require(key);
  if (!node.is_string()) fail_wrong_type(key, node, "a string");
  return **node.as_string();
}

int64_t TomlTable::integer(std::string_view key) {
  const toml::node& node = require(key);
  if (!node.is_integer()) fail_wrong_type(key, node, "an integer");
  return **node.as_integer();
}

double TomlTable::number(std::string_view key) {
  const toml::node& node = require(key);
  auto value = as_number(node);
  if (!value) fail_wrong_type(key, node, "a number");
  return *value;
}

std::optional<std::string> TomlTable::opt_string(std::string_view key) {
  if (!has(key)) return std::nullopt;
  return string(key);
}

std::optional<int64_t> TomlTable::opt_integer(std::string_view key) {
  if (!has(key)) return std::nullopt;
  return integer(key);
}

std::optional<double> TomlTable::opt_number(std::string_view key) {
  if (!has(key)) return std::nullopt;
  return number(key);
}

std::optional<bool> TomlTable::opt_boolean(std::string_view key) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  if (!node->is_boolean()) fail_wrong_type(key, *node, "true or false");
  return **node->as_boolean();
}

std::optional<std::vector<std::string>> TomlTable::opt_strings(std::string_view key) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  const toml::array* arr = node->as_array();
  if (!arr) fail_wrong_type(key, *node, "an array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    if (!el.is_string())
      fail_at_element(key, i, fmt::format("expected a string, got {}", type_name(el)));
    out.push_back(**el.as_string());
  }
  return out;
}

std::optional<std::vector<double>> TomlTable::opt_numbers(std::string_view key) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  const toml::array* arr = node->as_array();
  if (!arr) fail_wrong_type(key, *node, "an array of numbers");
  std::vector<double> out;
  for (size_t i = 0; i < arr->size(); ++i) {
    auto value = as_number(*arr->get(i));
    if (!value) fail_at_element(key, i, fmt::format("expected a number, got {}", type_name(*arr->get(i))));
    out.push_back(*value);
  }
  return out;
}

std::optional<std::vector<std::vector<int64_t>>> TomlTable::opt_integer_groups(std::string_view key) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  const toml::array* arr = node->as_array();
  if (!arr) fail_wrong_type(key, *node, "an array of integers or of arrays of integers");
  std::vector<std::vector<int64_t>> out;
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& item = *arr->get(i);
    if (item.is_integer()) {
      out.push_back({**item.as_integer()});
      continue;
    }
    const toml::array* group = item.as_array();
    if (!group || group->empty())
      fail_at_element(key, i, fmt::format("expected an integer or a non-empty array of integers, got {}",
                                          group ? "an empty array" : type_name(item)));
    std::vector<int64_t> values;
    for (size_t j = 0; j < group->size(); ++j) {
      const toml::node& v = *group->get(j);
      if (!v.is_integer()) fail_at_element(key, i, fmt::format("expected integers inside, got {}", type_name(v)));
      values.push_back(**v.as_integer());
    }
    out.push_back(std::move(values));
  }
  return out;
}

std::optional<TomlTable> TomlTable::opt_table(std::string_view key) {
  const toml::node* node = find(key);
  if (!node) return std::nullopt;
  const toml::table* t = node->as_table();
  if (!t) fail_wrong_type(key, *node, "a table");
  return TomlTable(*t, file_, path_.empty() ? std::string(key) : path_ + "." + std::string(key));
}

std::vector<TomlTable> TomlTable::tables(std::string_view key) {
  const toml::node& node = require(key);
  const toml::array* arr = node.as_array();
  if (!arr || !arr->is_array_of_tables())
    fail_wrong_type(key, node, fmt::format("an array of tables ([[{}]])", key));
  std::vector<TomlTable> out;
  for (size_t i = 0; i < arr->size(); ++i)
    out.emplace_back(*arr->get(i)->as_table(), file_, fmt::format("{}[{}]", key, i + 1));
  return out;
}

void TomlTable::fail_at(std::string_view key, const std::string& message) const {
  const toml::node* node = table_->get(key);
  SourcePos p = node ? pos_of(*node) : pos();
  std::string name = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  EP_FAIL("{}: {}: {}", where(file_, p), name, message);
}

void TomlTable::fail_at_element(std::string_view key, size_t index, const std::string& message) const {
  const toml::array* arr = table_->get(key) ? table_->get(key)->as_array() : nullptr;
  SourcePos p = arr && index < arr->size() ? pos_of(*arr->get(index)) : pos();
  std::string name = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  EP_FAIL("{}: {}[{}]: {}", where(file_, p), name, index, message);
}

void TomlTable::fail(const std::string& message) const {
  std::string name = path_.empty() ? "the top level" : "[" + path_ + "]";
  EP_FAIL("{}: {}: {}", where(file_, pos()), name, message);
}

void TomlTable::finish() const {
  for (const auto& [key, node] : *table_) {
    if (read_.count(key.str())) continue;
    std::string name = path_.empty() ? std::string(key.str()) : path_ + "." + std::string(key.str());
    SourcePos p{key.source().begin.line, key.source().begin.column};
    if (p.line == 0) p = pos_of(node);
    EP_FAIL("{}: unknown key '{}' (see docs/grid-format.md for the keys of {})", where(file_, p), name, path_.empty() ? "the top level" : "[" + path_ + "]");
  }
}

}  // namespace ep::grid
