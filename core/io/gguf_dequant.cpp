// Dequantization of ggml tensor data to float32.
//
// ref: ggml-org/llama.cpp ggml/src/ggml-quants.c (dequantize_row_q4_0 ... dequantize_row_q8_K),
// ggml-common.h (block layouts) and gguf-py 0.19 gguf/quants.py (the numpy versions the tests
// compare against). Each block is decoded with the same float32 operations in the same
// order as ggml (e.g. Q4_K: (d * sc) * q - (dmin * m)), so results match bit for bit as
// long as the compiler does not fuse a multiply and an add (x86-64 without -mfma does not).
// Block bytes are read with memcpy: tensor data in a mapping has no alignment guarantee
// beyond the file's, and a Q4_1 block (20 bytes) puts its fp16 scales at odd addresses.
#include <cstring>

#include "core/io/gguf.h"
#include "core/util/error.h"

namespace ep::gguf {

namespace {

constexpr int kQK = 32;     // block of the legacy quants
constexpr int kQK_K = 256;  // super-block of the K-quants

uint16_t u16_at(const std::byte* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}

uint32_t u32_at(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // little-endian host (checked in gguf_types.cpp)
  return v;
}

float f16_at(const std::byte* p) { return half_to_float(u16_at(p)); }
uint8_t u8(const std::byte* p, int i) { return static_cast<uint8_t>(p[i]); }
int8_t i8(const std::byte* p, int i) { return static_cast<int8_t>(p[i]); }

// ---- legacy quants: 32 elements per block ----------------------------------------

// block_q4_0: fp16 d | 16 bytes, element j in the low nibble of byte j, element j+16 in the high.
void q4_0(const std::byte* b, float* y) {
  float d = f16_at(b);
  const std::byte* qs = b + 2;
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>((u8(qs, j) & 0x0F) - 8) * d;
    y[j + kQK / 2] = static_cast<float>((u8(qs, j) >> 4) - 8) * d;
  }
}

// block_q4_1: fp16 d | fp16 m | 16 bytes of nibbles as in Q4_0, unsigned: x = q * d + m.
void q4_1(const std::byte* b, float* y) {
  float d = f16_at(b);
  float m = f16_at(b + 2);
  const std::byte* qs = b + 4;
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>(u8(qs, j) & 0x0F) * d + m;
    y[j + kQK / 2] = static_cast<float>(u8(qs, j) >> 4) * d + m;
  }
}

// block_q5_0: fp16 d | u32 qh (bit j = fifth bit of element j) | 16 bytes of nibbles.
void q5_0(const std::byte* b, float* y) {
  float d = f16_at(b);
  uint32_t qh = u32_at(b + 2);
  const std::byte* qs = b + 6;
  for (int j = 0; j < kQK / 2; ++j) {
    int lo = (u8(qs, j) & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    int hi = (u8(qs, j) >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = static_cast<float>(lo - 16) * d;
    y[j + kQK / 2] = static_cast<float>(hi - 16) * d;
  }
}

// block_q5_1: fp16 d | fp16 m | u32 qh | 16 bytes of nibbles, unsigned: x = q * d + m.
void q5_1(const std::byte* b, float* y) {
  float d = f16_at(b);
  float m = f16_at(b + 2);
  uint32_t qh = u32_at(b + 4);
  const std::byte* qs = b + 8;
  for (int j = 0; j < kQK / 2; ++j) {
    int lo = (u8(qs, j) & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    int hi = (u8(qs, j) >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = static_cast<float>(lo) * d + m;
    y[j + kQK / 2] = static_cast<float>(hi) * d + m;
  }
}

// block_q8_0: fp16 d | 32 x int8.
void q8_0(const std::byte* b, float* y) {
  float d = f16_at(b);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(i8(b + 2, j)) * d;
}

// ---- K-quants: 256 elements per super-block -------------------------------------

// block_q2_K: scales[16] (low nibble scale, high nibble min) | qs[64] | fp16 d | fp16 dmin.
// Each 128-element half uses 32 bytes of qs; shift 2*s picks the 32 elements s of it.
void q2_k(const std::byte* b, float* y) {
  const std::byte* scales = b;
  const std::byte* qs = b + kQK_K / 16;
  float d = f16_at(b + kQK_K / 16 + kQK_K / 4);
  float dmin = f16_at(b + kQK_K / 16 + kQK_K / 4 + 2);
  for (int e = 0; e < kQK_K; ++e) {
    int half = e / 128, shift = (e % 128) / 32, l = e % 32;
    uint8_t sc = u8(scales, e / 16);
    float dl = d * static_cast<float>(sc & 0x0F);
    float ml = dmin * static_cast<float>(sc >> 4);
    int q = (u8(qs, half * 32 + l) >> (2 * shift)) & 3;
    y[e] = dl * static_cast<float>(q) - ml;
  }
}

// The 16 six-bit signed scales of Q3_K, packed in 12 bytes: low nibbles in bytes 0-7
// (scale k < 8 in the low nibble of byte k, scale k >= 8 in the high nibble of byte k-8),
// the top two bits in bytes 8-11 (scale k in bits 2*(k/4) of byte 8 + k%4).
int q3_k_scale(const std::byte* s, int k) {
  int low = k < 8 ? (u8(s, k) & 0x0F) : (u8(s, k - 8) >> 4);
  int high = (u8(s, 8 + k % 4) >> (2 * (k / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// block_q3_K: hmask[32] | qs[64] | scales[12] | fp16 d. Two low bits from qs as in Q2_K;
// the third from hmask bit (e / 32) of byte e % 32, subtracting 4 when it is clear.
void q3_k(const std::byte* b, float* y) {
  const std::byte* hmask = b;
  const std::byte* qs = b + kQK_K / 8;
  const std::byte* scales = qs + kQK_K / 4;
  float d = f16_at(scales + 12);
  for (int e = 0; e < kQK_K; ++e) {
    int half = e / 128, shift = (e % 128) / 32, l = e % 32;
    float dl = d * static_cast<float>(q3_k_scale(scales, e / 16));
    int low = (u8(qs, half * 32 + l) >> (2 * shift)) & 3;
    int high_set = (u8(hmask, l) >> (e / 32)) & 1;
    y[e] = dl * static_cast<float>(low - (high_set ? 0 : 4));
  }
}

// The 8 six-bit scales and mins of Q4_K/Q5_K in 12 bytes (ref: get_scale_min_k4):
// j < 4: scale = s[j] & 63, min = s[j+4] & 63; j >= 4: the low 4 bits from byte j+4, the top 2
// from the top bits of bytes j-4 (scale) and j (min).
void scale_min_k4(const std::byte* s, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = u8(s, j) & 63;
    *min = u8(s, j + 4) & 63;
  } else {
    *scale = (u8(s, j + 4) & 0x0F) | ((u8(s, j - 4) >> 6) << 4);
    *min = (u8(s, j + 4) >> 4) | ((u8(s, j) >> 6) << 4);
  }
}

// block_q4_K: fp16 d | fp16 dmin | scales[12] | qs[128]. Sub-block j (32 elements) takes the
// low (j even) or high (j odd) nibbles of bytes 32*(j/2) .. +31: x = (d*sc) * q - (dmin*m).
// block_q5_K: the same with qh[32] between scales and qs: the fifth bit of element l of
// sub-block j is bit j of qh[l]. One loop serves both (qh == nullptr for Q4_K).
void q4_or_q5_k(const std::byte* b, float* y, bool five_bits) {
  float d = f16_at(b);
  float dmin = f16_at(b + 2);
  const std::byte* scales = b + 4;
  const std::byte* qh = five_bits ? scales + 12 : nullptr;
  const std::byte* qs = scales + 12 + (five_bits ? kQK_K / 8 : 0);
  for (int j = 0; j < 8; ++j) {
    int sc = 0, m = 0;
    scale_min_k4(scales, j, &sc, &m);
    float d1 = d * static_cast<float>(sc);
    float m1 = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      int q = (u8(qs, 32 * (j / 2) + l) >> (4 * (j % 2))) & 0x0F;
      if (qh) q |= ((u8(qh, l) >> j) & 1) << 4;
      y[32 * j + l] = d1 * static_cast<float>(q) - m1;
    }
  }
}

void q4_k(const std::byte* b, float* y) { q4_or_q5_k(b, y, false); }
void q5_k(const std::byte* b, float* y) { q4_or_q5_k(b, y, true); }

// block_q6_K: ql[128] | qh[64] | int8 scales[16] | fp16 d. Per 128-element half h: element
// 32*k + l (k = 0..3) takes nibble k/2 of ql[64h + 32*(k%2) + l] and bits 2k of qh[32h + l];
// x = (d * scale[e/16]) * (q - 32).
void q6_k(const std::byte* b, float* y) {
  const std::byte* ql = b;
  const std::byte* qh = b + kQK_K / 2;
  const std::byte* scales = qh + kQK_K / 4;
  float d = f16_at(scales + kQK_K / 16);
  for (int e = 0; e < kQK_K; ++e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    int low = (u8(ql, 64 * h + 32 * (k % 2) + l) >> (4 * (k / 2))) & 0x0F;
    int high = (u8(qh, 32 * h + l) >> (2 * k)) & 3;
    float dl = d * static_cast<float>(i8(scales, e / 16));
    y[e] = dl * static_cast<float>((low | (high << 4)) - 32);
  }
}

// block_q8_K: float32 d | int8 qs[256] | int16 bsums[16] (sums for dot products, unused here).
void q8_k(const std::byte* b, float* y) {
  float d;
  std::memcpy(&d, b, 4);
  for (int j = 0; j < kQK_K; ++j) y[j] = d * static_cast<float>(i8(b + 4, j));
}

// ---- plain floats ---------------------------------------------------------------

void f32(const std::byte* b, float* y) { std::memcpy(y, b, 4); }
void f16(const std::byte* b, float* y) { *y = f16_at(b); }
void bf16(const std::byte* b, float* y) { *y = bf16_to_float(u16_at(b)); }

using BlockFn = void (*)(const std::byte*, float*);

BlockFn block_fn(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return f32;
    case GgmlType::F16: return f16;
    case GgmlType::BF16: return bf16;
    case GgmlType::Q4_0: return q4_0;
    case GgmlType::Q4_1: return q4_1;
    case GgmlType::Q5_0: return q5_0;
    case GgmlType::Q5_1: return q5_1;
    case GgmlType::Q8_0: return q8_0;
    case GgmlType::Q2_K: return q2_k;
    case GgmlType::Q3_K: return q3_k;
    case GgmlType::Q4_K: return q4_k;
    case GgmlType::Q5_K: return q5_k;
    case GgmlType::Q6_K: return q6_k;
    case GgmlType::Q8_K: return q8_k;
    default: return nullptr;
  }
}

}  // namespace

// ref: ggml-impl.h ggml_compute_fp16_to_fp32 (portable path): exact, subnormals normalised.
float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf, or NaN with its payload
  } else if (exp != 0) {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal: value = mant * 2^-24; shift the leading one up to the implicit bit.
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while ((mant & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

void dequantize_row(GgmlType type, const std::byte* src, float* dst, int64_t n) {
  BlockFn fn = block_fn(type);
  EP_CHECK(fn != nullptr, "dequantization of ggml type {} is not supported (supported: F32 F16 BF16 Q4_0 Q4_1 "
           "Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K)", type_name(type));
  int64_t block = block_size(type);
  EP_CHECK(n >= 0 && n % block == 0, "dequantize_row: {} elements are not a whole number of {}-element {} blocks", n,
           block, type_name(type));
  if (type == GgmlType::F32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  size_t bytes = type_size(type);
  for (int64_t i = 0; i < n / block; ++i) fn(src + static_cast<size_t>(i) * bytes, dst + i * block);
}

std::vector<float> dequantize_rows(const TensorInfo& t, int64_t row_begin, int64_t row_end) {
  EP_CHECK(can_dequantize(t.type), "tensor '{}': dequantization of ggml type {} is not supported (supported: F32 F16 "
           "BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K)", t.name, type_name(t.type));
  EP_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= t.rows(),
           "tensor '{}': rows [{}, {}) out of range: it has {} rows", t.name, row_begin, row_end, t.rows());
  int64_t len = t.row_length();
  // Validated on open: rows are whole blocks and the tensor's bytes lie in the mapping.
  size_t row_bytes = static_cast<size_t>(len / block_size(t.type)) * type_size(t.type);
  std::vector<float> out(static_cast<size_t>((row_end - row_begin) * len));
  for (int64_t r = row_begin; r < row_end; ++r)
    dequantize_row(t.type, t.data + static_cast<size_t>(r) * row_bytes, out.data() + (r - row_begin) * len, len);
  return out;
}

std::vector<float> dequantize(const TensorInfo& t) { return dequantize_rows(t, 0, t.rows()); }

}  // namespace ep::gguf
