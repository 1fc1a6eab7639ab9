#include "core/tokenizer/word_cache.h"

#include <cstring>

namespace ep::tokenizer_detail {

WordCache::WordCache(size_t max_words)
    : max_words_per_shard_(max_words / kShards > 0 ? max_words / kShards : 1) {}

// Pieces are short (5 bytes on average in English), so hash 8 bytes at a time with a
// multiply-xorshift mix instead of std::hash's general-purpose byte loop.
// ref: the multipliers are MurmurHash3's fmix64 constants.
uint64_t WordCache::hash(std::string_view word) {
  const char* p = word.data();
  size_t n = word.size();
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t chunk;
    std::memcpy(&chunk, p, 8);
    h = (h ^ chunk) * 0xFF51AFD7ED558CCDULL;
    h ^= h >> 32;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h = (h ^ tail) * 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 29;
  h *= 0xFF51AFD7ED558CCDULL;
  return h ^ (h >> 32);
}

void WordCache::Shard::clear() {
  index.clear();
  arena_blocks.clear();
  arena_used = 0;
  ids.clear();
}

std::string_view WordCache::Shard::store(std::string_view word) {
  if (arena_blocks.empty() || arena_used + word.size() > kArenaBlockBytes) {
    arena_blocks.push_back(std::make_unique<char[]>(kArenaBlockBytes));
    arena_used = 0;
  }
  char* dst = arena_blocks.back().get() + arena_used;
  std::memcpy(dst, word.data(), word.size());
  arena_used += word.size();
  return std::string_view(dst, word.size());
}

void WordCache::insert(std::string_view word, uint64_t word_hash, const int32_t* ids, size_t count) {
  if (word.size() > kMaxWordBytes) return;
  Shard& shard = shard_of(word_hash);
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.index.count(Key{word, word_hash})) return;  // another thread got there first
  if (shard.index.size() >= max_words_per_shard_) shard.clear();
  Key key{shard.store(word), word_hash};
  Span span{static_cast<uint32_t>(shard.ids.size()), static_cast<uint32_t>(count)};
  shard.ids.insert(shard.ids.end(), ids, ids + count);
  shard.index.emplace(key, span);
}

}  // namespace ep::tokenizer_detail
