#include "core/tokenizer/byte_unicode.h"

#include "core/tokenizer/utf8.h"

namespace ep::tokenizer_detail {
namespace {

// Bytes that map to themselves: '!'..'~', '¡'..'¬', '®'..'ÿ' (printable Latin-1).
// ref: openai/gpt-2 src/encoder.py bytes_to_unicode(), the `bs` ranges.
bool maps_to_itself(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// The other 68 bytes take 256, 257, ... in increasing byte order.
std::array<uint32_t, 256> build_byte_to_code_point() {
  std::array<uint32_t, 256> table{};
  uint32_t next_shifted = 256;
  for (unsigned b = 0; b < 256; ++b) table[b] = maps_to_itself(b) ? b : next_shifted++;
  return table;
}

const std::array<uint32_t, 256>& byte_to_code_point_table() {
  static const std::array<uint32_t, 256> table = build_byte_to_code_point();
  return table;
}

// Inverse table: every mapped code point is below 256 + 68.
constexpr uint32_t kMappedCodePointEnd = 256 + 68;
const std::array<int16_t, kMappedCodePointEnd>& code_point_to_byte_table() {
  static const std::array<int16_t, kMappedCodePointEnd> table = [] {
    std::array<int16_t, kMappedCodePointEnd> t{};
    t.fill(-1);
    for (unsigned b = 0; b < 256; ++b) t[byte_to_code_point_table()[b]] = static_cast<int16_t>(b);
    return t;
  }();
  return table;
}

}  // namespace

uint32_t byte_to_code_point(uint8_t b) { return byte_to_code_point_table()[b]; }

const std::array<std::string, 256>& byte_symbols() {
  static const std::array<std::string, 256> symbols = [] {
    std::array<std::string, 256> s;
    for (unsigned b = 0; b < 256; ++b) append_utf8(byte_to_code_point_table()[b], s[b]);
    return s;
  }();
  return symbols;
}

std::optional<std::string> vocab_string_to_bytes(std::string_view vocab_string) {
  std::string bytes;
  bytes.reserve(vocab_string.size());
  const auto& inverse = code_point_to_byte_table();
  size_t pos = 0;
  while (pos < vocab_string.size()) {
    uint32_t cp = next_code_point(vocab_string, pos);
    if (cp >= kMappedCodePointEnd || inverse[cp] < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(inverse[cp]));
  }
  return bytes;
}

std::string bytes_to_vocab_string(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += byte_symbols()[static_cast<uint8_t>(c)];
  return out;
}

}  // namespace ep::tokenizer_detail
