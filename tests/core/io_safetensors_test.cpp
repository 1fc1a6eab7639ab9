// safetensors single files: dtypes, the writer, HF's own files, and corrupt files.
#include <algorithm>
#include <cstring>
#include <numeric>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "tests/core/io_test_files.h"

namespace ep::st {
namespace {

using ep::testing::expect_error;
using ep::testing::fixture;
using ep::testing::read_bytes;
using ep::testing::safetensors_bytes;
using ep::testing::ScratchDir;
using ep::testing::u64_le;
using ep::testing::write_bytes;

const std::vector<DType> kAllDTypes = {
    DType::BOOL, DType::U8,  DType::I8,   DType::I16, DType::U16,     DType::I32,    DType::U32,
    DType::I64,  DType::U64, DType::F16,  DType::BF16, DType::F32,    DType::F64,    DType::F8_E4M3,
    DType::F8_E5M2};

uint32_t f32_bits(const TensorView& t, size_t i) {
  uint32_t v;
  std::memcpy(&v, t.data + 4 * i, 4);  // data may be unaligned: copy, never cast
  return v;
}

// Deterministic, non-repeating bytes so a misplaced tensor shows up.
std::vector<std::byte> pattern(size_t n, unsigned seed) {
  std::vector<std::byte> b(n);
  uint32_t x = 2654435761u * (seed + 1);
  for (auto& v : b) {
    x = x * 1664525u + 1013904223u;
    v = static_cast<std::byte>(x >> 24);
  }
  return b;
}

// ---- dtypes -------------------------------------------------------------------

TEST(DType, NamesAndSizesMatchTheFormat) {
  EXPECT_EQ(kAllDTypes.size(), 15u);
  for (DType dt : kAllDTypes) EXPECT_EQ(dtype_from_name(dtype_name(dt)), dt) << dtype_name(dt);
  EXPECT_EQ(dtype_size(DType::BOOL), 1u);
  EXPECT_EQ(dtype_size(DType::F8_E4M3), 1u);
  EXPECT_EQ(dtype_size(DType::F8_E5M2), 1u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::F16), 2u);
  EXPECT_EQ(dtype_size(DType::U32), 4u);
  EXPECT_EQ(dtype_size(DType::F64), 8u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_EQ(dtype_name(DType::F8_E4M3), "F8_E4M3");
}

TEST(DType, UnknownNameIsAnError) {
  expect_error([] { dtype_from_name("F128"); }, {"unknown safetensors dtype 'F128'", "BF16"});
  expect_error([] { dtype_from_name("f32"); }, {"'f32'"});  // names are case-sensitive
}

// ---- writer + reader round trip -------------------------------------------------

TEST(SafetensorsRoundTrip, EveryDTypeKeepsExactBytes) {
  ScratchDir dir;
  std::vector<std::vector<std::byte>> buffers;
  std::vector<TensorToWrite> tensors;
  for (size_t i = 0; i < kAllDTypes.size(); ++i) {
    DType dt = kAllDTypes[i];
    std::vector<int64_t> shape = {2, 3, static_cast<int64_t>(i % 3 + 1)};
    size_t n = 6 * (i % 3 + 1) * dtype_size(dt);
    buffers.push_back(pattern(n, static_cast<unsigned>(i)));
    tensors.push_back({"t." + std::string(dtype_name(dt)), dt, shape, buffers.back().data(), n});
  }
  write_safetensors(dir / "all.safetensors", tensors, {{"format", "pt"}, {"note", "round trip"}});

  auto file = SafetensorsFile::open(dir / "all.safetensors");
  EXPECT_EQ(file->names().size(), kAllDTypes.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorView& t = file->get(tensors[i].name);
    EXPECT_EQ(t.name, tensors[i].name);
    EXPECT_EQ(t.dtype, tensors[i].dtype) << t.name;
    EXPECT_EQ(t.shape, tensors[i].shape) << t.name;
    EXPECT_EQ(t.numel(), 6 * static_cast<int64_t>(i % 3 + 1)) << t.name;
    ASSERT_EQ(t.nbytes, buffers[i].size()) << t.name;
    EXPECT_EQ(std::memcmp(t.data, buffers[i].data(), t.nbytes), 0) << t.name;
  }
  EXPECT_EQ(file->metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "round trip"}}));
}

TEST(SafetensorsRoundTrip, ScalarsAndEmptyTensors) {
  ScratchDir dir;
  double scalar = 3.25;
  write_safetensors(dir / "s.safetensors",
                    {{"scalar", DType::F64, {}, &scalar, 8}, {"empty", DType::F32, {4, 0}, nullptr, 0}});
  auto file = SafetensorsFile::open(dir / "s.safetensors");
  EXPECT_TRUE(file->get("scalar").shape.empty());
  EXPECT_EQ(file->get("scalar").numel(), 1);
  double back;
  std::memcpy(&back, file->get("scalar").data, 8);
  EXPECT_EQ(back, 3.25);
  EXPECT_EQ(file->get("empty").shape, (std::vector<int64_t>{4, 0}));
  EXPECT_EQ(file->get("empty").nbytes, 0u);
  EXPECT_TRUE(file->metadata().empty());
}

TEST(SafetensorsWriter, LaysOutByNameWithPaddedHeader) {
  ScratchDir dir;
  std::vector<float> a(3, 1.f), b(5, 2.f), c(2, 3.f);
  // Given out of order: the file must be in name order anyway.
  write_safetensors(dir / "w.safetensors", {{"zeta", DType::F32, {5}, b.data(), 20},
                                            {"alpha", DType::F32, {3}, a.data(), 12},
                                            {"mid", DType::F32, {2}, c.data(), 8}});
  EXPECT_FALSE(std::filesystem::exists(dir / "w.safetensors.tmp"));
  std::string bytes = read_bytes(dir / "w.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u) << "header must be padded to a multiple of 8";
  EXPECT_EQ(bytes.size(), 8 + n + 40);
  std::string header = bytes.substr(8, n);
  std::string padding = header.substr(header.rfind('}') + 1);
  EXPECT_EQ(padding.find_first_not_of(' '), std::string::npos) << "padding must be spaces";
  EXPECT_LT(padding.size(), 8u);
  auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["alpha"]["data_offsets"], nlohmann::json({0, 12}));
  EXPECT_EQ(j["mid"]["data_offsets"], nlohmann::json({12, 20}));
  EXPECT_EQ(j["zeta"]["data_offsets"], nlohmann::json({20, 40}));
  EXPECT_EQ(j["zeta"]["dtype"], "F32");
  EXPECT_EQ(j["zeta"]["shape"], nlohmann::json({5}));
  EXPECT_LT(header.find("\"alpha\""), header.find("\"mid\""));
  EXPECT_LT(header.find("\"mid\""), header.find("\"zeta\""));
  float first_of_zeta;
  std::memcpy(&first_of_zeta, bytes.data() + 8 + n + 20, 4);
  EXPECT_EQ(first_of_zeta, 2.f);
}

TEST(SafetensorsWriter, RejectsWrongNbytesAndLeavesNoFile) {
  ScratchDir dir;
  std::vector<float> a(6, 0.f);
  expect_error([&] { write_safetensors(dir / "x.safetensors", {{"a", DType::F32, {2, 3}, a.data(), 20}}); },
               {"x.safetensors", "'a'", "nbytes is 20", "need 24"});
  EXPECT_FALSE(std::filesystem::exists(dir / "x.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(dir / "x.safetensors.tmp"));
}

TEST(SafetensorsWriter, RejectsDuplicateNamesAndNegativeShapes) {
  ScratchDir dir;
  float v[2] = {0, 0};
  expect_error([&] { write_safetensors(dir / "d.safetensors", {{"a", DType::F32, {1}, v, 4}, {"a", DType::F32, {1}, v + 1, 4}}); },
               {"'a' given twice"});
  expect_error([&] { write_safetensors(dir / "d.safetensors", {{"neg", DType::F32, {-1}, v, 4}}); },
               {"'neg'", "negative"});
  expect_error([&] { write_safetensors(dir / "d.safetensors", {{"__metadata__", DType::F32, {1}, v, 4}}); },
               {"reserved"});
}

TEST(SafetensorsWriter, ReplacesAnExistingFileWhole) {
  ScratchDir dir;
  std::vector<float> big(100, 1.f), small(1, 5.f);
  write_safetensors(dir / "r.safetensors", {{"big", DType::F32, {100}, big.data(), 400}});
  write_safetensors(dir / "r.safetensors", {{"small", DType::F32, {1}, small.data(), 4}});
  auto file = SafetensorsFile::open(dir / "r.safetensors");
  EXPECT_EQ(file->names(), std::vector<std::string>{"small"});
}

// ---- HF's own files ------------------------------------------------------------

TEST(SafetensorsFile, ReadsHfGpt2CheckpointNamesAndShapes) {
  auto file = SafetensorsFile::open(fixture("tiny-gpt2/model.safetensors"));
  auto names = file->names();
  ASSERT_EQ(names.size(), 28u);  // 12 per block x 2, ln_f x 2, wpe, wte; lm_head is tied
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const auto& n : names) EXPECT_EQ(n.rfind("transformer.", 0), 0u) << n;
  EXPECT_FALSE(file->contains("lm_head.weight"));
  const TensorView& c_attn = file->get("transformer.h.0.attn.c_attn.weight");
  EXPECT_EQ(c_attn.dtype, DType::F32);
  EXPECT_EQ(c_attn.shape, (std::vector<int64_t>{64, 192}));  // Conv1D: [in, out]
  EXPECT_EQ(c_attn.nbytes, 64u * 192 * 4);
  EXPECT_EQ(file->get("transformer.wte.weight").shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(file->get("transformer.wpe.weight").shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(file->get("transformer.h.1.mlp.c_fc.weight").shape, (std::vector<int64_t>{64, 256}));
  EXPECT_EQ(file->get("transformer.h.1.mlp.c_proj.weight").shape, (std::vector<int64_t>{256, 64}));
  EXPECT_EQ(file->get("transformer.ln_f.bias").shape, (std::vector<int64_t>{64}));
  EXPECT_EQ(file->metadata().at("format"), "pt");
}

TEST(SafetensorsFile, ReadsHfGpt2CheckpointExactValues) {
  // Expected bits read independently with Python's struct module.
  auto file = SafetensorsFile::open(fixture("tiny-gpt2/model.safetensors"));
  const TensorView& wte = file->get("transformer.wte.weight");
  EXPECT_EQ(f32_bits(wte, 0), 0xbd00537eu);
  EXPECT_EQ(f32_bits(wte, 1), 0x3c262389u);
  EXPECT_EQ(f32_bits(wte, 2), 0xbb062c8bu);
  EXPECT_EQ(f32_bits(wte, 512 * 64 - 1), 0x3bd6fa37u);
  uint32_t x = 0;
  for (size_t i = 0; i < 512 * 64; ++i) x ^= f32_bits(wte, i);
  EXPECT_EQ(x, 0x820b027du);
  const TensorView& c_attn = file->get("transformer.h.0.attn.c_attn.weight");
  EXPECT_EQ(f32_bits(c_attn, 0), 0xbcb2a5dcu);
  EXPECT_EQ(f32_bits(c_attn, 64 * 192 - 1), 0xbc34db49u);
  const TensorView& ln = file->get("transformer.h.0.ln_1.weight");
  for (size_t i = 0; i < 64; ++i) EXPECT_EQ(f32_bits(ln, i), 0x3f800000u);  // 1.0f
  const TensorView& bias = file->get("transformer.h.0.attn.c_attn.bias");
  for (size_t i = 0; i < 192; ++i) EXPECT_EQ(f32_bits(bias, i), 0u);
}

TEST(SafetensorsFile, ReadsHfReferenceTensorsOfSeveralDtypes) {
  auto file = SafetensorsFile::open(fixture("tiny-gpt2/reference.safetensors"));
  const TensorView& ids = file->get("input_ids");
  EXPECT_EQ(ids.dtype, DType::I64);
  EXPECT_EQ(ids.shape, (std::vector<int64_t>{3, 7}));
  std::vector<int64_t> v(21);
  std::memcpy(v.data(), ids.data, ids.nbytes);
  EXPECT_EQ(v, (std::vector<int64_t>{474, 462, 430, 116, 207, 496, 112, 180, 503, 434, 495, 68, 366,
                                     231, 463, 95, 295, 396, 82, 290, 221}));
  EXPECT_EQ(file->get("logits").shape, (std::vector<int64_t>{3, 7, 512}));
  EXPECT_EQ(file->get("loss").dtype, DType::F32);
}

TEST(SafetensorsFile, TensorsAreViewsIntoOneMapping) {
  // Offsets in the file = distances between the views: nothing was copied.
  auto file = SafetensorsFile::open(fixture("tiny-gpt2/model.safetensors"));
  const TensorView& first = file->get("transformer.h.0.attn.c_attn.bias");      // [0, 768)
  const TensorView& later = file->get("transformer.h.0.attn.c_attn.weight");    // [768, ...)
  const TensorView& last = file->get("transformer.wte.weight");                 // [416768, ...)
  EXPECT_EQ(later.data - first.data, 768);
  EXPECT_EQ(last.data - first.data, 416768);
  EXPECT_EQ(&file->get("transformer.wte.weight"), &last);
  auto again = SafetensorsFile::open(fixture("tiny-gpt2/model.safetensors"));
  EXPECT_NE(again->get("transformer.wte.weight").data, last.data);  // each file its own map
}

TEST(SafetensorsFile, ViewsOutliveMovesOfTheCheckpointThatOpenedThem) {
  // The file owns its mapping; moving the Checkpoint (or dropping it while a file is
  // still shared) must leave the views where they were and readable (ASan checks).
  auto opened = Checkpoint::open(fixture("tiny-gpt2"));
  const TensorView& wte = opened.get("transformer.wte.weight");
  const std::byte* data = wte.data;
  Checkpoint moved = std::move(opened);
  EXPECT_EQ(&moved.get("transformer.wte.weight"), &wte);
  EXPECT_EQ(moved.get("transformer.wte.weight").data, data);
  EXPECT_EQ(f32_bits(wte, 0), 0xbd00537eu);

  std::shared_ptr<SafetensorsFile> file = moved.files().front();
  moved = Checkpoint::open(fixture("tiny-phi"));  // the old checkpoint goes; `file` stays
  EXPECT_EQ(file->get("transformer.wte.weight").data, data);
  EXPECT_EQ(f32_bits(file->get("transformer.wte.weight"), 512 * 64 - 1), 0x3bd6fa37u);
}

TEST(SafetensorsFile, UnknownTensorNamesFileAndTensor) {
  auto file = SafetensorsFile::open(fixture("tiny-gpt2/model.safetensors"));
  expect_error([&] { file->get("transformer.h.9.ln_1.weight"); },
               {"model.safetensors", "'transformer.h.9.ln_1.weight'"});
}

// ---- corrupt files ---------------------------------------------------------------

class SafetensorsCorrupt : public ::testing::Test {
 protected:
  // Writes `bytes` and expects opening it to fail with a message naming the file and `parts`.
  void expect_open_error(const std::string& bytes, std::vector<std::string> parts) {
    auto path = dir_ / "bad.safetensors";
    write_bytes(path, bytes);
    parts.push_back(path.string());
    expect_error([&] { SafetensorsFile::open(path); }, parts);
  }
  static std::string data(size_t n) { return std::string(n, '\x11'); }
  ScratchDir dir_;
};

TEST_F(SafetensorsCorrupt, EmptyOrShorterThanTheLengthPrefix) {
  expect_open_error("", {"0 bytes", "too short"});
  expect_open_error("abc", {"3 bytes", "too short"});
}

TEST_F(SafetensorsCorrupt, HeaderLengthPastTheEnd) {
  expect_open_error(u64_le(1000) + "{}", {"header length 1000", "past the end"});
  expect_open_error(u64_le(~uint64_t{0}) + "{}", {"past the end"});
}

TEST_F(SafetensorsCorrupt, TruncatedFile) {
  std::string good = safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data(16));
  expect_open_error(good.substr(0, good.size() - 5), {"'a'", "out of range", "11 bytes"});
  expect_open_error(good.substr(0, 20), {"past the end"});  // cut inside the header
}

TEST_F(SafetensorsCorrupt, EveryTruncationFailsCleanly) {
  std::string good = safetensors_bytes(
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"I8","shape":[3],"data_offsets":[4,7]}})",
      data(7));
  auto path = dir_ / "cut.safetensors";
  for (size_t len = 0; len < good.size(); ++len) {
    write_bytes(path, good.substr(0, len));
    EXPECT_THROW(SafetensorsFile::open(path), ep::Error) << "length " << len;
  }
  write_bytes(path, good);
  EXPECT_NO_THROW(SafetensorsFile::open(path));
}

TEST_F(SafetensorsCorrupt, ByteFlipsNeverCrash) {
  // Under ASan this is the check that nothing reads outside the mapping.
  std::string good = safetensors_bytes(
      R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"U8","shape":[3],"data_offsets":[16,19]}})",
      data(19));
  auto path = dir_ / "flip.safetensors";
  const unsigned char replacements[] = {0x00, '0', '9', '"', '[', '{', 0xff};
  int rejected = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (unsigned char r : replacements) {
      std::string bad = good;
      bad[i] = static_cast<char>(r);
      write_bytes(path, bad);
      try {
        auto f = SafetensorsFile::open(path);
        for (const auto& n : f->names()) {
          const TensorView& t = f->get(n);
          volatile unsigned sum = 0;
          for (size_t k = 0; k < t.nbytes; ++k) sum += static_cast<unsigned>(t.data[k]);
        }
      } catch (const ep::Error&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST_F(SafetensorsCorrupt, BadJson) {
  expect_open_error(safetensors_bytes(R"({"a": {"dtype": "F32",)", ""), {"not valid JSON"});
  expect_open_error(safetensors_bytes(R"([1, 2, 3])", ""), {"must be a JSON object", "array"});
}

TEST_F(SafetensorsCorrupt, UnknownDtype) {
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", data(4)),
                    {"'w'", "unknown dtype 'F33'"});
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", data(4)),
                    {"'w'", "dtype must be a string"});
}

TEST_F(SafetensorsCorrupt, ShapeSizeMismatch) {
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", data(20)),
                    {"'w'", "size mismatch", "needs 24 bytes", "span 20"});
}

TEST_F(SafetensorsCorrupt, BadShapes) {
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", data(4)),
                    {"'w'", "non-negative"});
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", data(4)),
                    {"'w'", "non-negative integers"});
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}})", data(4)),
                    {"'w'", "shape must be an array"});
  expect_open_error(
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", data(4)),
      {"'w'", "overflow"});
  expect_open_error(
      safetensors_bytes(R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}})", data(4)),
      {"'w'", "overflow"});
}

TEST_F(SafetensorsCorrupt, OffsetsOutOfRange) {
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[1000],"data_offsets":[0,1000]}})", data(24)),
                    {"'w'", "out of range", "24 bytes"});
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", data(8)),
                    {"'w'", "begin > end"});
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[0,-4]}})", data(8)),
                    {"'w'", "non-negative integers"});
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4,8]}})", data(8)),
                    {"'w'", "[begin, end]"});
  expect_open_error(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[4]}})", data(4)),
                    {"'w'", "missing field 'data_offsets'"});
}

TEST_F(SafetensorsCorrupt, OverlappingOffsets) {
  expect_open_error(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                        R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                        data(24)),
      {"'b'", "overlaps", "'a'"});
  // Same range twice: the two tensors would alias each other.
  expect_open_error(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
                        data(8)),
      {"overlaps"});
}

TEST_F(SafetensorsCorrupt, HolesAndTrailingBytes) {
  expect_open_error(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
                        data(24)),
      {"'b'", "hole"});
  expect_open_error(safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data(12)),
                    {"trailing"});
}

TEST_F(SafetensorsCorrupt, DuplicateTensorName) {
  expect_open_error(
      safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        data(8)),
      {"'a' twice"});
}

TEST_F(SafetensorsCorrupt, MetadataMustMapStringsToStrings) {
  expect_open_error(safetensors_bytes(R"({"__metadata__":{"format":1}})", ""), {"__metadata__", "'format'", "string"});
  expect_open_error(safetensors_bytes(R"({"__metadata__":["pt"]})", ""), {"__metadata__", "object"});
}

TEST_F(SafetensorsCorrupt, EntryIsNotAnObject) {
  expect_open_error(safetensors_bytes(R"({"w":[0,4]})", data(4)), {"'w'", "expected an object"});
}

TEST(SafetensorsFile, MissingFileOrFolderIsAnError) {
  ScratchDir dir;
  expect_error([&] { SafetensorsFile::open(dir / "nope.safetensors"); }, {"nope.safetensors", "cannot open"});
  expect_error([&] { SafetensorsFile::open(dir.path()); }, {"regular file"});
}

TEST(SafetensorsFile, EmptyHeaderIsAValidEmptyFile) {
  ScratchDir dir;
  write_bytes(dir / "e.safetensors", safetensors_bytes("{}      ", ""));
  auto file = SafetensorsFile::open(dir / "e.safetensors");
  EXPECT_TRUE(file->names().empty());
}

}  // namespace
}  // namespace ep::st
