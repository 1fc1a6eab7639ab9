// Small RAII and typed helpers over the HDF5 C API, shared by the results writer
// and reader. Every failing call becomes an ep::Error that names what was being
// done and carries HDF5's own error stack (which HDF5 would otherwise print to
// stderr and forget).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <hdf5.h>

#include "runner/results_file.h"

namespace ep::runner::h5 {

// The root attribute `format` says what the file is; `format_version` is raised
// when the layout changes in a way old readers would misread.
inline constexpr const char* kFormat = "eprunner-results";
// Version 2 (this one): strings are fixed-length, each cell has a checksum. Version 1
// files (variable-length strings, no checksums) read the same.
inline constexpr int64_t kFormatVersion = 2;

// Owns one hid_t; closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  void reset();
  hid_t release() {  // gives up ownership; the caller closes
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// Turns HDF5's automatic error printing off (once per process); errors are
// reported through exceptions instead.
void quiet_errors();

// Throws ep::Error "<what>: <HDF5 error stack>".
[[noreturn]] void fail(const std::string& what);

// A new HDF5 file in memory (the core driver, no backing store): every file eprunner
// writes is built in memory and its image written out by durable_file.h, so a full
// disk or an I/O error reaches us from write(2), never from inside libhdf5.
class MemoryFile {
 public:
  MemoryFile();
  ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  hid_t get() const { return file_; }
  operator hid_t() const { return file_; }
  // Closes the file and gives its bytes. (H5Fget_file_image of an open file is not
  // a valid file in the 1.8+ format: its superblock is still marked open.)
  std::vector<uint8_t> close_to_image();
  struct Buffer;  // the library's image memory, which we keep past the close

 private:
  std::unique_ptr<Buffer> buffer_;
  Handle file_;
};

Handle open_file(const std::filesystem::path& path, bool writable);
// Copies the object `src_name` under `src` (a group, recursively, with attributes)
// to `dst_name` under `dst`; the two may be in different files.
void copy_object(hid_t src, const std::string& src_name, hid_t dst, const std::string& dst_name);
Handle create_group(hid_t parent, const std::string& name);
Handle open_group(hid_t parent, const std::string& name);
bool exists(hid_t parent, const std::string& name);   // a link of that name
void remove(hid_t parent, const std::string& name);   // unlinks (space is not reclaimed)
std::vector<std::string> children(hid_t group);       // link names, in name order

bool has_attr(hid_t obj, const std::string& name);
// UTF-8, fixed length (format 2): a damaged global heap cannot reach it, as it
// could variable-length strings. read_string_attr reads both.
void write_attr(hid_t obj, const std::string& name, const std::string& value);
void write_attr(hid_t obj, const std::string& name, int64_t value);
void write_attr(hid_t obj, const std::string& name, double value);
std::string read_string_attr(hid_t obj, const std::string& name, const std::string& fallback = "");

// The provenance attributes of the file root or of a /runs/<k> group
// (docs/results-format.md); absent ones read as empty. In results_h5_reader.cpp.
Provenance read_provenance(hid_t obj);
int64_t read_int_attr(hid_t obj, const std::string& name, int64_t fallback = 0);
void write_provenance(hid_t obj, const Provenance& p);  // in results_h5.cpp

// One /cells/<name> group as plain data (results_h5_reader.cpp): its identity and
// status, or everything the writer stored. `everything` = false is what reports
// need: each split's metrics and the timings, no per-example arrays.
CellSummary read_cell_summary(hid_t cell);
CellResult read_cell_group(hid_t cell, bool everything);
// The attributes a cell's checksums are stored in: over read_cell_group(cell, true)
// and over read_cell_group(cell, false) (cell_codec.h cell_checksum).
inline constexpr const char* kChecksumAttr = "checksum";
inline constexpr const char* kMetricsChecksumAttr = "metrics_checksum";
double read_double_attr(hid_t obj, const std::string& name, double fallback);

// Datasets of float, double, int64_t or uint8_t. Large ones are chunked and
// compressed (deflate + shuffle). Writing an empty array writes nothing; reading
// an absent dataset gives an empty array.
template <class T>
void write_array(hid_t parent, const std::string& name, const Array<T>& a);
template <class T>
void write_vector(hid_t parent, const std::string& name, const std::vector<T>& v) {
  write_array(parent, name, Array<T>{{static_cast<int64_t>(v.size())}, v});
}
template <class T>
Array<T> read_array(hid_t parent, const std::string& name);
template <class T>
std::vector<T> read_vector(hid_t parent, const std::string& name) {
  return read_array<T>(parent, name).data;
}

}  // namespace ep::runner::h5
