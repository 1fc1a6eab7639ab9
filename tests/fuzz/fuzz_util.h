// Shared by the libFuzzer harnesses (docs/fuzzing.md): a scratch folder private to
// this process, and writing the fuzzer's bytes into a file there, for the readers
// that take a path (safetensors, GGUF, tokenizer folders, results files).
//
// A harness catches ep::Error only: that is the parsers' way of refusing bad bytes.
// Anything else escaping (std::out_of_range, nlohmann::json::type_error, bad_alloc)
// aborts the process, and libFuzzer keeps the input as a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace ep::fuzz {

// $EP_FUZZ_TMPDIR (scripts/fuzz sets it), else /dev/shm (tmpfs: no disk traffic for
// every run), else the system temporary folder; one subfolder per process, removed
// at a normal exit (a crash leaves it for the post-mortem).
class ScratchDir {
 public:
  ScratchDir() {
    namespace fs = std::filesystem;
    fs::path base;
    if (const char* env = std::getenv("EP_FUZZ_TMPDIR"); env && *env) base = env;
    else if (::access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    else base = fs::temp_directory_path();
    path_ = base / ("ep-fuzz-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / std::string(name); }

 private:
  std::filesystem::path path_;
};

inline const ScratchDir& scratch() {
  static const ScratchDir dir;
  return dir;
}

// Replaces `path` with exactly these bytes; a failure here is the machine's, not the
// parser's, so it stops the fuzzer loudly.
inline void write_file(const std::filesystem::path& path, const void* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}
inline void write_file(const std::filesystem::path& path, std::string_view text) {
  write_file(path, text.data(), text.size());
}

// Called where a harness catches the parser's ep::Error: silent while fuzzing; with
// EP_FUZZ_VERBOSE=1 (running a harness on one input by hand) it prints why the input
// was refused, to check that a seed gets as far as it should.
inline void refused(const std::exception& e) {
  static const bool verbose = [] {
    const char* v = std::getenv("EP_FUZZ_VERBOSE");
    return v && *v && std::string_view(v) != "0";
  }();
  if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
}

// A property every input must keep (not an input error): abort with a message, so
// libFuzzer saves the input.
#define EP_FUZZ_ASSERT(cond, ...)                                                      \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                               \
      std::fputc('\n', stderr);                                                        \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

}  // namespace ep::fuzz
