// Cache of pre-tokenized piece (raw bytes) -> BPE ids. Natural text repeats a small set
// of words, so most pieces skip the merge loop. Sharded, one mutex per shard, so that
// const encode() may run on many threads; keys are looked up by string_view (no
// allocation on a hit).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ep::tokenizer_detail {

class WordCache {
 public:
  // ref: HF tokenizers caps its BPE cache at 10,000 words and gpt-tokenizer at 100,000;
  // 2^17 words keeps a multi-MB corpus' vocabulary warm in a few MiB.
  static constexpr size_t kDefaultMaxWords = size_t{1} << 17;
  // Long pieces rarely repeat; caching them would only grow the arena.
  static constexpr size_t kMaxWordBytes = 64;

  explicit WordCache(size_t max_words = kDefaultMaxWords);

  static uint64_t hash(std::string_view word);

  // Appends the cached ids of `word` to `out` and returns true, or returns false.
  template <typename Id>
  bool lookup(std::string_view word, uint64_t word_hash, std::vector<Id>& out) const {
    Shard& shard = shard_of(word_hash);
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.index.find(Key{word, word_hash});
    if (it == shard.index.end()) return false;
    const int32_t* ids = shard.ids.data() + it->second.offset;
    out.insert(out.end(), ids, ids + it->second.count);
    return true;
  }

  // Remembers `ids` for `word` (ignored for words longer than kMaxWordBytes). A full
  // shard is emptied first: simpler than LRU and the hot words come back at once.
  void insert(std::string_view word, uint64_t word_hash, const int32_t* ids, size_t count);

 private:
  struct Key {
    std::string_view word;  // points into the shard's arena
    uint64_t hash;
    bool operator==(const Key& o) const { return hash == o.hash && word == o.word; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return static_cast<size_t>(k.hash); }
  };
  struct Span {
    uint32_t offset;
    uint32_t count;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<Key, Span, KeyHash> index;
    std::vector<std::unique_ptr<char[]>> arena_blocks;
    size_t arena_used = 0;  // bytes used in the last block
    std::vector<int32_t> ids;
    void clear();
    std::string_view store(std::string_view word);
  };
  // ref: 16 shards: far more than the core counts this runs on, so lock contention
  // stays rare; a power of two so the shard is a mask of the hash.
  static constexpr size_t kShards = 16;
  static constexpr size_t kArenaBlockBytes = 64 * 1024;

  Shard& shard_of(uint64_t word_hash) const { return shards_[(word_hash >> 56) & (kShards - 1)]; }

  size_t max_words_per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace ep::tokenizer_detail
