// GGUF reader and dequantization, against llama.cpp's own Python package (gguf-py):
// tests/reference/gguf_reference.py writes files with gguf.GGUFWriter and the reference
// float32 values with gguf.quants.dequantize at test time. Also the real SmolLM2 Q4_1 file
// (path from EP_SMOLLM2_GGUF) and hand-made broken files. Skipped only when EP_PYTHON
// (the project's .venv) has no `gguf`.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <cctype>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "core/io/gguf.h"
#include "core/io/gguf_config.h"
#include "tests/core/io_test_files.h"

namespace ep::gguf {
namespace {

namespace fs = std::filesystem;
using ep::testing::expect_error;
using ep::testing::read_bytes;
using ep::testing::ScratchDir;
using ep::testing::write_bytes;
using nlohmann::json;

const fs::path kScript = fs::path(EP_SOURCE_DIR) / "tests" / "reference" / "gguf_reference.py";

bool have_gguf_py() { return std::system("'" EP_PYTHON "' -c 'import gguf' >/dev/null 2>&1") == 0; }

#define SKIP_WITHOUT_GGUF_PY() \
  if (!have_gguf_py()) GTEST_SKIP() << EP_PYTHON << " cannot import gguf (run scripts/setup)"

// A folder removed when the test binary exits; the reference files are made once per binary.
class KeptDir {
 public:
  explicit KeptDir(const std::string& tag)
      : path_(fs::temp_directory_path() / ("ep_gguf_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~KeptDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Reference {
  KeptDir dir;
  json manifest;
  bool ok = false;
};

json load_json(const fs::path& p) { return json::parse(read_bytes(p)); }

const Reference& types_reference() {
  static Reference ref = [] {
    Reference r{KeptDir("types"), {}, false};
    std::string cmd = "'" EP_PYTHON "' '" + kScript.string() + "' types '" + r.dir.path().string() + "'";
    r.ok = std::system(cmd.c_str()) == 0;
    if (r.ok) r.manifest = load_json(r.dir.path() / "manifest.json");
    return r;
  }();
  return ref;
}

std::vector<float> read_f32(const fs::path& p) {
  std::string bytes = read_bytes(p);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// How far our values are from the reference: bitwise differences and the worst error.
struct Comparison {
  size_t n = 0, bit_differences = 0, beyond_tolerance = 0;
  double max_abs_error = 0;
};

// Both sides compute the same float32 operations, so values should be bitwise equal; the
// tolerance (1e-6 relative, absolute below 1) only absorbs a compiler that fuses a
// multiply-add, which changes the last bit of d * q + m.
Comparison compare(const std::vector<float>& ours, const std::vector<float>& ref) {
  Comparison c;
  c.n = ref.size();
  for (size_t i = 0; i < ref.size() && i < ours.size(); ++i) {
    if (bits_of(ours[i]) == bits_of(ref[i])) continue;
    ++c.bit_differences;
    double err = std::isinf(ref[i]) || std::isinf(ours[i]) ? INFINITY : std::fabs(double(ours[i]) - ref[i]);
    c.max_abs_error = std::max(c.max_abs_error, err);
    if (!(err <= 1e-6 * std::max(1.0, std::fabs(double(ref[i]))))) ++c.beyond_tolerance;
  }
  return c;
}

std::vector<int64_t> shape_of(const json& j) { return j.get<std::vector<int64_t>>(); }

// ---- metadata compared with what gguf-py wrote ----------------------------------------

void expect_value_equals(const Value& v, const json& expected, const std::string& key) {
  SCOPED_TRACE(key);
  std::string type = expected["type"];
  if (type != "ARRAY") {
    ASSERT_FALSE(v.is_array());
    ASSERT_EQ(std::string(value_type_name(v.type())), [&] {
      std::string lower = type;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(ch));
      return lower;
    }());
    const json& x = expected["value"];
    if (type == "STRING") EXPECT_EQ(v.string_at(0), x.get<std::string>());
    else if (type == "BOOL") EXPECT_EQ(v.bool_at(0), x.get<bool>());
    else if (type == "FLOAT32" || type == "FLOAT64") EXPECT_EQ(v.float_at(0), x.get<double>());
    else if (type == "UINT64") EXPECT_EQ(v.uint_at(0), x.get<uint64_t>());
    else EXPECT_EQ(v.int_at(0), x.get<int64_t>());
    return;
  }
  ASSERT_TRUE(v.is_array());
  std::string elem = expected["element_type"];
  const json& items = expected["items"];
  ASSERT_EQ(v.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (elem == "ARRAY") {
      ASSERT_EQ(v.element_type(), ValueType::ARRAY);
      expect_value_equals(v.array_at(i), items[i], key + "[" + std::to_string(i) + "]");
    } else if (elem == "STRING") {
      EXPECT_EQ(v.string_at(i), items[i].get<std::string>());
    } else if (elem == "BOOL") {
      EXPECT_EQ(v.bool_at(i), items[i].get<bool>());
    } else if (elem == "FLOAT32" || elem == "FLOAT64") {
      EXPECT_EQ(v.float_at(i), items[i].get<double>()) << i;
    } else if (elem == "UINT64") {
      EXPECT_EQ(v.uint_at(i), items[i].get<uint64_t>()) << i;
    } else {
      EXPECT_EQ(v.int_at(i), items[i].get<int64_t>()) << i;
    }
  }
}

TEST(GgufReference, MetadataOfEveryValueTypeEqualsWhatGgufPyWrote) {
  SKIP_WITHOUT_GGUF_PY();
  const Reference& ref = types_reference();
  ASSERT_TRUE(ref.ok) << "gguf_reference.py types failed";
  const json& m = ref.manifest["files"]["types.gguf"];
  auto file = GgufFile::open(ref.dir.path() / "types.gguf");
  EXPECT_EQ(file->version(), ref.manifest["gguf_version"].get<uint32_t>());
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->data_offset(), m["offsets"]["data_start"].get<uint64_t>());
  EXPECT_EQ(file->keys(), m["key_order"].get<std::vector<std::string>>());
  for (auto& [key, expected] : m["metadata"].items()) {
    ASSERT_TRUE(file->has(key)) << key;
    expect_value_equals(file->value(key), expected, key);
  }
  // The typed getters on the same values.
  EXPECT_EQ(file->get_string("general.architecture"), "testarch");
  EXPECT_EQ(file->get_int("test.int8"), -128);
  EXPECT_EQ(file->get_int("test.uint32"), 4294967295);
  EXPECT_EQ(file->get_int("test.int64"), INT64_MIN);
  EXPECT_EQ(file->get_uint("test.uint64"), UINT64_MAX);
  EXPECT_EQ(file->get_uint("test.small_uint64"), 12345678901234u);
  EXPECT_EQ(file->get_float("test.float32"), static_cast<double>(3.14159f));
  EXPECT_EQ(file->get_float("test.float64"), 2.718281828459045);
  EXPECT_TRUE(file->get_bool("test.bool_true"));
  EXPECT_FALSE(file->get_bool("test.bool_false"));
  EXPECT_EQ(file->get_string("test.empty_string"), "");
  EXPECT_EQ(file->get_string_array("test.array.string")[2], "\u00fcn\u00efc\u00f6de");
  EXPECT_EQ(file->get_string_array("test.array.string")[3], std::string(300, 'x'));
  EXPECT_EQ(file->get_int_array("test.array.int32"), (std::vector<int64_t>{-7, 0, 7, 2147483647}));
  EXPECT_EQ(file->get_int_array("test.array.uint8"), (std::vector<int64_t>{0, 1, 255}));
  EXPECT_EQ(file->get_float_array("test.array.float64"), (std::vector<double>{0.1, -1e300, 5e-324}));
  EXPECT_EQ(file->value("test.array.nested_mixed").array_at(2).array_at(1).bool_at(1), true);
  EXPECT_EQ(file->value("test.array.nested_int").describe(), "array of 3 array");
}

TEST(GgufReference, GettersNameTheKeyAndTheActualType) {
  SKIP_WITHOUT_GGUF_PY();
  const Reference& ref = types_reference();
  ASSERT_TRUE(ref.ok);
  auto file = GgufFile::open(ref.dir.path() / "types.gguf");
  std::string path = (ref.dir.path() / "types.gguf").string();
  expect_error([&] { file->get_int("test.string"); }, {path, "'test.string'", "is string", "expected an integer"});
  expect_error([&] { file->get_string("test.uint8"); }, {"'test.uint8' is uint8, expected a string"});
  expect_error([&] { file->get_float("test.int32"); }, {"'test.int32' is int32", "float32 or float64"});
  expect_error([&] { file->get_bool("test.array.bool"); }, {"'test.array.bool' is array of 3 bool"});
  expect_error([&] { file->get_string_array("test.array.uint8"); },
               {"'test.array.uint8' is array of 3 uint8", "array of strings"});
  expect_error([&] { file->get_int_array("test.array.nested_int"); }, {"array of 3 array", "array of integers"});
  expect_error([&] { file->get_int("test.uint64"); }, {"'test.uint64'", "18446744073709551615", "too large"});
  expect_error([&] { file->get_uint("test.int8"); }, {"'test.int8'", "-128", ">= 0"});
  expect_error([&] { file->get_string("no.such.key"); }, {path, "no metadata key 'no.such.key'"});
  expect_error([&] { file->tensor("nope"); }, {path, "no tensor named 'nope'"});
  expect_error([&] { file->value("test.array.int8").int_at(3); }, {"element 3"});
}

// ---- tensors of every supported type ------------------------------------------------

void expect_tensors_match(const fs::path& dir, const std::string& file_name, const json& m) {
  auto file = GgufFile::open(dir / file_name);
  ASSERT_EQ(file->tensors().size(), m["tensors"].size());
  EXPECT_EQ(file->alignment(), m["alignment"].get<uint64_t>());
  EXPECT_EQ(file->data_offset() % file->alignment(), 0u);
  for (size_t i = 0; i < m["tensors"].size(); ++i) {
    const json& e = m["tensors"][i];
    const TensorInfo& t = file->tensors()[i];
    SCOPED_TRACE(file_name + ": " + t.name);
    EXPECT_EQ(t.name, e["name"].get<std::string>());
    EXPECT_EQ(&file->tensor(t.name), &t);
    EXPECT_EQ(type_name(t.type), e["type"].get<std::string>());
    EXPECT_EQ(static_cast<uint32_t>(t.type), e["type_id"].get<uint32_t>());
    EXPECT_EQ(t.shape, shape_of(e["shape"]));
    EXPECT_EQ(std::vector<int64_t>(t.ne.rbegin(), t.ne.rend()), t.shape);
    EXPECT_EQ(t.offset % file->alignment(), 0u);
    EXPECT_EQ(t.nbytes, static_cast<uint64_t>(t.numel() / block_size(t.type)) * type_size(t.type));
    std::vector<float> ref = read_f32(dir / e["ref"].get<std::string>());
    ASSERT_EQ(static_cast<int64_t>(ref.size()), t.numel());
    std::vector<float> ours = dequantize(t);
    Comparison c = compare(ours, ref);
    EXPECT_EQ(c.beyond_tolerance, 0u) << c.bit_differences << " values differ, max error " << c.max_abs_error;
    if (t.type == GgmlType::F32 || t.type == GgmlType::F16 || t.type == GgmlType::BF16) {
      EXPECT_EQ(c.bit_differences, 0u) << "float conversions must be exact";
    }
    std::cout << "[ gguf     ] " << file_name << " " << t.name << " " << type_name(t.type) << ": " << c.n
              << " values, " << c.bit_differences << " not bitwise equal, max abs error " << c.max_abs_error
              << "\n";
    // A row range is the same as the slice of the whole tensor.
    if (t.rows() >= 2) {
      std::vector<float> tail = dequantize_rows(t, 1, t.rows());
      EXPECT_TRUE(std::equal(tail.begin(), tail.end(), ours.begin() + t.row_length()));
    }
  }
}

TEST(GgufReference, EveryTypeDequantizesToGgufPyValues) {
  SKIP_WITHOUT_GGUF_PY();
  const Reference& ref = types_reference();
  ASSERT_TRUE(ref.ok);
  const json& m = ref.manifest["files"]["types.gguf"];
  expect_tensors_match(ref.dir.path(), "types.gguf", m);
  // Every type dequantize() claims to support is in the file.
  std::set<std::string> written;
  for (const auto& e : m["tensors"]) written.insert(e["type"].get<std::string>());
  for (uint32_t raw = 0; raw < 64; ++raw)
    if (is_known_type(raw) && can_dequantize(static_cast<GgmlType>(raw))) {
      EXPECT_TRUE(written.count(std::string(type_name(static_cast<GgmlType>(raw))))) << raw;
    }
}

TEST(GgufReference, CustomAlignment64) {
  SKIP_WITHOUT_GGUF_PY();
  const Reference& ref = types_reference();
  ASSERT_TRUE(ref.ok);
  const json& m = ref.manifest["files"]["align64.gguf"];
  expect_tensors_match(ref.dir.path(), "align64.gguf", m);
  auto file = GgufFile::open(ref.dir.path() / "align64.gguf");
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->data_offset(), m["offsets"]["data_start"].get<uint64_t>());
  EXPECT_EQ(file->tensor("b").offset, 128u);  // "a" is 3 Q8_0 blocks of 34 bytes: 102, padded to 128
}

// GGUF v2 has v3's layout (v3 only added big-endian files): the same file with version 2.
TEST(GgufReference, Version2ReadsLikeVersion3) {
  SKIP_WITHOUT_GGUF_PY();
  const Reference& ref = types_reference();
  ASSERT_TRUE(ref.ok);
  ScratchDir dir;
  std::string bytes = read_bytes(ref.dir.path() / "types.gguf");
  bytes[4] = 2;
  write_bytes(dir / "v2.gguf", bytes);
  auto v2 = GgufFile::open(dir / "v2.gguf");
  auto v3 = GgufFile::open(ref.dir.path() / "types.gguf");
  EXPECT_EQ(v2->version(), 2u);
  EXPECT_EQ(v3->version(), 3u);
  EXPECT_EQ(v2->keys(), v3->keys());
  ASSERT_EQ(v2->tensors().size(), v3->tensors().size());
  for (size_t i = 0; i < v2->tensors().size(); ++i)
    EXPECT_EQ(dequantize(v2->tensors()[i]), dequantize(v3->tensors()[i])) << v2->tensors()[i].name;
}

// ---- the real SmolLM2-135M-Instruct Q4_1 file ---------------------------------------

uint64_t checksum(const std::vector<float>& v) {
  uint64_t sum = 0;
  for (size_t i = 0; i < v.size(); ++i) sum += static_cast<uint64_t>(bits_of(v[i])) * (2 * static_cast<uint64_t>(i) + 1);
  return sum;
}

TEST(GgufSmolLM2, MetadataTensorsAndValuesMatchGgufPy) {
  SKIP_WITHOUT_GGUF_PY();
  const char* env = std::getenv("EP_SMOLLM2_GGUF");
  if (env == nullptr || !fs::exists(env))
    GTEST_SKIP() << "set EP_SMOLLM2_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf to run this test"
                 << (env ? std::string(" (") + env + " does not exist)" : std::string());
  const fs::path model = env;
  KeptDir dir("smollm2");
  std::string cmd = "'" EP_PYTHON "' '" + kScript.string() + "' model '" + model.string() + "' '" + dir.path().string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  json m = load_json(dir.path() / "manifest.json");

  auto file = GgufFile::open(model);
  EXPECT_EQ(file->version(), m["version"].get<uint32_t>());
  EXPECT_EQ(file->alignment(), m["alignment"].get<uint64_t>());
  EXPECT_EQ(file->data_offset(), m["data_offset"].get<uint64_t>());
  EXPECT_EQ(file->keys(), m["key_order"].get<std::vector<std::string>>());
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_int("llama.block_count"), m["metadata"]["llama.block_count"]["value"].get<int64_t>());
  EXPECT_EQ(file->get_int("llama.block_count"), 30);
  EXPECT_EQ(file->get_float("llama.rope.freq_base"), m["metadata"]["llama.rope.freq_base"]["value"].get<double>());
  auto tokens = file->get_string_array("tokenizer.ggml.tokens");
  EXPECT_EQ(tokens.size(), m["tokens_count"].get<size_t>());
  EXPECT_EQ(std::vector<std::string>(tokens.begin(), tokens.begin() + 20), m["first_tokens"].get<std::vector<std::string>>());
  EXPECT_EQ(tokens.back(), m["last_token"].get<std::string>());
  for (auto& [key, e] : m["metadata"].items()) {
    SCOPED_TRACE(key);
    const Value& v = file->value(key);
    if (e["type"] == "ARRAY") {
      EXPECT_EQ(std::string(value_type_name(v.element_type())), [&] {
        std::string s = e["element_type"];
        for (auto& ch : s) ch = static_cast<char>(std::tolower(ch));
        return s;
      }());
      EXPECT_EQ(v.size(), e["count"].get<size_t>());
    } else {
      expect_value_equals(v, e, key);
    }
  }

  ASSERT_EQ(file->tensors().size(), m["tensors"].size());
  std::map<std::string, Comparison> by_type;
  size_t compared = 0, checksummed = 0;
  for (size_t i = 0; i < m["tensors"].size(); ++i) {
    const json& e = m["tensors"][i];
    const TensorInfo& t = file->tensors()[i];
    SCOPED_TRACE(t.name);
    ASSERT_EQ(t.name, e["name"].get<std::string>());
    EXPECT_EQ(type_name(t.type), e["type"].get<std::string>());
    EXPECT_EQ(t.shape, shape_of(e["shape"]));
    EXPECT_EQ(t.offset, e["offset"].get<uint64_t>());
    EXPECT_EQ(t.nbytes, e["nbytes"].get<uint64_t>());
    std::vector<float> values = dequantize(t);
    EXPECT_EQ(values.size(), e["numel"].get<size_t>());
    EXPECT_EQ(std::to_string(checksum(values)), e["checksum"].get<std::string>()) << "dequantized values differ";
    ++checksummed;
    if (e.contains("ref")) {
      std::vector<float> ref = read_f32(dir.path() / e["ref"].get<std::string>());
      std::vector<float> rows = dequantize_rows(t, 0, e["ref_rows"].get<int64_t>());
      Comparison c = compare(rows, ref);
      EXPECT_EQ(rows.size(), ref.size());
      EXPECT_EQ(c.beyond_tolerance, 0u);
      Comparison& total = by_type[e["type"].get<std::string>()];
      total.n += c.n;
      total.bit_differences += c.bit_differences;
      total.max_abs_error = std::max(total.max_abs_error, c.max_abs_error);
      ++compared;
    }
  }
  for (const auto& [type, c] : by_type)
    std::cout << "[ gguf     ] SmolLM2 " << type << ": " << c.n << " values compared, " << c.bit_differences
              << " not bitwise equal, max abs error " << c.max_abs_error << "\n";
  std::cout << "[ gguf     ] SmolLM2: " << checksummed << " tensors' checksums equal, " << compared
            << " tensors compared value by value\n";
  EXPECT_EQ(by_type.size(), 3u) << "the file holds F32, Q4_1 and Q8_0 tensors";
}

// ---- broken files ---------------------------------------------------------------

// GGUF bytes assembled by hand, for files gguf-py would never write.
class Bytes {
 public:
  Bytes& u8(uint8_t v) { return raw(std::string(1, static_cast<char>(v))); }
  Bytes& u32(uint32_t v) { return le(v, 4); }
  Bytes& u64(uint64_t v) { return le(v, 8); }
  Bytes& str(const std::string& s) { return u64(s.size()).raw(s); }
  Bytes& raw(const std::string& s) {
    b_ += s;
    return *this;
  }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  }
  Bytes& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
  Bytes& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t n : ne) u64(n);
    return u32(type).u64(offset);
  }
  Bytes& pad(size_t alignment) { return raw(std::string((alignment - b_.size() % alignment) % alignment, '\0')); }
  Bytes& zeros(size_t n) { return raw(std::string(n, '\0')); }
  const std::string& str() const { return b_; }
  size_t size() const { return b_.size(); }

 private:
  Bytes& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_ += static_cast<char>(v >> (8 * i));
    return *this;
  }
  std::string b_;
};

// Writes `bytes` and expects GgufFile::open to fail with every one of `parts` (and the path).
void expect_open_error(const ScratchDir& dir, const std::string& bytes, std::vector<std::string> parts) {
  fs::path p = dir / "bad.gguf";
  write_bytes(p, bytes);
  parts.push_back(p.string());
  expect_error([&] { GgufFile::open(p); }, parts);
}

constexpr uint32_t kF32 = 0, kQ4_0 = 2;

// One F32 tensor "t" of 32 elements: the base the broken files below change one thing of.
Bytes good_file() {
  Bytes b;
  b.header(1, 1).kv_u32("k", 7).tensor("t", {32}, kF32, 0).pad(32).zeros(128);
  return b;
}

TEST(GgufErrors, HandMadeGoodFileOpens) {
  ScratchDir dir;
  write_bytes(dir / "ok.gguf", good_file().str());
  auto file = GgufFile::open(dir / "ok.gguf");
  EXPECT_EQ(file->get_int("k"), 7);
  EXPECT_EQ(file->tensor("t").shape, (std::vector<int64_t>{32}));
  EXPECT_EQ(file->data_offset(), 96u);
  EXPECT_EQ(dequantize(file->tensor("t")), std::vector<float>(32, 0.f));
  // No tensors: nothing needs to follow the metadata, not even padding.
  write_bytes(dir / "empty.gguf", Bytes().header(0, 1).kv_u32("k", 1).str());
  EXPECT_TRUE(GgufFile::open(dir / "empty.gguf")->tensors().empty());
  // An empty tensor (ne 0) and a 0-d one are legal in ggml.
  Bytes b;
  b.header(2, 0).tensor("empty", {32, 0}, kF32, 0).tensor("scalar", {}, kF32, 0).pad(32).zeros(32);
  write_bytes(dir / "shapes.gguf", b.str());
  auto shapes = GgufFile::open(dir / "shapes.gguf");
  EXPECT_EQ(shapes->tensor("empty").numel(), 0);
  EXPECT_TRUE(dequantize(shapes->tensor("empty")).empty());
  EXPECT_EQ(shapes->tensor("scalar").numel(), 1);
  EXPECT_EQ(dequantize(shapes->tensor("scalar")).size(), 1u);
}

TEST(GgufErrors, HeaderMagicAndVersion) {
  ScratchDir dir;
  expect_open_error(dir, "", {"0 bytes", "too short"});
  expect_open_error(dir, "GGU", {"3 bytes", "too short"});
  std::string bad_magic = good_file().str();
  bad_magic[3] = 'X';
  expect_open_error(dir, bad_magic, {"not a GGUF file", "'GGUX'", "at byte 0"});
  expect_open_error(dir, Bytes().header(0, 0, 1).str(), {"unsupported GGUF version 1", "obsolete"});
  expect_open_error(dir, Bytes().header(0, 0, 4).str(), {"unsupported GGUF version 4", "expected 2 or 3"});
  expect_open_error(dir, Bytes().header(0, 0, 0).str(), {"version at byte 4 is 0"});
  expect_open_error(dir, Bytes().header(0, 0, 0x03000000).str(), {"big-endian"});
}

TEST(GgufErrors, CountsLargerThanTheFileFailBeforeAllocating) {
  ScratchDir dir;
  expect_open_error(dir, Bytes().header(0, uint64_t(1) << 60).str(),
                    {"claims 1152921504606846976 metadata entries", "hold at most 0"});
  expect_open_error(dir, Bytes().header(UINT64_MAX, 0).zeros(100).str(),
                    {"claims 18446744073709551615 tensors", "hold at most 4"});
  // String lengths: a key, a string value, an element of a string array.
  expect_open_error(dir, Bytes().header(0, 1).u64(UINT64_MAX).zeros(16).str(),
                    {"metadata entry 0 key", "string length 18446744073709551615 at byte 24", "runs past the end"});
  expect_open_error(dir, Bytes().header(0, 1).str("s").u32(8).u64(1000).raw("abc").str(),
                    {"metadata 's'", "string length 1000 at byte 37", "3 bytes remain"});
  expect_open_error(dir, Bytes().header(0, 1).str("a").u32(9).u32(8).u64(2).str("ok").u64(99).str(),
                    {"metadata 'a' [1]", "string length 99"});
  // Array counts.
  expect_open_error(dir, Bytes().header(0, 1).str("a").u32(9).u32(10).u64(uint64_t(1) << 61).zeros(64).str(),
                    {"metadata 'a'", "array count 2305843009213693952", "uint64 element takes at least 8 bytes"});
  expect_open_error(dir, Bytes().header(0, 1).str("a").u32(9).u32(9).u64(1000000).zeros(64).str(),
                    {"array count 1000000", "array element takes at least 12 bytes"});
}

TEST(GgufErrors, TruncatedAtEveryByteIsAnErrorNeverACrash) {
  SKIP_WITHOUT_GGUF_PY();
  const Reference& ref = types_reference();
  ASSERT_TRUE(ref.ok);
  const json& off = ref.manifest["files"]["types.gguf"]["offsets"];
  std::string whole = read_bytes(ref.dir.path() / "types.gguf");
  ASSERT_EQ(whole.size(), off["file_size"].get<size_t>());
  ScratchDir dir;
  auto cut = [&](size_t n, std::vector<std::string> parts) { expect_open_error(dir, whole.substr(0, n), parts); };
  auto kv = off["kv_start"].get<size_t>(), table = off["tensor_table_start"].get<size_t>(),
       table_end = off["tensor_table_end"].get<size_t>(), data = off["data_start"].get<size_t>(),
       data_end = off["data_end"].get<size_t>();
  cut(10, {"truncated", "tensor count needs 8 bytes at byte 8"});  // inside the header
  cut(kv + 3, {"claims 31 metadata entries", "truncated or corrupt"});  // counts checked first
  cut((kv + table) / 2, {"truncated", "metadata '"});                   // inside the metadata
  cut(table + 12, {"truncated", "tensor 'f32' (entry 0 at byte " + std::to_string(table) + ")"});
  cut(table_end - 1, {"truncated", "tensor 'scalar_like'", "data offset"});  // the table's last field
  if (table_end < data) cut(data - 1, {"truncated", "data section should start at byte " + std::to_string(data)});
  cut(data + 100, {"truncated or corrupt", "runs past the end of the file"});  // inside the data
  cut(data_end - 1, {"tensor 'scalar_like'", "runs past the end of the file"});
  // gguf-py pads after the last tensor too: only those padding bytes may go.
  write_bytes(dir / "cut.gguf", whole.substr(0, data_end));
  EXPECT_EQ(GgufFile::open(dir / "cut.gguf")->tensors().size(), 15u);
  // Every cut through header, metadata and table, then every 61st byte of the data.
  size_t errors = 0;
  for (size_t n = 0; n < data_end; n += (n < data + 64 ? 1 : 61)) {
    write_bytes(dir / "cut.gguf", whole.substr(0, n));
    try {
      GgufFile::open(dir / "cut.gguf");
      ADD_FAILURE() << "a file cut at byte " << n << " of " << whole.size() << " opened";
    } catch (const ep::Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find("cut.gguf"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(errors, data);
}

TEST(GgufErrors, RandomlyCorruptedFilesFailCleanly) {
  SKIP_WITHOUT_GGUF_PY();
  const Reference& ref = types_reference();
  ASSERT_TRUE(ref.ok);
  std::string whole = read_bytes(ref.dir.path() / "types.gguf");
  size_t data = ref.manifest["files"]["types.gguf"]["offsets"]["data_start"].get<size_t>();
  ScratchDir dir;
  std::mt19937 rng(1234);
  int opened = 0, failed = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    std::string bytes = whole;
    int flips = 1 + trial % 4;
    for (int k = 0; k < flips; ++k) {
      size_t at = rng() % data;  // header, metadata and table: the parsed part
      bytes[at] = static_cast<char>(trial % 3 == 0 ? 0xFF : rng());
    }
    write_bytes(dir / "fuzz.gguf", bytes);
    try {
      auto file = GgufFile::open(dir / "fuzz.gguf");
      for (const auto& t : file->tensors())
        if (can_dequantize(t.type) && t.numel() < (1 << 24)) dequantize(t);
      ++opened;
    } catch (const ep::Error&) {
      ++failed;
    }
  }
  std::cout << "[ gguf     ] corrupted files: " << opened << " still valid, " << failed << " rejected\n";
  EXPECT_GT(failed, 0);
}

TEST(GgufErrors, TensorTable) {
  ScratchDir dir;
  auto one_tensor = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data = 128) {
    Bytes b;
    b.header(1, 0).tensor("w", ne, type, offset).pad(32).zeros(data);
    return b.str();
  };
  expect_open_error(dir, one_tensor({32}, kF32, 64), {"tensor 'w'", "(F32 [32], 128 bytes) at data offset 64",
                                                      "runs past the end", "the data section has 128 bytes"});
  expect_open_error(dir, one_tensor({32}, kF32, UINT64_MAX - 31), {"tensor 'w'", "runs past the end"});
  expect_open_error(dir, one_tensor({32}, kF32, 16), {"tensor 'w'", "data offset 16", "not a multiple of the alignment 32"});
  expect_open_error(dir, one_tensor({32}, 200, 0), {"tensor 'w' (entry 0 at byte 24)", "unknown ggml tensor type 200", "at byte 45"});
  expect_open_error(dir, one_tensor({32}, 4, 0), {"tensor 'w'", "unknown ggml tensor type 4"});
  expect_open_error(dir, one_tensor({1, 1, 1, 1, 32}, kF32, 0), {"tensor 'w'", "5 dimensions", "at most 4"});
  expect_open_error(dir, one_tensor({33, 2}, kQ4_0, 0),
                    {"tensor 'w'", "rows of 33 elements are not a multiple of the Q4_0 block size 32"});
  expect_open_error(dir, one_tensor({32, uint64_t(1) << 63}, kF32, 0),
                    {"tensor 'w'", "dimension 1", "9223372036854775808", "non-negative int64"});
  expect_open_error(dir, one_tensor({uint64_t(1) << 40, uint64_t(1) << 40}, kF32, 0), {"tensor 'w'", "overflows int64"});
  expect_open_error(dir, one_tensor({uint64_t(1) << 62}, kF32, 0), {"tensor 'w'", "size in bytes", "overflows"});

  Bytes two;
  two.header(2, 0).tensor("a", {32}, kF32, 0).tensor("b", {8}, kF32, 96).pad(32).zeros(192);
  expect_open_error(dir, two.str(), {"tensor 'b' at data offset 96 overlaps tensor 'a' (data offsets 0 to 128)"});
  Bytes dup;
  dup.header(2, 0).tensor("a", {8}, kF32, 0).tensor("a", {8}, kF32, 32).pad(32).zeros(64);
  expect_open_error(dir, dup.str(), {"tensor 'a' (entry 1", "appears twice"});
  Bytes long_name;
  long_name.header(1, 0).tensor(std::string(64, 'n'), {8}, kF32, 0).pad(32).zeros(32);
  expect_open_error(dir, long_name.str(), {"name is 64 bytes", "limit of 63"});
}

TEST(GgufErrors, MetadataEntries) {
  ScratchDir dir;
  expect_open_error(dir, Bytes().header(0, 1).str("").u32(4).u32(1).str(), {"metadata entry 0 at byte 24 has an empty key"});
  expect_open_error(dir, Bytes().header(0, 2).kv_u32("k", 1).kv_u32("k", 2).str(),
                    {"metadata key 'k' (entry 1 at byte 41) appears twice"});
  expect_open_error(dir, Bytes().header(0, 1).str("k").u32(13).u32(1).str(), {"metadata 'k'", "unknown value type 13 at byte 33"});
  expect_open_error(dir, Bytes().header(0, 1).str("k").u32(9).u32(77).u64(1).str(), {"metadata 'k' element type", "unknown value type 77"});
  Bytes deep;
  deep.header(0, 1).str("d").u32(9);
  for (int i = 0; i < 20; ++i) deep.u32(9).u64(1);
  deep.u32(4).u64(1).u32(5);
  expect_open_error(dir, deep.str(), {"metadata 'd'", "nested deeper than 8"});
  // general.alignment: a uint32 power of two.
  Bytes b64;
  b64.header(0, 1).str("general.alignment").u32(10).u64(32);
  expect_open_error(dir, b64.str(), {"'general.alignment' must be a uint32, got uint64"});
  expect_open_error(dir, Bytes().header(0, 1).kv_u32("general.alignment", 48).str(), {"'general.alignment' is 48", "power of two"});
  expect_open_error(dir, Bytes().header(0, 1).kv_u32("general.alignment", 0).str(), {"'general.alignment' is 0"});
  // Truncated inside a scalar value.
  expect_open_error(dir, Bytes().header(0, 1).str("k").u32(10).u32(0).str(),
                    {"truncated", "metadata 'k' needs 8 bytes at byte 37 but only 4 remain"});
}

TEST(GgufErrors, UnsupportedDequantizationNamesTensorAndType) {
  ScratchDir dir;
  Bytes b;
  b.header(1, 0).tensor("iq", {256}, 16 /* IQ2_XXS */, 0).pad(32).zeros(96);
  write_bytes(dir / "iq.gguf", b.str());
  auto file = GgufFile::open(dir / "iq.gguf");
  EXPECT_EQ(file->tensor("iq").type, GgmlType::IQ2_XXS);
  EXPECT_EQ(file->tensor("iq").nbytes, 66u);
  expect_error([&] { dequantize(file->tensor("iq")); }, {"tensor 'iq'", "IQ2_XXS is not supported"});
  expect_error([&] { dequantize_rows(file->tensor("iq"), 0, 2); }, {"tensor 'iq'"});
}

TEST(GgufTypes, LayoutsMatchGgml) {
  EXPECT_EQ(type_size(GgmlType::Q4_0), 18u);
  EXPECT_EQ(type_size(GgmlType::Q4_1), 20u);
  EXPECT_EQ(type_size(GgmlType::Q5_0), 22u);
  EXPECT_EQ(type_size(GgmlType::Q5_1), 24u);
  EXPECT_EQ(type_size(GgmlType::Q8_0), 34u);
  EXPECT_EQ(type_size(GgmlType::Q2_K), 84u);
  EXPECT_EQ(type_size(GgmlType::Q3_K), 110u);
  EXPECT_EQ(type_size(GgmlType::Q4_K), 144u);
  EXPECT_EQ(type_size(GgmlType::Q5_K), 176u);
  EXPECT_EQ(type_size(GgmlType::Q6_K), 210u);
  EXPECT_EQ(type_size(GgmlType::Q8_K), 292u);
  EXPECT_EQ(block_size(GgmlType::Q6_K), 256);
  EXPECT_EQ(block_size(GgmlType::BF16), 1);
  EXPECT_FALSE(is_known_type(4));
  EXPECT_FALSE(is_known_type(31));
  EXPECT_TRUE(is_known_type(30));
  EXPECT_EQ(half_to_float(0x3C00), 1.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);
  EXPECT_TRUE(std::isnan(half_to_float(0x7E00)));
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
}


// ---- the model config a llama GGUF file describes (core/io/gguf_config.h) --------------

// A tensor-free llama GGUF with the metadata keys llama.cpp's converter writes, with the
// given keys replaced or added. Strings are value type 8, u32 4, f32 6.
std::string llama_metadata(const std::map<std::string, std::string>& strings,
                           const std::map<std::string, uint32_t>& ints, bool drop_block_count = false) {
  std::map<std::string, std::string> s = {{"general.architecture", "llama"}};
  for (const auto& [k, v] : strings) s[k] = v;
  std::map<std::string, uint32_t> u = {{"llama.embedding_length", 64}, {"llama.block_count", 2},
                                       {"llama.attention.head_count", 4}, {"llama.attention.head_count_kv", 2},
                                       {"llama.feed_forward_length", 96}, {"llama.context_length", 32},
                                       {"llama.vocab_size", 512}, {"tokenizer.ggml.bos_token_id", 1}};
  for (const auto& [k, v] : ints) u[k] = v;
  if (drop_block_count) u.erase("llama.block_count");
  Bytes b;
  b.header(0, s.size() + u.size() + 2);
  for (const auto& [k, v] : s) b.str(k).u32(8).str(v);
  for (const auto& [k, v] : u) b.kv_u32(k, v);
  auto f32 = [&](const std::string& k, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    b.str(k).u32(6).u32(bits);
  };
  f32("llama.rope.freq_base", 100000.0f);
  f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  return b.str();
}

ModelConfig config_of(const ScratchDir& dir, const std::string& bytes) {
  write_bytes(dir / "m.gguf", bytes);
  return gguf_model_config(*GgufFile::open(dir / "m.gguf"));
}

TEST(GgufConfig, ReadsTheLlamaKeys) {
  ScratchDir dir;
  ModelConfig c = config_of(dir, llama_metadata({}, {}));
  EXPECT_EQ(c.arch, Arch::Llama);
  EXPECT_EQ(c.hidden, 64);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.kv_heads(), 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rotary_dim, 16);
  EXPECT_EQ(c.intermediate, 96);
  EXPECT_EQ(c.max_positions, 32);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.rope_theta, 100000.0);
  EXPECT_EQ(c.layer_norm_eps, static_cast<double>(1e-5f));  // stored as float32, as transformers reads it
  EXPECT_EQ(c.activation, "silu");
  EXPECT_TRUE(c.tie_word_embeddings);  // no output.weight
  EXPECT_EQ(c.bos_token_id, 1);
}

TEST(GgufConfig, OtherArchitecturesMissingKeysAndRopeScalingAreErrors) {
  ScratchDir dir;
  expect_error([&] { config_of(dir, llama_metadata({{"general.architecture", "gemma"}}, {})); },
               {"m.gguf", "general.architecture is 'gemma'", "'llama'"});
  expect_error([&] { config_of(dir, llama_metadata({}, {}, /*drop_block_count=*/true)); },
               {"m.gguf", "'llama.block_count' is missing"});
  expect_error([&] { config_of(dir, llama_metadata({}, {{"llama.attention.head_count_kv", 3}})); },
               {"head_count 4 is not a multiple of attention.head_count_kv 3"});
  expect_error([&] { config_of(dir, llama_metadata({}, {{"llama.rope.dimension_count", 8}})); },
               {"rope.dimension_count is 8", "head size is 16"});
  expect_error([&] { config_of(dir, llama_metadata({{"llama.rope.scaling.type", "linear"}}, {})); },
               {"rope.scaling.type", "not supported"});
  expect_error([&] { config_of(dir, llama_metadata({}, {{"llama.embedding_length", 0}})); },
               {"llama.embedding_length' is 0", "positive"});
}

}  // namespace
}  // namespace ep::gguf
