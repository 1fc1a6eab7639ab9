// HDF5 C API wrappers: handles, attributes, datasets, the error stack.
#include "runner/h5_util.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
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

// Variable-length strings: how format 1 files store them (read only).
Handle string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) fail("making a string type");
  return t;
}

// A fixed-length UTF-8 string of `size` bytes (at least 1: HDF5 has no empty type),
// padded with NULs.
Handle fixed_string_type(size_t size) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  if (t < 0 || H5Tset_size(t, std::max<size_t>(size, 1)) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
      H5Tset_cset(t, H5T_CSET_UTF8) < 0)
    fail("making a string type");
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
  // Files are only ever replaced by rename, never changed in place, and writers
  // lock with results_lock.h: HDF5's own flock() buys nothing here, and it fails
  // on file systems without locks (Lustre).
  H5Pset_file_locking(fapl, false, true);
#endif
  return fapl;
}
}  // namespace

// The core driver allocates the image through these callbacks; at close, instead
// of freeing it, we keep it (the file's bytes, now final).
struct MemoryFile::Buffer {
  void* live = nullptr;
  size_t size = 0;
  void* kept = nullptr;
  size_t kept_size = 0;
};

namespace {
void* image_malloc(size_t size, H5FD_file_image_op_t, void* udata) {
  auto* b = static_cast<MemoryFile::Buffer*>(udata);
  b->live = std::malloc(size);
  b->size = size;
  return b->live;
}
void* image_memcpy(void* dest, const void* src, size_t size, H5FD_file_image_op_t, void*) {
  return std::memcpy(dest, src, size);
}
void* image_realloc(void* ptr, size_t size, H5FD_file_image_op_t, void* udata) {
  auto* b = static_cast<MemoryFile::Buffer*>(udata);
  void* p = std::realloc(ptr, size);
  if (p && ptr == b->live) {
    b->live = p;
    b->size = size;
  }
  return p;
}
herr_t image_free(void* ptr, H5FD_file_image_op_t, void* udata) {
  auto* b = static_cast<MemoryFile::Buffer*>(udata);
  if (ptr && ptr == b->live) {
    std::free(b->kept);
    b->kept = ptr;
    b->kept_size = b->size;
    b->live = nullptr;
  } else {
    std::free(ptr);
  }
  return 0;
}
void* udata_same(void* udata) { return udata; }
herr_t udata_keep(void*) { return 0; }

// The file's length from its superblock (versions 2 and 3, which the 1.8+ format
// writes): signature 8, version 1, offset size 1, length size 1, flags 1, then
// four addresses (base, extension, end of file, root group).
size_t end_of_file(const uint8_t* p, size_t available) {
  static const uint8_t kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  EP_CHECK(available >= 12 && std::memcmp(p, kSignature, 8) == 0, "HDF5: an in-memory image without its signature");
  EP_CHECK(p[8] == 2 || p[8] == 3, "HDF5: an in-memory image with superblock version {}", p[8]);
  const size_t offsets = p[9];
  EP_CHECK(offsets >= 1 && offsets <= 8 && available >= 12 + 4 * offsets, "HDF5: an in-memory image with {}-byte offsets",
           offsets);
  uint64_t eof = 0;
  for (size_t i = 0; i < offsets; ++i) eof |= static_cast<uint64_t>(p[12 + 2 * offsets + i]) << (8 * i);
  EP_CHECK(eof >= 12 + 4 * offsets && eof <= available, "HDF5: an in-memory image ends at {} of {} bytes", eof,
           available);
  return static_cast<size_t>(eof);
}
}  // namespace

MemoryFile::MemoryFile() : buffer_(std::make_unique<Buffer>()) {
  quiet_errors();
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, /*backing_store=*/false) < 0) fail("making in-memory file properties");
  // The 1.8 object format at least: attributes over 64 KiB (a long grid text as a
  // fixed-length string) move to dense storage instead of failing. h5py reads it.
  if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0) fail("setting the file format bounds");
  H5FD_file_image_callbacks_t callbacks = {image_malloc, image_memcpy, image_realloc, image_free,
                                           udata_same,   udata_keep,   buffer_.get()};
  if (H5Pset_file_image_callbacks(fapl, &callbacks) < 0) fail("setting in-memory file callbacks");
  // The name only identifies the file inside HDF5; nothing is created on disk.
  static std::atomic<int> serial{0};
  const std::string name = fmt::format("eprunner-memory-{}-{}", ::getpid(), ++serial);
  file_ = Handle(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose);
  if (file_ < 0) fail("cannot create an in-memory HDF5 file");
}

MemoryFile::~MemoryFile() {
  file_.reset();
  std::free(buffer_->kept);
}

std::vector<uint8_t> MemoryFile::close_to_image() {
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) fail("flushing an in-memory file");
  if (H5Fclose(file_.release()) < 0) fail("closing an in-memory file");
  EP_CHECK(buffer_->kept, "HDF5: an in-memory file left no image at its close");
  const auto* p = static_cast<const uint8_t*>(buffer_->kept);
  std::vector<uint8_t> bytes(p, p + end_of_file(p, buffer_->kept_size));
  std::free(buffer_->kept);
  buffer_->kept = nullptr;
  return bytes;
}

void copy_object(hid_t src, const std::string& src_name, hid_t dst, const std::string& dst_name) {
  if (H5Ocopy(src, src_name.c_str(), dst, dst_name.c_str(), H5P_DEFAULT, H5P_DEFAULT) < 0)
    fail(fmt::format("copying '{}'", src_name));
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
  Handle type = fixed_string_type(value.size());
  std::string padded = value;
  padded.resize(std::max<size_t>(value.size(), 1), '\0');
  put_attr(obj, name, type, padded.data());
}

void write_attr(hid_t obj, const std::string& name, int64_t value) { put_attr(obj, name, H5T_STD_I64LE, &value); }

void write_attr(hid_t obj, const std::string& name, double value) { put_attr(obj, name, H5T_IEEE_F64LE, &value); }

namespace {
// Opens attribute `name`, which must hold exactly one value: reading an array into
// one value's buffer would overrun it (a damaged or foreign file).
Handle open_scalar_attr(hid_t obj, const std::string& name) {
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (a < 0) fail(fmt::format("opening attribute '{}'", name));
  Handle space(H5Aget_space(a), H5Sclose);
  const hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  if (n != 1) EP_FAIL("attribute '{}' holds {} values; expected one (the file is damaged)", name, n);
  return a;
}
}  // namespace

std::string read_string_attr(hid_t obj, const std::string& name, const std::string& fallback) {
  if (!has_attr(obj, name)) return fallback;
  Handle a = open_scalar_attr(obj, name);
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
  // Fixed-length strings (format 2; also other tools', e.g. h5py with numpy bytes),
  // read as stored: the memory type is the file's (cset and padding included).
  const size_t size = H5Tget_size(ftype);
  if (size == 0 || size > (size_t{1} << 30)) fail(fmt::format("attribute '{}' has a string size of {}", name, size));
  std::string out(size, '\0');
  if (H5Aread(a, ftype, out.data()) < 0) fail(fmt::format("reading attribute '{}'", name));
  out.resize(out.find('\0') == std::string::npos ? out.size() : out.find('\0'));
  return out;
}

int64_t read_int_attr(hid_t obj, const std::string& name, int64_t fallback) {
  if (!has_attr(obj, name)) return fallback;
  Handle a = open_scalar_attr(obj, name);
  int64_t v = 0;
  if (a < 0 || H5Aread(a, H5T_NATIVE_INT64, &v) < 0) fail(fmt::format("reading attribute '{}'", name));
  return v;
}

double read_double_attr(hid_t obj, const std::string& name, double fallback) {
  if (!has_attr(obj, name)) return fallback;
  Handle a = open_scalar_attr(obj, name);
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
