// The BPE merge step on token ids: a word's bytes start as single-byte tokens and the
// adjacent pair with the lowest merge rank is merged until no ranked pair is left.
// Works on ids, never on strings, so a merge costs one hash lookup.
// ref: openai/gpt-2 src/encoder.py Encoder.bpe(); the heap order (rank, then leftmost)
// is HF tokenizers' models/bpe/word.rs, which gives the same result for merge lists
// learned in order (a merge that uses a token always ranks after the merge making it).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace ep::tokenizer_detail {

struct MergeRule {
  int32_t left;
  int32_t right;
  int32_t merged;
};

class BpeMerges {
 public:
  BpeMerges() = default;
  // byte_ids[b] is the id of the one-byte token for byte b; `rules` are in rank order
  // (rank = index); a repeated pair keeps its first (lowest) rank.
  BpeMerges(const std::array<int32_t, 256>& byte_ids, const std::vector<MergeRule>& rules);

  int32_t byte_id(uint8_t b) const { return byte_ids_[b]; }

  // Appends the ids of `word` (raw bytes) to `out`.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  struct Ranked {
    int32_t rank;
    int32_t merged;
  };
  std::optional<Ranked> find(int32_t left, int32_t right) const;

  size_t size() const { return count_; }

 private:
  // Open addressing with linear probing on the packed pair (left << 32 | right):
  // ~2x faster lookups than std::unordered_map's node chains in the merge loop.
  struct Slot {
    uint64_t key;
    Ranked value;
  };
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};  // ids are < 2^31, never all ones
  size_t slot_of(uint64_t key) const;
  void insert(uint64_t key, Ranked value);

  std::array<int32_t, 256> byte_ids_{};
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t count_ = 0;
};

}  // namespace ep::tokenizer_detail
