// Helpers shared by the tokenizer tests: the installed GPT-2 tokenizer, temporary
// tokenizer directories, and file writing.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/tokenizer/bpe_tokenizer.h"
#include "core/tokenizer/utf8.h"
#include "core/util/error.h"

namespace ep::test {

inline const std::filesystem::path kGpt2TokenizerDir = EP_TOKENIZER_DIR;

// One load per test binary: vocab.json + merges.txt take ~100 ms to parse.
inline const BpeTokenizer& gpt2_tokenizer() {
  static const BpeTokenizer tokenizer = BpeTokenizer::load(kGpt2TokenizerDir);
  return tokenizer;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// A fresh empty directory under the system temp dir, removed when it goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("ep-tok-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs `load_or_use` and checks that it throws ep::Error whose message contains every
// one of `needles` (file names, line numbers, field names).
template <typename Fn>
void expect_error_mentioning(Fn&& load_or_use, std::initializer_list<std::string> needles) {
  try {
    load_or_use();
    ADD_FAILURE() << "expected ep::Error mentioning " << *needles.begin();
  } catch (const ep::Error& e) {
    std::string message = e.what();
    for (const auto& needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos) << "message lacks \"" << needle << "\": " << message;
    }
  }
}

// The Debian text corpus the tokenizer cross-checks and bench/tokenizer_bench.sh use:
// every /usr/share/common-licenses/* then every /usr/share/doc/*/copyright, sorted by
// path, cut into paragraphs (text up to and including a blank line). Files that are not
// UTF-8 or hold NUL (the chunk separator of the reference scripts) are skipped.
struct Corpus {
  std::vector<std::string> chunks;
  size_t bytes = 0;
  size_t files = 0;
  size_t skipped_files = 0;
};

inline Corpus debian_corpus() {
  namespace fs = std::filesystem;
  std::vector<fs::path> licenses, copyrights;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/share/common-licenses", ec)) licenses.push_back(e.path());
  for (const auto& e : fs::directory_iterator("/usr/share/doc", ec)) copyrights.push_back(e.path() / "copyright");
  std::sort(licenses.begin(), licenses.end());
  std::sort(copyrights.begin(), copyrights.end());
  licenses.insert(licenses.end(), copyrights.begin(), copyrights.end());
  Corpus corpus;
  for (const auto& path : licenses) {
    if (!fs::is_regular_file(path, ec)) continue;
    std::string text = read_file(path);
    if (tokenizer_detail::find_invalid_utf8(text) != tokenizer_detail::kUtf8Valid || text.find('\0') != std::string::npos) {
      ++corpus.skipped_files;
      continue;
    }
    ++corpus.files;
    for (size_t start = 0; start < text.size();) {
      const size_t blank = text.find("\n\n", start);
      const size_t end = blank == std::string::npos ? text.size() : blank + 2;
      corpus.chunks.push_back(text.substr(start, end - start));
      corpus.bytes += end - start;
      start = end;
    }
  }
  return corpus;
}

// Token ids from an outside reference script run as `SCRIPT encode SOURCE CHUNKS OUT [EXTRA]`
// (tests/reference/*_tokenize*.py): CHUNKS holds the texts separated by NUL bytes, OUT one
// line of space-separated ids per text.
inline std::vector<std::vector<TokenId>> reference_ids(const std::filesystem::path& script, const std::string& source,
                                                       const std::vector<std::string>& texts,
                                                       const std::filesystem::path& work, const std::string& extra = "") {
  std::string joined;
  for (size_t i = 0; i < texts.size(); ++i) joined += (i ? std::string(1, '\0') : "") + texts[i];
  write_file(work / "chunks.bin", joined);
  std::string cmd = "'" EP_PYTHON "' '" + script.string() + "' encode '" + source + "' '" + (work / "chunks.bin").string() +
                    "' '" + (work / "ids.txt").string() + "'" + (extra.empty() ? "" : " " + extra);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::istringstream lines(read_file(work / "ids.txt"));
  std::vector<std::vector<TokenId>> ids;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream numbers(line);
    std::vector<TokenId> row;
    TokenId id;
    while (numbers >> id) row.push_back(id);
    ids.push_back(std::move(row));
  }
  return ids;
}

// First index where two id sequences of `text` differ, the text there, and both sequences
// around it (ours and the reference's, named `reference`).
inline std::string describe_mismatch(const BpeTokenizer& tok, const std::string& text, const std::vector<TokenId>& ours,
                                     const std::vector<TokenId>& theirs, const std::string& reference) {
  auto around = [](const std::vector<TokenId>& ids, size_t at) {
    std::string s;
    const size_t from = at > 3 ? at - 3 : 0;
    for (size_t i = from; i < std::min(ids.size(), at + 12); ++i) s += (i == at ? " >" : " ") + std::to_string(ids[i]);
    return "[" + std::to_string(from) + ":]" + s;
  };
  size_t at = 0;
  while (at < ours.size() && at < theirs.size() && ours[at] == theirs[at]) ++at;
  const size_t offset = tok.decode(std::vector<TokenId>(ours.begin(), ours.begin() + static_cast<std::ptrdiff_t>(at))).size();
  return "first difference at token " + std::to_string(at) + ", byte " + std::to_string(offset) + " of a " +
         std::to_string(text.size()) + "-byte text; text there: \"" + text.substr(offset, 160) + "\"\n  eprunner: " +
         around(ours, at) + "\n  " + reference + ": " + around(theirs, at);
}

}  // namespace ep::test
