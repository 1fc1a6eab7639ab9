// A strict reader over one TOML table: every key is read with the type it must
// have, and finish() rejects the keys nobody read. Errors carry the grid file's
// name and the value's line:column (toml++ keeps source regions on every node), so
// a typo in a 200-line grid points at itself.
//
// Only grid.cpp uses it; it is separate so the schema there reads as a schema.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "core/util/name_table.h"

namespace ep::grid {

// Where a node sits in the file; line 0 means unknown (tables made implicitly).
struct SourcePos {
  uint32_t line = 0;
  uint32_t column = 0;
};

class TomlTable {
 public:
  // `file` names the grid in messages; `path` names this table ("models[2].init").
  TomlTable(const toml::table& table, std::string file, std::string path);

  const std::string& path() const { return path_; }
  SourcePos pos() const;
  bool has(std::string_view key) const;

  // Required values: a missing key is an error naming this table.
  std::string string(std::string_view key);
  int64_t integer(std::string_view key);
  double number(std::string_view key);  // float, or an integer written without a dot

  // Optional values.
  std::optional<std::string> opt_string(std::string_view key);
  std::optional<int64_t> opt_integer(std::string_view key);
  std::optional<double> opt_number(std::string_view key);
  std::optional<bool> opt_boolean(std::string_view key);
  std::optional<std::vector<std::string>> opt_strings(std::string_view key);
  std::optional<std::vector<double>> opt_numbers(std::string_view key);
  // [3, [10, 11]]: each element an integer (a group of one) or an array of integers.
  std::optional<std::vector<std::vector<int64_t>>> opt_integer_groups(std::string_view key);
  std::optional<TomlTable> opt_table(std::string_view key);
  // An array of tables ([[models]]); a missing key is an error naming this table.
  std::vector<TomlTable> tables(std::string_view key);

  // A setting spelled as one of its enum's names (core/util/name_table.h), or
  // `fallback` when absent; required_choice: a missing key is an error.
  template <class E>
  E choice(std::string_view key, E fallback) {
    auto value = opt_string(key);
    return value ? named<E>(key, *value) : fallback;
  }
  template <class E>
  E required_choice(std::string_view key) {
    return named<E>(key, string(key));
  }
  template <class E>
  std::vector<E> choices(std::string_view key, std::vector<E> fallback);

  // Errors at a key's value (or at element `index` of an array value).
  [[noreturn]] void fail_at(std::string_view key, const std::string& message) const;
  [[noreturn]] void fail_at_element(std::string_view key, size_t index, const std::string& message) const;
  // An error about the table as a whole (a missing key, a conflict between keys).
  [[noreturn]] void fail(const std::string& message) const;

  // Rejects every key that was not read, at its position.
  void finish() const;

 private:
  const toml::node& require(std::string_view key);
  const toml::node* find(std::string_view key);
  template <class E>
  E named(std::string_view key, const std::string& value) const {
    if (auto e = find_name<E>(value)) return *e;
    fail_at(key, fmt::format("unknown value '{}'; expected one of: {}", value, known_names<E>()));
  }
  [[noreturn]] void fail_wrong_type(std::string_view key, const toml::node& node, std::string_view want) const;

  const toml::table* table_;
  std::string file_;
  std::string path_;
  std::set<std::string, std::less<>> read_;
};

template <class E>
std::vector<E> TomlTable::choices(std::string_view key, std::vector<E> fallback) {
  auto values = opt_strings(key);
  if (!values) return fallback;
  std::vector<E> out;
  for (size_t i = 0; i < values->size(); ++i) {
    auto e = find_name<E>((*values)[i]);
    if (!e)
      fail_at_element(key, i, fmt::format("unknown value '{}'; expected one of: {}", (*values)[i], known_names<E>()));
    out.push_back(*e);
  }
  return out;
}

// Parses TOML text; a syntax error becomes an ep::Error with file:line:column.
toml::table parse_toml(std::string_view text, const std::string& file);

}  // namespace ep::grid
