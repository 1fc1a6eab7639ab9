// A sharded checkpoint's model.safetensors.index.json (core/io/checkpoint.cpp): the
// weight map's shape, shard names (plain names in the folder only), and the agreement
// of the index with the shards. Input: the index file. The folder also holds two
// small valid shards, written once (tensor "a" in model-00001-of-00002.safetensors,
// "b" and "c" in model-00002-of-00002.safetensors), so an index can name them right
// or wrong.
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

const std::filesystem::path& checkpoint_dir() {
  static const std::filesystem::path dir = [] {
    auto d = ep::fuzz::scratch() / "ckpt";
    std::filesystem::create_directories(d);
    static const float a[4] = {1, 2, 3, 4};
    static const uint16_t b[2] = {0x3c00, 0x4000};
    static const int64_t c[1] = {7};
    using ep::st::DType;
    ep::st::write_safetensors(d / "model-00001-of-00002.safetensors", {{"a", DType::F32, {2, 2}, a, sizeof a}},
                              {{"format", "pt"}});
    ep::st::write_safetensors(d / "model-00002-of-00002.safetensors",
                              {{"b", DType::F16, {2}, b, sizeof b}, {"c", DType::I64, {}, c, sizeof c}});
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = checkpoint_dir();
  ep::fuzz::write_file(dir / "model.safetensors.index.json", data, size);
  try {
    ep::st::Checkpoint ckpt = ep::st::Checkpoint::open(dir);
    for (const auto& name : ckpt.names()) {
      const ep::st::TensorView& t = ckpt.get(name);
      EP_FUZZ_ASSERT(t.data != nullptr || t.nbytes == 0, "tensor '%s' has no data", name.c_str());
    }
    EP_FUZZ_ASSERT(ckpt.total_bytes() <= 32, "checkpoint of 28 tensor bytes reports %lld",
                   static_cast<long long>(ckpt.total_bytes()));
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
  }
  return 0;
}
