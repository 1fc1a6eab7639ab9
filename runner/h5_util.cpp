// HDF5 C API wrappers: handles, attributes, datasets, the error stack.
#include "runner/h5_util.h"

#include <mutex>
#include <numeric>

#include <fmt/format.h>

#include "core/util/error.h"

namespace ep::runner::h5 {
namespace {

// HDF5's error stack, innermost first, as "func: message; func: message".
herr_t collect_error(unsigned n, const H5E_error2_t* e, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (!text->empty()) *text += "; ";
  *text += fmt::format("{}: {}", e->func_name ? e->func_name : "?", e->desc ? e->desc : "?");
  return 0;
}

template <class T> hid_t mem_type();
template <> hid_t mem_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t mem_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t mem_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t mem_type<uint8_t>() { return H5T_NATIVE_UINT8; }

// The type in the file: fixed little-endian, whatever machine wrote it.
template <class T> hid_t file_type();
template <> hid_t file_type<float>() { return H5T_IEEE_F32LE; }
template <> hid_t file_type<double>() { return H5T_IEEE_F64LE; }
template <> hid_t file_type<int64_t>() { return H5T_STD_I64LE; }
template <> hid_t file_type<uint8_t>() { return H5T_STD_U8LE; }

Handle string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) fail("making a string type");
  return t;
}

Handle scalar_space() {
  Handle s(H5Screate(H5S_SCALAR), H5Sclose);
  if (s < 0) fail("making a scalar dataspace");
  return s;
}

// Arrays above this many bytes are chunked and compressed: ΔL tables and activation
// means of big models compress well, and the file is copied once per finished cell.
constexpr size_t kCompressAbove = 64 * 1024;
constexpr size_t kChunkBytes = 1 << 20;

Handle dataset_properties(const std::vector<hsize_t>& dims, size_t elem_size) {
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (dcpl < 0) fail("making dataset properties");
  size_t total = elem_size;
  for (hsize_t d : dims) total *= d;
  if (total <= kCompressAbove || dims.empty() || !H5Zfilter_avail(H5Z_FILTER_DEFLATE)) return dcpl;
  // Chunks are whole trailing rows, as many leading indices as fit in kChunkBytes.
  std::vector<hsize_t> chunk = dims;
  size_t row = total / dims[0];
  chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], kChunkBytes / std::max<size_t>(row, 1)));
  if (H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()) < 0 || H5Pset_shuffle(dcpl) < 0 ||
      H5Pset_deflate(dcpl, 4) < 0)
    fail("setting chunking and compression");
  return dcpl;
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && close_) close_(id_);
  id_ = H5I_INVALID_HID;
}

void quiet_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

void fail(const std::string& what) {
  std::string stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &stack);
  H5Eclear2(H5E_DEFAULT);
  EP_FAIL("HDF5: {}{}", what, stack.empty() ? "" : " (" + stack + ")");
}

namespace {
Handle file_access() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl < 0) fail("making file access properties");
#if H5_VERSION_GE(1, 10, 7)
  // Writers only ever write private .tmp copies that no reader opens, so HDF5's
  // flock() buys nothing here, and it fails on file systems without locks (Lustre).
  H5Pset_file_locking(fapl, false, true);
#endif
  return fapl;
}
}  // namespace

Handle create_file(const std::filesystem::path& path) {
  quiet_errors();
  Handle fapl = file_access();
  Handle f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose);
  if (f < 0) fail(fmt::format("cannot create '{}'", path.string()));
  return f;
}

Handle open_file(const std::filesystem::path& path, bool writable) {
  quiet_errors();
  Handle fapl = file_access();
  Handle f(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl), H5Fclose);
  if (f < 0) fail(fmt::format("cannot open '{}' (not an HDF5 file, or damaged)", path.string()));
  return f;
}

Handle create_group(hid_t parent, const std::string& name) {
  Handle g(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (g < 0) fail(fmt::format("cannot create group '{}'", name));
  return g;
}

Handle open_group(hid_t parent, const std::string& name) {
  Handle g(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose);
  if (g < 0) fail(fmt::format("cannot open group '{}'", name));
  return g;
}

bool exists(hid_t parent, const std::string& name) {
  htri_t r = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
  if (r < 0) fail(fmt::format("checking for '{}'", name));
  return r > 0;
}

void remove(hid_t parent, const std::string& name) {
  if (H5Ldelete(parent, name.c_str(), H5P_DEFAULT) < 0) fail(fmt::format("cannot remove '{}'", name));
}

std::vector<std::string> children(hid_t group) {
  H5G_info_t info;
  if (H5Gget_info(group, &info) < 0) fail("listing a group");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) fail("reading a link name");
    std::string name(static_cast<size_t>(n), '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    names.push_back(std::move(name));
  }
  return names;
}

bool has_attr(hid_t obj, const std::string& name) {
  htri_t r = H5Aexists(obj, name.c_str());
  if (r < 0) fail(fmt::format("checking for attribute '{}'", name));
  return r > 0;
}

namespace {
// Creates (replacing an older one) a scalar attribute of `type` and writes `value`.
void put_attr(hid_t obj, const std::string& name, hid_t type, const void* value) {
  if (has_attr(obj, name) && H5Adelete(obj, name.c_str()) < 0) fail(fmt::format("replacing attribute '{}'", name));
  Handle space = scalar_space();
  Handle a(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (a < 0 || H5Awrite(a, type, value) < 0) fail(fmt::format("writing attribute '{}'", name));
}
}  // namespace

void write_attr(hid_t obj, const std::string& name, const std::string& value) {
  Handle type = string_type();
  const char* p = value.c_str();
  put_attr(obj, name, type, &p);
}

void write_attr(hid_t obj, const std::string& name, int64_t value) { put_attr(obj, name, H5T_STD_I64LE, &value); }

void write_attr(hid_t obj, const std::string& name, double value) { put_attr(obj, name, H5T_IEEE_F64LE, &value); }

std::string read_string_attr(hid_t obj, const std::string& name, const std::string& fallback) {
  if (!has_attr(obj, name)) return fallback;
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (a < 0) fail(fmt::format("opening attribute '{}'", name));
  Handle ftype(H5Aget_type(a), H5Tclose);
  if (H5Tget_class(ftype) != H5T_STRING) fail(fmt::format("attribute '{}' is not a string", name));
  if (H5Tis_variable_str(ftype) > 0) {
    Handle type = string_type();
    char* p = nullptr;
    if (H5Aread(a, type, &p) < 0) fail(fmt::format("reading attribute '{}'", name));
    std::string out = p ? p : "";
    H5free_memory(p);
    return out;
  }
  // Fixed-length strings (written by other tools, e.g. h5py with numpy bytes).
  size_t size = H5Tget_size(ftype);
  std::string out(size, '\0');
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, size);
  if (H5Aread(a, type, out.data()) < 0) fail(fmt::format("reading attribute '{}'", name));
  out.resize(out.find('\0') == std::string::npos ? out.size() : out.find('\0'));
  return out;
}

int64_t read_int_attr(hid_t obj, const std::string& name, int64_t fallback) {
  if (!has_attr(obj, name)) return fallback;
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  int64_t v = 0;
  if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, &v) < 0) fail(fmt::format("reading attribute '{}'", name));
  return v;
}

double read_double_attr(hid_t obj, const std::string& name, double fallback) {
  if (!has_attr(obj, name)) return fallback;
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  double v = 0;
  if (a < 0 || H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) fail(fmt::format("reading attribute '{}'", name));
  return v;
}

template <class T>
void write_array(hid_t parent, const std::string& name, const Array<T>& a) {
  if (a.data.empty()) return;
  std::vector<hsize_t> dims(a.shape.begin(), a.shape.end());
  const size_t numel = std::accumulate(dims.begin(), dims.end(), size_t{1}, std::multiplies<size_t>());
  EP_CHECK(numel == a.data.size(), "array '{}': shape holds {} values but data has {}", name, numel, a.data.size());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  if (space < 0) fail(fmt::format("making the dataspace of '{}'", name));
  Handle dcpl = dataset_properties(dims, sizeof(T));
  Handle d(H5Dcreate2(parent, name.c_str(), file_type<T>(), space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  if (d < 0 || H5Dwrite(d, mem_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data()) < 0)
    fail(fmt::format("writing dataset '{}'", name));
}

template <class T>
Array<T> read_array(hid_t parent, const std::string& name) {
  Array<T> a;
  if (!exists(parent, name)) return a;
  Handle d(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (d < 0) fail(fmt::format("opening dataset '{}'", name));
  Handle space(H5Dget_space(d), H5Sclose);
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail(fmt::format("reading the shape of '{}'", name));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  a.shape.assign(dims.begin(), dims.end());
  a.data.resize(std::accumulate(dims.begin(), dims.end(), size_t{1}, std::multiplies<size_t>()));
  if (!a.data.empty() && H5Dread(d, mem_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data()) < 0)
    fail(fmt::format("reading dataset '{}'", name));
  return a;
}

#define EP_H5_ARRAY_TYPES(T)                                                   \
  template void write_array<T>(hid_t, const std::string&, const Array<T>&); \
  template Array<T> read_array<T>(hid_t, const std::string&);
EP_H5_ARRAY_TYPES(float)
EP_H5_ARRAY_TYPES(double)
EP_H5_ARRAY_TYPES(int64_t)
EP_H5_ARRAY_TYPES(uint8_t)
#undef EP_H5_ARRAY_TYPES

}  // namespace ep::runner::h5
