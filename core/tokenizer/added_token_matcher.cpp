#include "core/tokenizer/added_token_matcher.h"

#include <cstring>

namespace ep::tokenizer_detail {

int32_t AddedTokenMatcher::child(int32_t node, unsigned char byte) const {
  for (const auto& [b, next] : nodes_[node].children) {
    if (b == byte) return next;
  }
  return -1;
}

void AddedTokenMatcher::add(std::string_view content, int64_t id) {
  if (content.empty()) return;
  int32_t node = 0;
  for (char c : content) {
    auto byte = static_cast<unsigned char>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_[node].children.emplace_back(byte, next);
      nodes_.emplace_back();
    }
    node = next;
  }
  if (nodes_[node].id < 0) nodes_[node].id = id;
  auto first = static_cast<unsigned char>(content[0]);
  if (!first_byte_[first]) {
    first_byte_[first] = true;
    ++distinct_first_bytes_;
    only_first_byte_ = first;
  }
}

size_t AddedTokenMatcher::next_candidate(std::string_view text, size_t pos) const {
  if (distinct_first_bytes_ == 1) {  // memchr scans many bytes per instruction
    const void* hit = std::memchr(text.data() + pos, only_first_byte_, text.size() - pos);
    return hit ? static_cast<size_t>(static_cast<const char*>(hit) - text.data()) : text.size();
  }
  while (pos < text.size() && !first_byte_[static_cast<unsigned char>(text[pos])]) ++pos;
  return pos;
}

size_t AddedTokenMatcher::longest_match_at(std::string_view text, size_t pos, int64_t& id) const {
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<unsigned char>(text[i]));
    if (node < 0) break;
    if (nodes_[node].id >= 0) {
      best = i + 1 - pos;
      id = nodes_[node].id;
    }
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  size_t plain_start = 0;
  size_t pos = 0;
  while ((pos = next_candidate(text, pos)) < text.size()) {
    int64_t id = -1;
    size_t length = longest_match_at(text, pos, id);
    if (length == 0) {
      ++pos;
      continue;
    }
    if (pos > plain_start) out.push_back(Segment{text.substr(plain_start, pos - plain_start), -1});
    out.push_back(Segment{text.substr(pos, length), id});
    pos += length;
    plain_start = pos;
  }
  if (plain_start < text.size()) out.push_back(Segment{text.substr(plain_start), -1});
}

}  // namespace ep::tokenizer_detail
