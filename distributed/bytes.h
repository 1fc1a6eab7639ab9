// Plain data <-> bytes for messages between ranks of one eprunner build: what a
// group leader sends the writer (runner/cell_codec.h), what ranks gather after
// evaluating their shards. Native byte order, no padding: both ends are the same
// binary. A Reader checks every length against what is left, so a truncated or
// corrupt message is an ep::Error naming the message, never a crash. Torch-free.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/util/error.h"

namespace ep::dist {

class Writer {
 public:
  std::vector<uint8_t> bytes;

  template <class T>
  void pod(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    pod<uint64_t>(v.size());
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    bytes.insert(bytes.end(), p, p + v.size() * sizeof(T));
  }
};

class Reader {
 public:
  // `what` names the message in errors ("cell result message").
  Reader(const std::vector<uint8_t>& bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}

  template <class T>
  T pod() {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    const auto n = pod<uint64_t>();
    need(n);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  template <class T>
  std::vector<T> vec() {
    const auto n = pod<uint64_t>();
    EP_CHECK(n <= (bytes_.size() - pos_) / sizeof(T), "{}: a vector of {} elements runs past the end ({} bytes)", what_,
             n, bytes_.size());
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return v;
  }
  // A count of items still to read, each at least `min_bytes` long: bounded by what is left.
  uint64_t count(size_t min_bytes) {
    const auto n = pod<uint64_t>();
    EP_CHECK(n <= (bytes_.size() - pos_) / (min_bytes ? min_bytes : 1), "{}: {} items cannot fit in {} bytes", what_,
             n, bytes_.size() - pos_);
    return n;
  }
  bool done() const { return pos_ == bytes_.size(); }
  const std::string& what() const { return what_; }

 private:
  void need(size_t n) const {
    EP_CHECK(n <= bytes_.size() - pos_, "{}: truncated ({} bytes)", what_, bytes_.size());
  }
  const std::vector<uint8_t>& bytes_;
  std::string what_;
  size_t pos_ = 0;
};

}  // namespace ep::dist
