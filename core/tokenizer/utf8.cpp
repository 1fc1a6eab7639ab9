#include "core/tokenizer/utf8.h"

#include <cstring>

namespace ep::tokenizer_detail {
namespace {

// Most text is ASCII: test 8 bytes at once for a set high bit before the slow path.
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// Length of the sequence led by `lead` and the smallest code point it may encode
// (anything smaller is an overlong form); 0 for a byte that cannot lead.
struct LeadInfo {
  size_t length;
  uint32_t bits;
  uint32_t min_code_point;
};
LeadInfo lead_info(unsigned char lead) {
  if ((lead & 0xE0) == 0xC0) return {2, lead & 0x1Fu, 0x80};
  if ((lead & 0xF0) == 0xE0) return {3, lead & 0x0Fu, 0x800};
  if ((lead & 0xF8) == 0xF0) return {4, lead & 0x07u, 0x10000};
  return {0, 0, 0};
}

bool is_surrogate(uint32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

}  // namespace

size_t find_invalid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & kHighBits) == 0) {
        i += 8;
        continue;
      }
    }
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    LeadInfo info = lead_info(p[i]);
    if (info.length == 0 || i + info.length > n) return i;
    uint32_t cp = info.bits;
    for (size_t k = 1; k < info.length; ++k) {
      if (!is_continuation(p[i + k])) return i;
      cp = (cp << 6) | (p[i + k] & 0x3Fu);
    }
    if (cp < info.min_code_point || cp > 0x10FFFF || is_surrogate(cp)) return i;
    i += info.length;
  }
  return kUtf8Valid;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t next_code_point(std::string_view text, size_t& pos) {
  auto lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  LeadInfo info = lead_info(lead);
  if (info.length == 0 || pos + info.length > text.size()) {
    ++pos;  // not valid UTF-8: step one byte so callers always make progress
    return kNoCodePoint;
  }
  uint32_t cp = info.bits;
  for (size_t k = 1; k < info.length; ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(text[pos + k]) & 0x3Fu);
  }
  pos += info.length;
  return cp;
}

}  // namespace ep::tokenizer_detail
