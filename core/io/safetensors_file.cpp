// Reading one .safetensors file: map it, validate the whole header against the
// file, then hand out views into the mapping.
//
// ref: https://github.com/huggingface/safetensors, README "Format" and
// safetensors/src/tensor.rs (SafeTensors::read_metadata, Metadata::validate).
// Validation follows the reference library: a file that passes here loads there.
#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/io/mapped_file.h"
#include "core/io/safetensors.h"
#include "core/io/strict_json.h"
#include "core/util/error.h"

namespace ep::st {

using nlohmann::json;

namespace {

// ref: safetensors tensor.rs MAX_HEADER_SIZE. Real headers are a few hundred KB at
// most; a larger length is a corrupt or hostile file, not a big model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr uint64_t kLengthPrefixBytes = 8;
constexpr std::string_view kMetadataKey = "__metadata__";

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}

std::optional<DType> find_dtype(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(DType::F8_E5M2); ++i) {
    auto dt = static_cast<DType>(i);
    if (dtype_name(dt) == name) return dt;
  }
  return std::nullopt;
}

// Where one tensor's bytes lie in the data section; used to check the layout.
struct Extent {
  uint64_t begin;
  uint64_t end;
  const std::string* name;
};

}  // namespace

// Fills a SafetensorsFile from its mapped bytes (a friend, so it can set the
// private members); every check throws ep::Error naming the file.
struct SafetensorsParser {
  SafetensorsFile& file;
  const std::byte* bytes;
  uint64_t size;

  std::string where() const { return file.path_.string(); }

  void parse() {
    uint64_t header_len = read_header_length();
    const char* header = reinterpret_cast<const char*>(bytes + kLengthPrefixBytes);
    json root = parse_header(header, header_len);

    const std::byte* data = bytes + kLengthPrefixBytes + header_len;
    uint64_t data_size = size - kLengthPrefixBytes - header_len;
    std::vector<Extent> extents;
    for (auto& [key, value] : root.items()) {
      if (key == kMetadataKey) {
        parse_metadata(value);
        continue;
      }
      TensorView view = parse_tensor(key, value, data, data_size);
      // Keys are unique here (DuplicateKeyCheck), so the emplace always inserts.
      auto it = file.tensors_.emplace(key, std::move(view)).first;
      const TensorView& stored = it->second;
      auto begin = static_cast<uint64_t>(stored.data - data);
      extents.push_back({begin, begin + stored.nbytes, &it->first});
    }
    check_layout(std::move(extents), data_size);
  }

  uint64_t read_header_length() const {
    EP_CHECK(size >= kLengthPrefixBytes,
             "{}: file is {} bytes, too short for a safetensors file (expected at least the "
             "8-byte header length)",
             where(), size);
    uint64_t n = read_u64_le(bytes);
    EP_CHECK(n <= size - kLengthPrefixBytes,
             "{}: header length {} runs past the end of the file ({} bytes after the length "
             "prefix); the file is truncated or not safetensors",
             where(), n, size - kLengthPrefixBytes);
    EP_CHECK(n <= kMaxHeaderBytes, "{}: header length {} exceeds the {}-byte limit", where(), n,
             kMaxHeaderBytes);
    EP_CHECK(n >= 2, "{}: header length {} is too short for a JSON object", where(), n);
    return n;
  }

  json parse_header(const char* text, uint64_t len) const {
    const json root = io::parse_strict_json(std::string_view(text, len), where() + ": header");
    EP_CHECK(root.is_object(), "{}: header must be a JSON object, got {}", where(),
             root.type_name());
    return root;
  }

  void parse_metadata(const json& meta) {
    EP_CHECK(meta.is_object(), "{}: {} must be an object of strings, got {}", where(),
             kMetadataKey, meta.type_name());
    for (auto& [key, value] : meta.items()) {
      EP_CHECK(value.is_string(), "{}: {} entry '{}' must be a string, got {}", where(),
               kMetadataKey, key, value.type_name());
      file.metadata_.emplace(key, value.get<std::string>());
    }
  }

  TensorView parse_tensor(const std::string& name, const json& entry, const std::byte* data,
                          uint64_t data_size) const {
    EP_CHECK(entry.is_object(),
             "{}: tensor '{}': expected an object with dtype, shape and data_offsets, got {}",
             where(), name, entry.type_name());
    TensorView view;
    view.name = name;
    view.dtype = parse_dtype(name, field(name, entry, "dtype"));
    view.shape = parse_shape(name, field(name, entry, "shape"));
    auto [begin, end] = parse_offsets(name, field(name, entry, "data_offsets"), data_size);

    uint64_t numel = checked_numel(name, view.shape);
    uint64_t expected = 0;
    EP_CHECK(!__builtin_mul_overflow(numel, dtype_size(view.dtype), &expected),
             "{}: tensor '{}': {} elements of {} overflow the size in bytes", where(), name,
             numel, dtype_name(view.dtype));
    EP_CHECK(expected == end - begin,
             "{}: tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] span {} "
             "bytes (size mismatch)",
             where(), name, json(view.shape).dump(), dtype_name(view.dtype), expected, begin, end,
             end - begin);
    view.data = data + begin;
    view.nbytes = end - begin;
    return view;
  }

  const json& field(const std::string& name, const json& entry, const char* key) const {
    auto it = entry.find(key);
    EP_CHECK(it != entry.end(), "{}: tensor '{}': missing field '{}'", where(), name, key);
    return *it;
  }

  DType parse_dtype(const std::string& name, const json& v) const {
    EP_CHECK(v.is_string(), "{}: tensor '{}': dtype must be a string, got {}", where(), name,
             v.type_name());
    const auto& s = v.get_ref<const std::string&>();
    auto dt = find_dtype(s);
    EP_CHECK(dt.has_value(),
             "{}: tensor '{}': unknown dtype '{}' (expected one of BOOL U8 I8 I16 U16 I32 U32 "
             "I64 U64 F16 BF16 F32 F64 F8_E4M3 F8_E5M2)",
             where(), name, s);
    return *dt;
  }

  std::vector<int64_t> parse_shape(const std::string& name, const json& v) const {
    EP_CHECK(v.is_array(), "{}: tensor '{}': shape must be an array of non-negative integers, got {}",
             where(), name, v.type_name());
    std::vector<int64_t> shape;
    for (const auto& d : v) {
      // nlohmann stores non-negative integers as unsigned, negative ones as signed.
      EP_CHECK(d.is_number_unsigned() &&
                   d.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
               "{}: tensor '{}': shape {} must hold non-negative integers", where(), name,
               v.dump());
      shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    }
    return shape;
  }

  uint64_t checked_numel(const std::string& name, const std::vector<int64_t>& shape) const {
    uint64_t n = 1;
    for (int64_t d : shape)
      EP_CHECK(!__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n),
               "{}: tensor '{}': element count of shape {} overflows", where(), name,
               json(shape).dump());
    return n;
  }

  std::pair<uint64_t, uint64_t> parse_offsets(const std::string& name, const json& v,
                                              uint64_t data_size) const {
    EP_CHECK(v.is_array() && v.size() == 2 && v[0].is_number_unsigned() &&
                 v[1].is_number_unsigned(),
             "{}: tensor '{}': data_offsets must be [begin, end] with non-negative integers, got {}",
             where(), name, v.dump());
    uint64_t begin = v[0].get<uint64_t>(), end = v[1].get<uint64_t>();
    EP_CHECK(begin <= end, "{}: tensor '{}': data_offsets [{}, {}] have begin > end", where(),
             name, begin, end);
    EP_CHECK(end <= data_size,
             "{}: tensor '{}': data_offsets [{}, {}] out of range: the data section has {} bytes",
             where(), name, begin, end, data_size);
    return {begin, end};
  }

  // ref: safetensors Metadata::validate: sorted by offsets, tensors must tile the data
  // section exactly (no overlap, no hole, nothing after the last tensor).
  void check_layout(std::vector<Extent> extents, uint64_t data_size) const {
    std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) {
      return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
    });
    uint64_t covered = 0;
    const std::string* previous = nullptr;
    for (const auto& e : extents) {
      EP_CHECK(e.begin >= covered,
               "{}: tensor '{}' at data_offsets [{}, {}] overlaps tensor '{}' (which ends at {})",
               where(), *e.name, e.begin, e.end, previous ? *previous : "", covered);
      EP_CHECK(e.begin == covered,
               "{}: tensor '{}' starts at {} but the previous tensor ends at {}: a hole in the "
               "data section",
               where(), *e.name, e.begin, covered);
      covered = e.end;
      previous = e.name;
    }
    EP_CHECK(covered == data_size,
             "{}: the data section has {} bytes but the tensors cover only {} (trailing bytes)",
             where(), data_size, covered);
  }
};

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  // The file owns the mapping from the start (moving a MappedFile moves the owner,
  // not the mapping), so a bad file is unmapped when `file` is dropped by the throw.
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile(path, io::MappedFile(path)));
  SafetensorsParser{*file, file->map_.data(), file->map_.size()}.parse();
  return file;
}

bool SafetensorsFile::contains(std::string_view name) const {
  return tensors_.find(name) != tensors_.end();
}

const TensorView& SafetensorsFile::get(std::string_view name) const {
  auto it = tensors_.find(name);
  EP_CHECK(it != tensors_.end(), "{}: no tensor named '{}' (the file has {} tensors)",
           path_.string(), name, tensors_.size());
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size());
  for (const auto& [name, view] : tensors_) out.push_back(name);
  return out;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // validated on open: the product fits
  return n;
}

}  // namespace ep::st
