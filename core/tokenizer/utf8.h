// UTF-8 helpers for the tokenizer: validation (PCRE2's JIT matcher does not check its
// subject, and reading past a truncated sequence is undefined behaviour there), and
// encoding/decoding single code points for the byte <-> unicode mapping.
// ref: RFC 3629 section 4 (well-formed UTF-8: no overlongs, no surrogates, <= U+10FFFF).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ep::tokenizer_detail {

constexpr size_t kUtf8Valid = static_cast<size_t>(-1);

// Byte offset of the first byte of the first ill-formed sequence, or kUtf8Valid.
size_t find_invalid_utf8(std::string_view text);

// Appends the UTF-8 form of `code_point` (must be <= U+10FFFF and not a surrogate).
void append_utf8(uint32_t code_point, std::string& out);

constexpr uint32_t kNoCodePoint = 0xFFFFFFFFu;

// Decodes the code point starting at text[pos] and moves pos past it. On a bad lead
// byte or a sequence cut short it returns kNoCodePoint and moves one byte on (callers
// validate first; this only keeps a bad input from looping or reading out of bounds).
uint32_t next_code_point(std::string_view text, size_t& pos);

}  // namespace ep::tokenizer_detail
