// Finds added/special tokens ("<|endoftext|>", Phi-2's runs of spaces and tabs) in raw
// text before BPE, so they become their own id instead of being split into pieces.
// Leftmost match wins; among matches at one position the longest wins.
// ref: HF tokenizers added_vocabulary.rs (Aho-Corasick, MatchKind::LeftmostLongest).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ep::tokenizer_detail {

class AddedTokenMatcher {
 public:
  // `content` must be non-empty; a repeated content keeps its first id.
  void add(std::string_view content, int64_t id);
  bool empty() const { return nodes_.size() <= 1; }

  // A stretch of text for BPE (id < 0) or one matched added token (id >= 0).
  struct Segment {
    std::string_view text;
    int64_t id;
  };
  // Appends the segments of `text` to `out`, in order; their texts cover `text`.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  // A byte trie: small fan-out (a few dozen tokens at most), so children are a list.
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int64_t id = -1;
  };
  int32_t child(int32_t node, unsigned char byte) const;
  // Length of the longest token starting at text[pos] (0 if none) and its id.
  size_t longest_match_at(std::string_view text, size_t pos, int64_t& id) const;

  std::vector<Node> nodes_{Node{}};     // nodes_[0] is the root
  // Where the next match can start at or after `pos` (text.size() if nowhere).
  size_t next_candidate(std::string_view text, size_t pos) const;

  std::array<bool, 256> first_byte_{};  // quick reject for positions no token starts at
  int distinct_first_bytes_ = 0;
  unsigned char only_first_byte_ = 0;   // when distinct_first_bytes_ == 1 (plain GPT-2: '<')
};

}  // namespace ep::tokenizer_detail
