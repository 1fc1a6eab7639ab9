#include "core/tokenizer/bpe_merges.h"

#include <algorithm>

namespace ep::tokenizer_detail {
namespace {

uint64_t pack(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// A word's symbols as a doubly linked list over positions; a symbol merged into its
// left neighbour is marked dead with id -1.
struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
};

struct Candidate {
  int32_t rank;
  int32_t left;      // position of the left symbol
  int32_t left_id;   // ids when queued: a candidate is stale once either changed
  int32_t right_id;
  int32_t merged;
};

// Min-heap on (rank, position): std heap functions build a max-heap, so invert.
struct LaterCandidate {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  }
};

// Per-thread scratch so that a cache miss costs no allocation once warm.
struct MergeScratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

}  // namespace

BpeMerges::BpeMerges(const std::array<int32_t, 256>& byte_ids, const std::vector<MergeRule>& rules)
    : byte_ids_(byte_ids) {
  // ref: load factor <= 0.5 keeps linear-probe chains short.
  size_t capacity = 16;
  while (capacity < rules.size() * 2) capacity *= 2;
  slots_.assign(capacity, Slot{kEmptyKey, {0, 0}});
  mask_ = capacity - 1;
  shift_ = 64;
  for (size_t c = capacity; c > 1; c >>= 1) --shift_;
  for (size_t rank = 0; rank < rules.size(); ++rank) {
    const MergeRule& r = rules[rank];
    insert(pack(r.left, r.right), Ranked{static_cast<int32_t>(rank), r.merged});
  }
}

size_t BpeMerges::slot_of(uint64_t key) const {
  // Fibonacci hashing: the top bits of key * 2^64/phi spread packed id pairs well.
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> shift_) & mask_;
}

void BpeMerges::insert(uint64_t key, Ranked value) {
  for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
    if (slots_[i].key == key) return;  // keep the first (lowest) rank
    if (slots_[i].key == kEmptyKey) {
      slots_[i] = Slot{key, value};
      ++count_;
      return;
    }
  }
}

std::optional<BpeMerges::Ranked> BpeMerges::find(int32_t left, int32_t right) const {
  if (slots_.empty()) return std::nullopt;
  uint64_t key = pack(left, right);
  for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
    if (slots_[i].key == key) return slots_[i].value;
    if (slots_[i].key == kEmptyKey) return std::nullopt;
  }
}

void BpeMerges::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  const size_t n = word.size();
  if (n == 0) return;
  if (n == 1) {
    out.push_back(byte_ids_[static_cast<uint8_t>(word[0])]);
    return;
  }
  thread_local MergeScratch scratch;
  auto& symbols = scratch.symbols;
  auto& heap = scratch.heap;
  symbols.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i) {
    symbols[i] = Symbol{byte_ids_[static_cast<uint8_t>(word[i])], static_cast<int32_t>(i) - 1,
                        i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
  }
  auto queue_pair = [&](int32_t left) {
    if (left < 0) return;
    int32_t right = symbols[left].next;
    if (right < 0) return;
    auto found = find(symbols[left].id, symbols[right].id);
    if (!found) return;
    heap.push_back(Candidate{found->rank, left, symbols[left].id, symbols[right].id, found->merged});
    std::push_heap(heap.begin(), heap.end(), LaterCandidate{});
  };
  for (size_t i = 0; i + 1 < n; ++i) queue_pair(static_cast<int32_t>(i));

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), LaterCandidate{});
    Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = symbols[c.left];
    if (left.id != c.left_id || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    if (right.id != c.right_id) continue;
    left.id = c.merged;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    right.id = -1;
    queue_pair(left.prev);
    queue_pair(c.left);
  }
  // Position 0 only ever absorbs its right neighbours, so it heads the list.
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace ep::tokenizer_detail
