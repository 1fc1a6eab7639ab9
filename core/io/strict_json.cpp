#include "core/io/strict_json.h"

#include <set>
#include <vector>

#include "core/util/error.h"

namespace ep::io {
namespace {

// A parser callback that keeps the keys of every open object and bounds the nesting.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& where) : where_(where) {}
  bool operator()(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start || event == Event::array_start) {
      // depth: the arrays and objects around this one.
      EP_CHECK(depth < kMaxJsonDepth,
               "{}: arrays and objects nested deeper than {} levels (the files read here nest a few)", where_,
               kMaxJsonDepth);
    }
    if (event == Event::object_start) {
      open_.emplace_back();
    } else if (event == Event::object_end) {
      open_.pop_back();
    } else if (event == Event::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      EP_CHECK(open_.back().insert(key).second, "{}: names '{}' twice in one object", where_, key);
    }
    return true;
  }

 private:
  const std::string& where_;
  std::vector<std::set<std::string>> open_;
};

}  // namespace

nlohmann::json parse_strict_json(std::string_view text, const std::string& where) {
  try {
    return nlohmann::json::parse(text.begin(), text.end(), DuplicateKeyCheck(where));
  } catch (const nlohmann::json::exception& e) {
    EP_FAIL("{}: not valid JSON: {}", where, e.what());
  }
}

}  // namespace ep::io
