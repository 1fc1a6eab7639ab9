// A flat binary encoding of CellResult: each field in declaration order; strings
// and vectors as a u64 length then their bytes.
#include "runner/cell_codec.h"

#include <cstring>
#include <type_traits>

#include "core/util/error.h"

namespace ep::runner {
namespace {

constexpr uint32_t kMagic = 0x45504331;  // "EPC1"

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
    pod<uint64_t>(v.size());
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    bytes.insert(bytes.end(), p, p + v.size() * sizeof(T));
  }
  template <class T>
  void array(const Array<T>& a) {
    vec(a.shape);
    vec(a.data);
  }
  void split(const SplitResult& s) {
    str(s.metric);
    pod(s.accuracy);
    pod(s.loss);
    pod(s.n);
    vec(s.predicted);
    vec(s.correct);
  }
};

class Reader {
 public:
  explicit Reader(const std::vector<uint8_t>& b) : bytes_(b) {}

  template <class T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    auto n = pod<uint64_t>();
    need(n);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  template <class T>
  std::vector<T> vec() {
    auto n = pod<uint64_t>();
    EP_CHECK(n <= (bytes_.size() - pos_) / sizeof(T), "cell result message: a vector runs past the end");
    std::vector<T> v(n);
    std::memcpy(v.data(), bytes_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return v;
  }
  template <class T>
  Array<T> array() {
    Array<T> a;
    a.shape = vec<int64_t>();
    a.data = vec<T>();
    return a;
  }
  SplitResult split() {
    SplitResult s;
    s.metric = str();
    s.accuracy = pod<double>();
    s.loss = pod<double>();
    s.n = pod<int64_t>();
    s.predicted = vec<int64_t>();
    s.correct = vec<uint8_t>();
    return s;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  void need(size_t n) const {
    EP_CHECK(n <= bytes_.size() - pos_, "cell result message: truncated ({} bytes)", bytes_.size());
  }
  const std::vector<uint8_t>& bytes_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<uint8_t> encode_cell(const CellResult& c) {
  Writer w;
  w.pod(kMagic);
  w.pod<int64_t>(c.index);
  for (const auto* s : {&c.name, &c.model, &c.task, &c.fingerprint, &c.status, &c.error, &c.ran_on}) w.str(*s);
  for (const auto* v : {&c.test_ids, &c.test_targets, &c.validation_ids, &c.validation_targets}) w.vec(*v);
  w.split(c.base.test);
  w.split(c.base.validation);
  w.pod<uint64_t>(c.pruned.size());
  for (const auto& r : c.pruned) {
    w.pod(r.p);
    w.pod(r.n_frozen);
    w.split(r.eval.test);
    w.split(r.eval.validation);
    w.pod<uint64_t>(r.masks.size());
    for (const auto& [name, mask] : r.masks) {
      w.str(name);
      w.array(mask);
    }
  }
  w.pod<uint64_t>(c.scores.size());
  for (const auto& [name, s] : c.scores) {
    w.str(name);
    w.array(s.delta_loss);
    w.array(s.singular_values);
    w.array(s.activation_mean);
    w.array(s.position_count);
  }
  w.vec(c.finetune_loss);
  w.pod<uint64_t>(c.timings.size());
  for (const auto& [stage, seconds] : c.timings) {
    w.str(stage);
    w.pod(seconds);
  }
  w.pod(c.examples);
  return std::move(w.bytes);
}

CellResult decode_cell(const std::vector<uint8_t>& bytes) {
  Reader r(bytes);
  EP_CHECK(r.pod<uint32_t>() == kMagic, "cell result message: bad magic (ranks running different eprunner builds?)");
  CellResult c;
  c.index = static_cast<int>(r.pod<int64_t>());
  for (auto* s : {&c.name, &c.model, &c.task, &c.fingerprint, &c.status, &c.error, &c.ran_on}) *s = r.str();
  for (auto* v : {&c.test_ids, &c.test_targets, &c.validation_ids, &c.validation_targets}) *v = r.vec<int64_t>();
  c.base.test = r.split();
  c.base.validation = r.split();
  const auto n_pruned = r.pod<uint64_t>();
  EP_CHECK(n_pruned <= bytes.size(), "cell result message: {} pruned results cannot fit", n_pruned);
  c.pruned.resize(n_pruned);
  for (auto& p : c.pruned) {
    p.p = r.pod<double>();
    p.n_frozen = r.pod<int64_t>();
    p.eval.test = r.split();
    p.eval.validation = r.split();
    for (auto n = r.pod<uint64_t>(); n > 0; --n) {
      std::string name = r.str();
      p.masks[name] = r.array<uint8_t>();
    }
  }
  for (auto n = r.pod<uint64_t>(); n > 0; --n) {
    MatrixScores& s = c.scores[r.str()];
    s.delta_loss = r.array<float>();
    s.singular_values = r.array<float>();
    s.activation_mean = r.array<float>();
    s.position_count = r.array<int64_t>();
  }
  c.finetune_loss = r.vec<float>();
  for (auto n = r.pod<uint64_t>(); n > 0; --n) {
    std::string stage = r.str();
    c.timings[stage] = r.pod<double>();
  }
  c.examples = r.pod<int64_t>();
  EP_CHECK(r.done(), "cell result message: {} trailing bytes", bytes.size());
  return c;
}

}  // namespace ep::runner
