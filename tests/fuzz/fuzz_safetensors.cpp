// One .safetensors file: the 8-byte length, the JSON header (strict: a key named twice
// is an error) and the layout of the data section (core/io/safetensors_file.cpp).
// Input: the whole file. Every tensor handed out must lie inside the file and have the
// bytes its dtype and shape say; each is read to the last byte.
#include <cstddef>
#include <cstdint>

#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ep::fuzz::scratch() / "model.safetensors";
  ep::fuzz::write_file(path, data, size);
  try {
    auto file = ep::st::SafetensorsFile::open(path);
    size_t total = 0;
    unsigned sum = 0;
    for (const auto& name : file->names()) {
      const ep::st::TensorView& t = file->get(name);
      EP_FUZZ_ASSERT(t.nbytes == static_cast<size_t>(t.numel()) * ep::st::dtype_size(t.dtype),
                     "tensor '%s': %zu bytes for %lld elements", name.c_str(), t.nbytes,
                     static_cast<long long>(t.numel()));
      total += t.nbytes;
      for (size_t i = 0; i < t.nbytes; ++i) sum += static_cast<unsigned>(t.data[i]);
    }
    EP_FUZZ_ASSERT(total <= size, "tensors hold %zu bytes in a %zu-byte file", total, size);
    for (const auto& [key, value] : file->metadata()) sum += static_cast<unsigned>(key.size() + value.size());
    (void)sum;
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
  }
  return 0;
}
