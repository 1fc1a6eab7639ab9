// Reading one .gguf file: map it, validate header, metadata and tensor table against
// the file, then hand out views into the mapping.
//
// ref: ggml-org/llama.cpp ggml/src/gguf.cpp (gguf_init_from_reader) and ggml/docs/gguf.md.
// Validation follows llama.cpp (versions, alignment key type, dims <= 4, ne >= 0, type
// range, row a multiple of the block, name < 64 bytes, unique keys and names), plus what
// a mapped reader needs: every tensor's bytes lie inside the file, aligned, and no two
// tensors overlap. Unlike llama.cpp it accepts nested metadata arrays (gguf-py writes them).
#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/io/gguf.h"
#include "core/io/mapped_file.h"
#include "core/util/error.h"

namespace ep::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kOldestVersion = 2;   // v1 (32-bit counts) is gone from llama.cpp too
constexpr uint32_t kNewestVersion = 3;
constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;
constexpr uint64_t kDefaultAlignment = 32;
constexpr std::string_view kAlignmentKey = "general.alignment";
constexpr uint32_t kMaxDims = 4;         // ref: ggml.h GGML_MAX_DIMS
constexpr size_t kMaxNameBytes = 63;     // ref: ggml.h GGML_MAX_NAME (64, with the NUL)
constexpr int kMaxArrayNesting = 8;      // bounds the recursion on hostile files

// The fewest bytes an entry can take, used to reject counts the file cannot hold
// before anything is allocated: key (u64 length + >= 1 byte) + u32 type + >= 1 byte value;
// name (u64 length + >= 1 byte) + u32 n_dims + u32 type + u64 offset.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 4 + 8;

// The fewest bytes one element of an array of `raw` takes in the file.
uint64_t min_element_bytes(ValueType t) {
  if (t == ValueType::STRING) return 8;      // the length prefix
  if (t == ValueType::ARRAY) return 4 + 8;   // element type + count
  return static_cast<uint64_t>(value_type_size(static_cast<uint32_t>(t)));
}

uint64_t pad_to(uint64_t x, uint64_t alignment, bool* overflow) {
  uint64_t sum = 0;
  *overflow = __builtin_add_overflow(x, alignment - 1, &sum);
  return sum / alignment * alignment;
}

std::string shape_text(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

// Fills a GgufFile from its mapped bytes (a friend, so it can set the private members).
// Every read is bounds-checked; errors name the file, the entry and the byte offset.
struct GgufParser {
  GgufFile& file;
  const std::byte* bytes;
  uint64_t size;
  uint64_t pos = 0;

  std::string where() const { return file.path_.string(); }
  uint64_t remaining() const { return size - pos; }

  // ---- primitive reads ----------------------------------------------------------

  // Reads n raw bytes; `what` (and the element index, if any) name them in the error.
  const std::byte* take(uint64_t n, std::string_view what, int64_t index = -1) {
    if (n > remaining()) {
      std::string item = index >= 0 ? fmt::format("{} [{}]", what, index) : std::string(what);
      EP_FAIL("{}: truncated: {} needs {} bytes at byte {} but only {} remain (file is {} bytes)",
              where(), item, n, pos, remaining(), size);
    }
    const std::byte* p = bytes + pos;
    pos += n;
    return p;
  }

  template <typename T>
  T read_le(std::string_view what, int64_t index = -1) {
    const std::byte* p = take(sizeof(T), what, index);
    std::make_unsigned_t<T> v = 0;
    for (int i = static_cast<int>(sizeof(T)) - 1; i >= 0; --i)
      v = static_cast<std::make_unsigned_t<T>>((v << 8) | static_cast<uint8_t>(p[i]));
    return static_cast<T>(v);
  }

  std::string read_string(std::string_view what, int64_t index = -1) {
    uint64_t at = pos;
    uint64_t len = read_le<uint64_t>(what, index);
    if (len > remaining()) {
      std::string item = index >= 0 ? fmt::format("{} [{}]", what, index) : std::string(what);
      EP_FAIL("{}: truncated or corrupt: {}: string length {} at byte {} runs past the end of the file ({} bytes "
              "remain)",
              where(), item, len, at, remaining());
    }
    const std::byte* p = take(len, what, index);
    return std::string(reinterpret_cast<const char*>(p), len);
  }

  // ---- header -------------------------------------------------------------------

  void parse() {
    auto [n_tensors, n_kv] = parse_header();
    for (uint64_t i = 0; i < n_kv; ++i) parse_kv(i);
    file.alignment_ = read_alignment();
    for (uint64_t i = 0; i < n_tensors; ++i) parse_tensor_info(i);
    locate_data();
  }

  std::pair<uint64_t, uint64_t> parse_header() {
    EP_CHECK(size >= 4, "{}: file is {} bytes, too short for a GGUF file (expected the 4-byte magic 'GGUF')",
             where(), size);
    uint32_t magic = read_le<uint32_t>("magic");
    EP_CHECK(magic == kMagic, "{}: not a GGUF file: magic at byte 0 is {}, expected 'GGUF' (47 47 55 46)", where(),
             printable_magic());
    uint32_t version = read_le<uint32_t>("version");
    check_version(version);
    file.version_ = version;
    uint64_t n_tensors = read_le<uint64_t>("tensor count");
    uint64_t n_kv = read_le<uint64_t>("metadata count");
    check_count(n_kv, kMinKvBytes, "metadata entries", 16);
    check_count(n_tensors, kMinTensorInfoBytes, "tensors", 8);
    return {n_tensors, n_kv};
  }

  std::string printable_magic() const {
    std::string s = "'";
    for (int i = 0; i < 4; ++i) {
      auto c = static_cast<unsigned char>(bytes[i]);
      s += (c >= 32 && c < 127) ? static_cast<char>(c) : '?';
    }
    return s + fmt::format("' ({:02x} {:02x} {:02x} {:02x})", static_cast<unsigned>(bytes[0]),
                           static_cast<unsigned>(bytes[1]), static_cast<unsigned>(bytes[2]),
                           static_cast<unsigned>(bytes[3]));
  }

  void check_version(uint32_t version) const {
    EP_CHECK(version != 0, "{}: GGUF version at byte 4 is 0, expected {} or {}", where(), kOldestVersion,
             kNewestVersion);
    // ref: gguf.cpp: a big-endian file read on a little-endian host shows its version in the high bytes.
    EP_CHECK((version & 0xFFFFu) != 0,
             "{}: GGUF version at byte 4 reads as {}: a big-endian file? Only little-endian GGUF is supported",
             where(), version);
    EP_CHECK(version >= kOldestVersion && version <= kNewestVersion,
             "{}: unsupported GGUF version {} at byte 4 (expected {} or {}{})", where(), version, kOldestVersion,
             kNewestVersion, version == 1 ? "; GGUF v1 is obsolete, convert the file again" : "");
  }

  // A count the rest of the file cannot hold is corrupt; checking it here keeps a
  // hostile count from turning into a huge allocation later.
  void check_count(uint64_t count, uint64_t min_entry_bytes, const char* what, uint64_t at) const {
    uint64_t available = size - kHeaderBytes;
    EP_CHECK(count <= available / min_entry_bytes,
             "{}: truncated or corrupt: header at byte {} claims {} {}, but the {} bytes after the header hold at "
             "most {} (each takes at least {} bytes)",
             where(), at, count, what, available, available / min_entry_bytes, min_entry_bytes);
  }

  // ---- metadata -----------------------------------------------------------------

  void parse_kv(uint64_t i) {
    uint64_t at = pos;
    std::string ctx = fmt::format("metadata entry {} key", i);
    std::string key = read_string(ctx);
    EP_CHECK(!key.empty(), "{}: metadata entry {} at byte {} has an empty key", where(), i, at);
    EP_CHECK(file.metadata_.find(key) == file.metadata_.end(), "{}: metadata key '{}' (entry {} at byte {}) appears twice",
             where(), key, i, at);
    std::string what = fmt::format("metadata '{}'", key);
    uint32_t type = read_le<uint32_t>(what + " type");
    Value value = parse_value(type, what, 0);
    file.key_order_.push_back(key);
    file.metadata_.emplace(std::move(key), std::move(value));
  }

  void check_value_type(uint32_t raw, const std::string& what) const {
    EP_CHECK(value_type_size(raw) >= 0, "{}: {}: unknown value type {} at byte {} (expected 0..12: uint8 ... float64)",
             where(), what, raw, pos - 4);
  }

  Value parse_value(uint32_t raw_type, const std::string& what, int depth) {
    check_value_type(raw_type, what);
    Value v;
    v.type_ = static_cast<ValueType>(raw_type);
    if (v.type_ == ValueType::ARRAY) {
      parse_array(v, what, depth);
    } else if (v.type_ == ValueType::STRING) {
      v.strings_.push_back(read_string(what));
    } else {
      size_t n = static_cast<size_t>(value_type_size(raw_type));
      const std::byte* p = take(n, what);
      v.numbers_.assign(p, p + n);
    }
    return v;
  }

  void parse_array(Value& v, const std::string& what, int depth) {
    EP_CHECK(depth < kMaxArrayNesting, "{}: {}: arrays nested deeper than {} levels at byte {}", where(), what,
             kMaxArrayNesting, pos);
    uint32_t elem = read_le<uint32_t>(what + " element type");
    check_value_type(elem, what + " element type");
    v.element_type_ = static_cast<ValueType>(elem);
    uint64_t count_at = pos;
    uint64_t count = read_le<uint64_t>(what + " element count");
    uint64_t min_bytes = min_element_bytes(v.element_type_);
    EP_CHECK(count <= remaining() / min_bytes,
             "{}: truncated or corrupt: {}: array count {} at byte {} runs past the end of the file ({} bytes remain, "
             "each {} element takes at least {} bytes)",
             where(), what, count, count_at, remaining(), value_type_name(v.element_type_), min_bytes);
    if (v.element_type_ == ValueType::STRING) {
      v.strings_.reserve(count);
      for (uint64_t k = 0; k < count; ++k) v.strings_.push_back(read_string(what, static_cast<int64_t>(k)));
    } else if (v.element_type_ == ValueType::ARRAY) {
      v.arrays_.reserve(count);
      for (uint64_t k = 0; k < count; ++k) {
        Value inner;
        inner.type_ = ValueType::ARRAY;
        parse_array(inner, fmt::format("{} [{}]", what, k), depth + 1);
        v.arrays_.push_back(std::move(inner));
      }
    } else {
      const std::byte* p = take(count * min_bytes, what);  // count * min_bytes <= remaining(): no overflow
      v.numbers_.assign(p, p + count * min_bytes);
    }
  }

  uint64_t read_alignment() const {
    auto it = file.metadata_.find(kAlignmentKey);
    if (it == file.metadata_.end()) return kDefaultAlignment;
    const Value& v = it->second;
    EP_CHECK(v.type() == ValueType::UINT32, "{}: metadata '{}' must be a uint32, got {}", where(), kAlignmentKey,
             v.describe());
    uint64_t a = v.uint_at(0);
    EP_CHECK(a != 0 && (a & (a - 1)) == 0, "{}: metadata '{}' is {}, expected a non-zero power of two", where(),
             kAlignmentKey, a);
    return a;
  }

  // ---- tensor table -------------------------------------------------------------

  void parse_tensor_info(uint64_t i) {
    uint64_t at = pos;
    TensorInfo t;
    t.name = read_string(fmt::format("tensor {} name", i));
    std::string what = fmt::format("tensor '{}' (entry {} at byte {})", t.name, i, at);
    EP_CHECK(t.name.size() <= kMaxNameBytes, "{}: {}: name is {} bytes, longer than ggml's limit of {}", where(), what,
             t.name.size(), kMaxNameBytes);
    EP_CHECK(file.tensor_index_.find(t.name) == file.tensor_index_.end(), "{}: {}: the name appears twice", where(),
             what);
    t.ne = read_dims(what);
    t.shape.assign(t.ne.rbegin(), t.ne.rend());
    t.type = read_type(what);
    t.nbytes = checked_nbytes(t, what);
    t.offset = read_le<uint64_t>(what + " data offset");
    file.tensor_index_.emplace(t.name, file.tensors_.size());
    file.tensors_.push_back(std::move(t));
  }

  std::vector<int64_t> read_dims(const std::string& what) {
    uint64_t at = pos;
    uint32_t n_dims = read_le<uint32_t>(what + " dimension count");
    EP_CHECK(n_dims <= kMaxDims, "{}: {}: {} dimensions at byte {}, at most {} are allowed", where(), what, n_dims,
             at, kMaxDims);
    std::vector<int64_t> ne;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim_at = pos;
      uint64_t n = read_le<uint64_t>(what + " dimension", d);
      // ref: gguf.cpp reads ne as int64 and rejects negatives; 0 (an empty tensor) is allowed.
      EP_CHECK(n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
               "{}: {}: dimension {} at byte {} is {}, expected a non-negative int64", where(), what, d, dim_at, n);
      ne.push_back(static_cast<int64_t>(n));
    }
    return ne;
  }

  GgmlType read_type(const std::string& what) {
    uint64_t at = pos;
    uint32_t raw = read_le<uint32_t>(what + " type");
    EP_CHECK(is_known_type(raw),
             "{}: {}: unknown ggml tensor type {} at byte {} (known: 0-3, 6-30, 34, 35, 39-41; 4, 5, 31-33 and 36-38 "
             "were removed from ggml)",
             where(), what, raw, at);
    return static_cast<GgmlType>(raw);
  }

  uint64_t checked_nbytes(const TensorInfo& t, const std::string& what) const {
    uint64_t row = t.ne.empty() ? 1 : static_cast<uint64_t>(t.ne[0]);
    auto block = static_cast<uint64_t>(block_size(t.type));
    EP_CHECK(row % block == 0, "{}: {}: rows of {} elements are not a multiple of the {} block size {}", where(), what,
             row, type_name(t.type), block);
    uint64_t numel = 1;
    for (int64_t d : t.ne)
      EP_CHECK(!__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel) &&
                   numel <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
               "{}: {}: element count of ne {} overflows int64", where(), what, shape_text(t.ne));
    uint64_t nbytes = 0;
    EP_CHECK(!__builtin_mul_overflow(numel / block, static_cast<uint64_t>(type_size(t.type)), &nbytes),
             "{}: {}: size in bytes of ne {} of {} overflows", where(), what, shape_text(t.ne), type_name(t.type));
    return nbytes;
  }

  // ---- data section -------------------------------------------------------------

  // The data section starts at the first aligned byte after the tensor table; every
  // tensor must lie inside the file, at an aligned offset, overlapping no other.
  void locate_data() {
    bool overflow = false;
    uint64_t start = pad_to(pos, file.alignment_, &overflow);
    EP_CHECK(!overflow, "{}: data section offset overflows", where());
    file.data_offset_ = start;
    if (file.tensors_.empty()) return;  // nothing follows; llama.cpp does not need the padding either
    EP_CHECK(start <= size,
             "{}: truncated: the data section should start at byte {} (tensor table ends at byte {}, alignment {}) "
             "but the file is {} bytes",
             where(), start, pos, file.alignment_, size);
    uint64_t data_size = size - start;
    for (auto& t : file.tensors_) place_tensor(t, start, data_size);
    check_no_overlap();
  }

  void place_tensor(TensorInfo& t, uint64_t start, uint64_t data_size) const {
    EP_CHECK(t.offset % file.alignment_ == 0,
             "{}: tensor '{}': data offset {} (byte {} of the file) is not a multiple of the alignment {}", where(),
             t.name, t.offset, start + t.offset, file.alignment_);
    uint64_t end = 0;
    EP_CHECK(!__builtin_add_overflow(t.offset, t.nbytes, &end) && end <= data_size,
             "{}: truncated or corrupt: tensor '{}' ({} {}, {} bytes) at data offset {} (byte {} of the file) runs "
             "past the end of the file: the data section has {} bytes",
             where(), t.name, type_name(t.type), shape_text(t.shape), t.nbytes, t.offset, start + t.offset, data_size);
    t.data = bytes + start + t.offset;
  }

  // Sorted by offset, each non-empty tensor must start at or after the end of the one before.
  void check_no_overlap() const {
    std::vector<const TensorInfo*> by_offset;
    for (const auto& t : file.tensors_)
      if (t.nbytes > 0) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t k = 1; k < by_offset.size(); ++k) {
      const TensorInfo& prev = *by_offset[k - 1];
      const TensorInfo& cur = *by_offset[k];
      uint64_t end = prev.offset + prev.nbytes;  // <= the data section's size: no overflow
      EP_CHECK(cur.offset >= end, "{}: tensor '{}' at data offset {} overlaps tensor '{}' (data offsets {} to {})",
               where(), cur.name, cur.offset, prev.name, prev.offset, end);
    }
  }
};

// ---- GgufFile -------------------------------------------------------------------

std::unique_ptr<GgufFile> GgufFile::open(const std::filesystem::path& path) {
  // A bad file throws out of parse(): `file` goes, and its mapping with it.
  std::unique_ptr<GgufFile> file(new GgufFile(path, io::MappedFile(path)));
  GgufParser{*file, file->map_.data(), file->map_.size()}.parse();
  return file;
}

bool GgufFile::has(std::string_view key) const { return metadata_.find(key) != metadata_.end(); }

const Value& GgufFile::value(std::string_view key) const {
  auto it = metadata_.find(key);
  EP_CHECK(it != metadata_.end(), "{}: no metadata key '{}' (the file has {} keys)", path_.string(), key,
           metadata_.size());
  return it->second;
}

const Value& GgufFile::typed(std::string_view key, bool ok_type(const Value&), const char* expected) const {
  const Value& v = value(key);
  EP_CHECK(ok_type(v), "{}: metadata '{}' is {}, expected {}", path_.string(), key, v.describe(), expected);
  return v;
}

namespace {
bool scalar_of(const Value& v, bool pred(ValueType)) { return !v.is_array() && pred(v.type()); }
bool array_of(const Value& v, bool pred(ValueType)) { return v.is_array() && pred(v.element_type()); }
bool is_float_type(ValueType t) { return t == ValueType::FLOAT32 || t == ValueType::FLOAT64; }
bool is_string_type(ValueType t) { return t == ValueType::STRING; }
bool is_bool_type(ValueType t) { return t == ValueType::BOOL; }
}  // namespace

const std::string& GgufFile::get_string(std::string_view key) const {
  return typed(key, [](const Value& v) { return scalar_of(v, is_string_type); }, "a string").string_at(0);
}

int64_t GgufFile::get_int(std::string_view key) const {
  const Value& v = typed(key, [](const Value& v) { return scalar_of(v, is_integer_type); }, "an integer");
  EP_CHECK(v.type() != ValueType::UINT64 || v.uint_at(0) <= static_cast<uint64_t>(INT64_MAX),
           "{}: metadata '{}' is uint64 {}, too large for int64 (use get_uint)", path_.string(), key, v.uint_at(0));
  return v.int_at(0);
}

uint64_t GgufFile::get_uint(std::string_view key) const {
  const Value& v = typed(key, [](const Value& v) { return scalar_of(v, is_integer_type); }, "an integer");
  EP_CHECK(v.type() == ValueType::UINT64 || v.int_at(0) >= 0, "{}: metadata '{}' is {} {}, expected a value >= 0",
           path_.string(), key, v.describe(), v.int_at(0));
  return v.uint_at(0);
}

double GgufFile::get_float(std::string_view key) const {
  return typed(key, [](const Value& v) { return scalar_of(v, is_float_type); }, "float32 or float64").float_at(0);
}

bool GgufFile::get_bool(std::string_view key) const {
  return typed(key, [](const Value& v) { return scalar_of(v, is_bool_type); }, "a bool").bool_at(0);
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  const Value& v = typed(key, [](const Value& v) { return array_of(v, is_string_type); }, "an array of strings");
  std::vector<std::string> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back(v.string_at(i));
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const Value& v = typed(key, [](const Value& v) { return array_of(v, is_integer_type); }, "an array of integers");
  std::vector<int64_t> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    EP_CHECK(v.element_type() != ValueType::UINT64 || v.uint_at(i) <= static_cast<uint64_t>(INT64_MAX),
             "{}: metadata '{}' element {} is uint64 {}, too large for int64", path_.string(), key, i, v.uint_at(i));
    out.push_back(v.int_at(i));
  }
  return out;
}

std::vector<double> GgufFile::get_float_array(std::string_view key) const {
  const Value& v = typed(key, [](const Value& v) { return array_of(v, is_float_type); }, "an array of floats");
  std::vector<double> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back(v.float_at(i));
  return out;
}

bool GgufFile::contains(std::string_view name) const { return tensor_index_.find(name) != tensor_index_.end(); }

const TensorInfo& GgufFile::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  EP_CHECK(it != tensor_index_.end(), "{}: no tensor named '{}' (the file has {} tensors)", path_.string(), name,
           tensors_.size());
  return tensors_[it->second];
}

}  // namespace ep::gguf
