// Checkpoints: single files, folders, sharded index files and their failure modes.
#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "tests/core/io_test_files.h"

namespace ep::st {
namespace {

namespace fs = std::filesystem;
using ep::testing::expect_error;
using ep::testing::fixture;
using ep::testing::read_bytes;
using ep::testing::ScratchDir;
using ep::testing::write_bytes;
using nlohmann::json;

// IEEE binary32 -> binary16, round to nearest, ties to even (what torch's .half() does).
// Written out bit by bit so the test does not trust any library conversion.
uint16_t f32_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t exp = (bits >> 23) & 0xffu;
  uint32_t mant = bits & 0x7fffffu;
  if (exp == 0xff) return sign | 0x7c00u | (mant ? 0x200u : 0u);  // inf, or a quiet NaN
  const int e = static_cast<int>(exp) - 127 + 15;                 // rebiased exponent
  if (e >= 31) return sign | 0x7c00u;                               // too large: inf
  auto round_shift = [](uint32_t m, int shift) {
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    return q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
  };
  if (e <= 0) {
    // Subnormal half: value / 2^-24 = (1.mant * 2^23) * 2^(e - 14).
    const int shift = 14 - e;
    if (shift > 24) return sign;  // below half the smallest subnormal (also f32 subnormals)
    if (exp == 0) return sign;    // f32 subnormals are < 2^-126: zero in half
    return static_cast<uint16_t>(sign | round_shift(mant | 0x800000u, shift));
  }
  // Normal: a carry out of the mantissa correctly bumps the exponent (up to inf).
  return static_cast<uint16_t>(sign | round_shift(static_cast<uint32_t>(e) << 23 | mant, 13));
}

TEST(F32ToF16, RoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);  // below the midpoint to 65536
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // the midpoint rounds (to even) up to inf
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie -> even (down)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and 2^-24 -> 0
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 subnormal units: tie -> 2
  EXPECT_EQ(f32_to_f16(std::ldexp(1023.5f, -24)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(f32_to_f16(-std::ldexp(1.0f, -30)), 0x8000);
}

std::vector<std::string> names_of(const fs::path& p) { return Checkpoint::open(p).names(); }

TEST(Checkpoint, OpensAFolderWithModelSafetensors) {
  auto ckpt = Checkpoint::open(fixture("tiny-gpt2"));
  EXPECT_EQ(ckpt.files().size(), 1u);
  EXPECT_EQ(ckpt.names().size(), 28u);
  EXPECT_FALSE(ckpt.contains("input_ids")) << "reference.safetensors must not be loaded";
  EXPECT_EQ(ckpt.get("transformer.h.0.attn.c_attn.weight").shape, (std::vector<int64_t>{64, 192}));
  EXPECT_EQ(ckpt.total_bytes(), 547840);  // data section of model.safetensors
  EXPECT_EQ(names_of(fixture("tiny-gpt2/model.safetensors")), ckpt.names());
}

TEST(Checkpoint, OpensAShardedFolderThroughItsIndex) {
  auto ckpt = Checkpoint::open(fixture("tiny-phi-fp16-sharded"));
  ASSERT_EQ(ckpt.files().size(), 2u);
  EXPECT_EQ(ckpt.files()[0]->path().filename(), "model-00001-of-00002.safetensors");
  EXPECT_EQ(ckpt.names().size(), 33u);  // 14 per layer x 2, embed, final ln x 2, lm_head x 2
  EXPECT_EQ(ckpt.total_bytes(), 331776);  // the index's metadata.total_size
  EXPECT_TRUE(ckpt.contains("lm_head.bias"));
  EXPECT_TRUE(ckpt.contains("model.embed_tokens.weight"));
  // The index file itself works as the path too.
  EXPECT_EQ(names_of(fixture("tiny-phi-fp16-sharded/model.safetensors.index.json")), ckpt.names());
}

TEST(Checkpoint, ShardedFp16EqualsFp32RoundedToNearestEven) {
  auto fp32 = Checkpoint::open(fixture("tiny-phi"));
  auto fp16 = Checkpoint::open(fixture("tiny-phi-fp16-sharded"));
  ASSERT_EQ(fp32.names(), fp16.names());
  int64_t compared = 0, subnormal = 0;
  for (const auto& name : fp32.names()) {
    const TensorView& a = fp32.get(name);
    const TensorView& h = fp16.get(name);
    ASSERT_EQ(a.dtype, DType::F32) << name;
    ASSERT_EQ(h.dtype, DType::F16) << name;
    ASSERT_EQ(a.shape, h.shape) << name;
    for (int64_t i = 0; i < a.numel(); ++i) {
      float x;
      uint16_t got;
      std::memcpy(&x, a.data + 4 * i, 4);
      std::memcpy(&got, h.data + 2 * i, 2);
      uint16_t want = f32_to_f16(x);
      if ((want & 0x7c00u) == 0 && (want & 0x3ffu) != 0) ++subnormal;
      ASSERT_EQ(got, want) << name << "[" << i << "] = " << x;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 165888);  // the index's metadata.total_parameters
  EXPECT_GT(subnormal, 0) << "the fixture should exercise fp16 subnormals";
}

TEST(Checkpoint, AcceptsALoneSafetensorsFileOfAnotherName) {
  ScratchDir dir;
  float v[2] = {1, 2};
  write_safetensors(dir / "weights.safetensors", {{"w", DType::F32, {2}, v, 8}});
  auto ckpt = Checkpoint::open(dir.path());
  EXPECT_EQ(ckpt.names(), std::vector<std::string>{"w"});
  EXPECT_EQ(ckpt.total_bytes(), 8);
}

TEST(Checkpoint, RejectsFoldersWithoutOneClearCheckpoint) {
  ScratchDir dir;
  expect_error([&] { Checkpoint::open(dir.path()); }, {"no checkpoint found", dir.path().string()});
  float v = 0;
  write_safetensors(dir / "a.safetensors", {{"w", DType::F32, {1}, &v, 4}});
  write_safetensors(dir / "b.safetensors", {{"w", DType::F32, {1}, &v, 4}});
  expect_error([&] { Checkpoint::open(dir.path()); }, {"ambiguous", "a.safetensors", "b.safetensors"});
  expect_error([&] { Checkpoint::open(dir / "missing"); }, {"not found", "missing"});
}

TEST(Checkpoint, UnknownTensorNamesTheCheckpointAndTensor) {
  auto ckpt = Checkpoint::open(fixture("tiny-phi-fp16-sharded"));
  expect_error([&] { ckpt.get("model.layers.7.mlp.fc1.weight"); },
               {"tiny-phi-fp16-sharded", "'model.layers.7.mlp.fc1.weight'"});
}

// A copy of the sharded fixture whose index each test edits.
class ShardedIndex : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& e : fs::directory_iterator(fixture("tiny-phi-fp16-sharded")))
      fs::copy_file(e.path(), dir_ / e.path().filename().string());
    index_ = json::parse(read_bytes(index_path()));
  }
  fs::path index_path() const { return dir_ / "model.safetensors.index.json"; }
  json& weight_map() { return index_["weight_map"]; }
  void save_index() { write_bytes(index_path(), index_.dump(2)); }
  void expect_open_error(const std::vector<std::string>& parts) {
    save_index();
    expect_error([&] { Checkpoint::open(dir_.path()); }, parts);
  }

  ScratchDir dir_;
  json index_;
};

TEST_F(ShardedIndex, UnchangedCopyOpens) {
  save_index();
  EXPECT_EQ(Checkpoint::open(dir_.path()).names().size(), 33u);
}

TEST_F(ShardedIndex, NamingAMissingShardIsAnError) {
  weight_map()["lm_head.bias"] = "model-00003-of-00003.safetensors";
  expect_open_error({"model.safetensors.index.json", "model-00003-of-00003.safetensors", "does not exist",
                     "lm_head.bias"});
}

TEST_F(ShardedIndex, DeletedShardFileIsAnError) {
  fs::remove(dir_ / "model-00002-of-00002.safetensors");
  expect_open_error({"model-00002-of-00002.safetensors", "does not exist"});
}

TEST_F(ShardedIndex, TensorAbsentFromItsShardIsAnError) {
  weight_map()["lm_head.bias"] = "model-00001-of-00002.safetensors";  // it lives in shard 2
  expect_open_error({"'lm_head.bias'", "model-00001-of-00002.safetensors", "no such tensor"});
}

TEST_F(ShardedIndex, TensorThatExistsNowhereIsAnError) {
  weight_map()["model.layers.2.mlp.fc1.weight"] = "model-00001-of-00002.safetensors";
  expect_open_error({"'model.layers.2.mlp.fc1.weight'", "no such tensor"});
}

TEST_F(ShardedIndex, ShardTensorMissingFromTheIndexIsAnError) {
  weight_map().erase("lm_head.weight");
  expect_open_error({"'lm_head.weight'", "does not place there"});
}

TEST_F(ShardedIndex, TensorInTwoShardsIsAnError) {
  float v[2] = {0, 0};
  write_safetensors(dir_ / "extra.safetensors", {{"lm_head.bias", DType::F32, {2}, v, 8}});
  weight_map()["lm_head.bias"] = "extra.safetensors";
  expect_open_error({"'lm_head.bias'", "present in two shards", "extra.safetensors",
                     "model-00002-of-00002.safetensors"});
}

TEST_F(ShardedIndex, ShardNamesMustStayInTheFolder) {
  weight_map()["lm_head.bias"] = "../model-00002-of-00002.safetensors";
  expect_open_error({"'lm_head.bias'", "must be a file name"});
}

TEST_F(ShardedIndex, MalformedIndexIsAnError) {
  write_bytes(index_path(), "{\"weight_map\": {");
  expect_error([&] { Checkpoint::open(dir_.path()); }, {"model.safetensors.index.json", "not valid JSON"});
  index_ = json{{"metadata", json::object()}};
  expect_open_error({"\"weight_map\""});
  index_ = json{{"weight_map", {{"lm_head.bias", 2}}}};
  expect_open_error({"'lm_head.bias'", "must be a string"});
  index_ = json{{"weight_map", json::object()}};
  expect_open_error({"empty"});
}

TEST_F(ShardedIndex, CorruptShardIsNamed) {
  std::string bytes = read_bytes(dir_ / "model-00002-of-00002.safetensors");
  write_bytes(dir_ / "model-00002-of-00002.safetensors", bytes.substr(0, bytes.size() / 2));
  expect_open_error({"model-00002-of-00002.safetensors", "out of range"});
}

}  // namespace
}  // namespace ep::st
