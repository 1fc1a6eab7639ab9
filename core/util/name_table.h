// One name table per setting, and one lookup for all of them.
//
// A setting (an enum) lists its spellings once, beside its declaration:
//
//   enum class Granularity { Head, Matrix };
//   inline constexpr Named<Granularity> kGranularityNames[] = {{Granularity::Head, "head"}, ...};
//   constexpr const auto& names(Granularity) { return kGranularityNames; }
//
// and everything else (the grid parser, the results file, messages, `plan`) goes
// through name_of / parse_name, found by argument-dependent lookup. Torch-free.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/error.h"

namespace ep {

template <class E>
struct Named {
  E value;
  std::string_view name;
};

template <class E>
std::string_view name_of(E value) {
  for (const auto& n : names(E{}))
    if (n.value == value) return n.name;
  EP_FAIL("internal: enum value {} has no name in its table", static_cast<long long>(value));
}

template <class E>
std::optional<E> find_name(std::string_view name) {
  for (const auto& n : names(E{}))
    if (n.name == name) return n.value;
  return std::nullopt;
}

// "head, matrix": the accepted spellings, for messages.
template <class E>
std::string known_names() {
  std::string s;
  for (const auto& n : names(E{})) s += (s.empty() ? "" : ", ") + std::string(n.name);
  return s;
}

// "k,v": several values' names joined by `sep`.
template <class E>
std::string join_names(const std::vector<E>& values, std::string_view sep = ",") {
  std::string s;
  for (size_t i = 0; i < values.size(); ++i) s += (i ? std::string(sep) : "") + std::string(name_of(values[i]));
  return s;
}

// `what` names the setting in the error ("granularity", "--capture").
template <class E>
E parse_name(std::string_view name, std::string_view what) {
  if (auto e = find_name<E>(name)) return *e;
  EP_FAIL("unknown {} '{}'; expected one of: {}", what, name, known_names<E>());
}

}  // namespace ep
