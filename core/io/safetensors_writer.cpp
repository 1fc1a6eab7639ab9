// Writing a .safetensors file that HF's safetensors library reads back.
// ref: https://github.com/huggingface/safetensors, README "Format": the 8-byte
// little-endian header length, the JSON header, then the tensors' bytes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace ep::st {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kHeaderAlignment = 8;

void check_tensor(const fs::path& path, const TensorToWrite& t) {
  EP_CHECK(!t.name.empty(), "{}: cannot write a tensor with an empty name", path.string());
  EP_CHECK(t.name != "__metadata__", "{}: '__metadata__' is reserved and cannot name a tensor",
           path.string());
  uint64_t numel = 1;
  for (int64_t d : t.shape) {
    EP_CHECK(d >= 0, "{}: tensor '{}': shape has a negative dimension {}", path.string(), t.name, d);
    EP_CHECK(!__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel),
             "{}: tensor '{}': element count overflows", path.string(), t.name);
  }
  uint64_t expected = 0;
  EP_CHECK(!__builtin_mul_overflow(numel, dtype_size(t.dtype), &expected) && expected == t.nbytes,
           "{}: tensor '{}': nbytes is {} but {} elements of {} need {}", path.string(), t.name,
           t.nbytes, numel, dtype_name(t.dtype), numel * dtype_size(t.dtype));
  EP_CHECK(t.data != nullptr || t.nbytes == 0, "{}: tensor '{}': data is null", path.string(),
           t.name);
}

// Tensors in name order: the header lists them so (nlohmann objects are sorted) and
// the data follows the same order, so offsets grow with the name.
std::vector<const TensorToWrite*> sorted_by_name(const fs::path& path,
                                                 const std::vector<TensorToWrite>& tensors) {
  std::vector<const TensorToWrite*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });
  for (size_t i = 1; i < order.size(); ++i)
    EP_CHECK(order[i - 1]->name != order[i]->name, "{}: tensor '{}' given twice", path.string(),
             order[i]->name);
  return order;
}

// The JSON header, padded with spaces so the data section starts 8-byte aligned.
std::string make_header(const fs::path& path, const std::vector<const TensorToWrite*>& order,
                        const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  uint64_t offset = 0;
  for (const TensorToWrite* t : order) {
    header[t->name] = {{"dtype", dtype_name(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    EP_FAIL("{}: cannot encode the header (tensor names and metadata must be UTF-8): {}",
            path.string(), e.what());
  }
  text.append((kHeaderAlignment - text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
  return text;
}

// A file being written; removed again unless commit() renamed it into place.
class TempFile {
 public:
  TempFile(fs::path tmp, fs::path final_path) : tmp_(std::move(tmp)), final_(std::move(final_path)) {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EP_CHECK(fd_ >= 0, "{}: cannot create: {}", tmp_.string(), std::strerror(errno));
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      EP_CHECK(w > 0, "{}: write failed: {}", tmp_.string(), std::strerror(errno));
      p += w;
      n -= static_cast<size_t>(w);
    }
  }

  // fsync before rename: otherwise a crash could leave the new name on empty data.
  void commit() {
    EP_CHECK(::fsync(fd_) == 0, "{}: fsync failed: {}", tmp_.string(), std::strerror(errno));
    int rc = ::close(fd_);
    fd_ = -1;
    EP_CHECK(rc == 0, "{}: close failed: {}", tmp_.string(), std::strerror(errno));
    EP_CHECK(::rename(tmp_.c_str(), final_.c_str()) == 0, "{}: cannot rename {} into place: {}",
             final_.string(), tmp_.string(), std::strerror(errno));
    committed_ = true;
  }

 private:
  fs::path tmp_, final_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

void write_safetensors(const fs::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  for (const auto& t : tensors) check_tensor(path, t);
  auto order = sorted_by_name(path, tensors);
  std::string header = make_header(path, order, metadata);

  unsigned char length[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));  // little-endian

  TempFile out(fs::path(path.string() + ".tmp"), path);
  out.write(length, sizeof length);
  out.write(header.data(), header.size());
  for (const TensorToWrite* t : order) out.write(t->data, t->nbytes);
  out.commit();
}

}  // namespace ep::st
