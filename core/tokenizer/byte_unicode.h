// GPT-2's reversible byte <-> unicode mapping: BPE vocab entries are strings of
// printable code points, one per byte, so that whitespace and control bytes never
// appear in vocab.json / merges.txt (a space byte is "Ġ" U+0120).
// ref: openai/gpt-2 src/encoder.py bytes_to_unicode().
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ep::tokenizer_detail {

// The code point that stands for byte `b` in vocab strings.
uint32_t byte_to_code_point(uint8_t b);

// UTF-8 of byte_to_code_point(b) for every byte (index = byte).
const std::array<std::string, 256>& byte_symbols();

// Raw bytes of a vocab string ("Ġthe" -> " the"); nullopt when it holds a code point
// outside the mapping (e.g. an added token written in plain text).
std::optional<std::string> vocab_string_to_bytes(std::string_view vocab_string);

// Vocab string of raw bytes (" the" -> "Ġthe").
std::string bytes_to_vocab_string(std::string_view bytes);

}  // namespace ep::tokenizer_detail
