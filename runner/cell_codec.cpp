// A flat binary encoding of CellResult: each field in declaration order; strings
// and vectors as a u64 length then their bytes (distributed/bytes.h).
#include "runner/cell_codec.h"

#include <algorithm>
#include <type_traits>

#include <fmt/format.h>
#include <zlib.h>

#include "core/util/error.h"
#include "distributed/bytes.h"

namespace ep::runner {
namespace {

using dist::Reader;
using dist::Writer;

constexpr uint32_t kMagic = 0x45504332;  // "EPC2" (EPC1 had no macro_f1)
constexpr uint32_t kOutcomesMagic = 0x45504f31;  // "EPO1"

template <class T>
void put_array(Writer& w, const Array<T>& a) {
  w.vec(a.shape);
  w.vec(a.data);
}

template <class T>
Array<T> take_array(Reader& r) {
  Array<T> a;
  a.shape = r.vec<int64_t>();
  a.data = r.vec<T>();
  return a;
}

void put_split(Writer& w, const SplitResult& s) {
  w.str(s.metric);
  w.pod(s.accuracy);
  w.pod(s.loss);
  w.pod(s.macro_f1);
  w.pod(s.n);
  w.vec(s.predicted);
  w.vec(s.correct);
}

SplitResult take_split(Reader& r) {
  SplitResult s;
  s.metric = r.str();
  s.accuracy = r.pod<double>();
  s.loss = r.pod<double>();
  s.macro_f1 = r.pod<double>();
  s.n = r.pod<int64_t>();
  s.predicted = r.vec<int64_t>();
  s.correct = r.vec<uint8_t>();
  return s;
}

void put_masks(Writer& w, const std::map<std::string, Array<uint8_t>>& masks) {
  w.pod<uint64_t>(masks.size());
  for (const auto& [name, mask] : masks) {
    w.str(name);
    put_array(w, mask);
  }
}

void take_masks(Reader& r, std::map<std::string, Array<uint8_t>>& masks) {
  for (auto n = r.pod<uint64_t>(); n > 0; --n) {
    std::string name = r.str();
    masks[name] = take_array<uint8_t>(r);
  }
}

// Methods come last and only when there are any, so a cell without them encodes (and
// checksums) byte for byte as before they existed.
void put_methods(Writer& w, const std::vector<MethodResult>& methods) {
  if (methods.empty()) return;
  w.pod<uint64_t>(methods.size());
  for (const auto& m : methods) {
    w.str(m.method);
    w.pod(m.fraction);
    w.pod(m.seed);
    w.str(m.matrix);
    w.vec(m.layers);
    w.pod(m.n_removed);
    put_split(w, m.eval.test);
    put_split(w, m.eval.validation);
    put_masks(w, m.masks);
  }
}

void take_methods(Reader& r, std::vector<MethodResult>& methods) {
  if (r.done()) return;
  methods.resize(r.count(2 * sizeof(double) + sizeof(int64_t)));
  for (auto& m : methods) {
    m.method = r.str();
    m.fraction = r.pod<double>();
    m.seed = r.pod<int64_t>();
    m.matrix = r.str();
    m.layers = r.vec<int64_t>();
    m.n_removed = r.pod<int64_t>();
    m.eval.test = take_split(r);
    m.eval.validation = take_split(r);
    take_masks(r, m.masks);
  }
}

}  // namespace

std::vector<uint8_t> encode_cell(const CellResult& c) {
  Writer w;
  w.pod(kMagic);
  w.pod<int64_t>(c.index);
  for (const auto* s : {&c.name, &c.model, &c.task, &c.fingerprint, &c.error, &c.ran_on}) w.str(*s);
  w.pod(c.status);
  for (const auto* v : {&c.test_ids, &c.test_targets, &c.validation_ids, &c.validation_targets}) w.vec(*v);
  put_split(w, c.base.test);
  put_split(w, c.base.validation);
  w.pod<uint64_t>(c.pruned.size());
  for (const auto& r : c.pruned) {
    w.pod(r.p);
    w.pod(r.n_frozen);
    put_split(w, r.eval.test);
    put_split(w, r.eval.validation);
    put_masks(w, r.masks);
  }
  w.pod<uint64_t>(c.scores.size());
  for (const auto& [name, s] : c.scores) {
    w.str(name);
    put_array(w, s.delta_loss);
    put_array(w, s.singular_values);
    put_array(w, s.activation_mean);
    put_array(w, s.position_count);
  }
  w.vec(c.finetune_loss);
  w.pod<uint64_t>(c.timings.size());
  for (const auto& [stage, seconds] : c.timings) {
    w.str(stage);
    w.pod(seconds);
  }
  w.pod(c.examples);
  put_methods(w, c.methods);
  return std::move(w.bytes);
}

CellResult decode_cell(const std::vector<uint8_t>& bytes) {
  Reader r(bytes, "cell result message");
  EP_CHECK(r.pod<uint32_t>() == kMagic, "cell result message: bad magic (ranks running different eprunner builds?)");
  CellResult c;
  c.index = static_cast<int>(r.pod<int64_t>());
  for (auto* s : {&c.name, &c.model, &c.task, &c.fingerprint, &c.error, &c.ran_on}) *s = r.str();
  c.status = r.pod<CellStatus>();
  EP_CHECK(c.status == CellStatus::Done || c.status == CellStatus::Error, "cell result message: bad status {}",
           static_cast<int>(c.status));
  for (auto* v : {&c.test_ids, &c.test_targets, &c.validation_ids, &c.validation_targets}) *v = r.vec<int64_t>();
  c.base.test = take_split(r);
  c.base.validation = take_split(r);
  c.pruned.resize(r.count(sizeof(double) + sizeof(int64_t)));
  for (auto& p : c.pruned) {
    p.p = r.pod<double>();
    p.n_frozen = r.pod<int64_t>();
    p.eval.test = take_split(r);
    p.eval.validation = take_split(r);
    take_masks(r, p.masks);
  }
  for (auto n = r.pod<uint64_t>(); n > 0; --n) {
    MatrixScores& s = c.scores[r.str()];
    s.delta_loss = take_array<float>(r);
    s.singular_values = take_array<float>(r);
    s.activation_mean = take_array<float>(r);
    s.position_count = take_array<int64_t>(r);
  }
  c.finetune_loss = r.vec<float>();
  for (auto n = r.pod<uint64_t>(); n > 0; --n) {
    std::string stage = r.str();
    c.timings[stage] = r.pod<double>();
  }
  c.examples = r.pod<int64_t>();
  take_methods(r, c.methods);
  EP_CHECK(r.done(), "cell result message: {} trailing bytes", bytes.size());
  return c;
}

std::string cell_checksum(const CellResult& cell) {
  const std::vector<uint8_t> bytes = encode_cell(cell);
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes at most 4 GiB per call.
  for (size_t done = 0; done < bytes.size();) {
    const size_t n = std::min<size_t>(bytes.size() - done, 1u << 30);
    crc = crc32(crc, bytes.data() + done, static_cast<uInt>(n));
    done += n;
  }
  return fmt::format("crc32:{:08x}", static_cast<uint32_t>(crc));
}

namespace {
// ExampleOutcomes' vectors in wire order, for encoding and decoding alike.
template <class Outcomes, class Fn>
void for_each_vector(Outcomes& o, Fn&& fn) {
  fn(o.rows);
  fn(o.correct);
  fn(o.choice_correct);
  fn(o.predicted);
  fn(o.choice_predicted);
  fn(o.loglik_choice);
  fn(o.loss);
}
}  // namespace

std::vector<uint8_t> encode_outcomes(const ExampleOutcomes& o) {
  Writer w;
  w.pod(kOutcomesMagic);
  for_each_vector(o, [&](const auto& v) { w.vec(v); });
  return std::move(w.bytes);
}

ExampleOutcomes decode_outcomes(const std::vector<uint8_t>& bytes) {
  Reader r(bytes, "evaluation outcomes message");
  EP_CHECK(r.pod<uint32_t>() == kOutcomesMagic, "evaluation outcomes message: bad magic");
  ExampleOutcomes o;
  for_each_vector(o, [&](auto& v) { v = r.vec<typename std::decay_t<decltype(v)>::value_type>(); });
  EP_CHECK(r.done(), "evaluation outcomes message: trailing bytes");
  return o;
}

}  // namespace ep::runner
