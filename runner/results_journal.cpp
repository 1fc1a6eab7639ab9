// Naming and listing the journal's entries (results_journal.h).
#include "runner/results_journal.h"

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

namespace ep::runner {

namespace fs = std::filesystem;

fs::path journal_folder(const fs::path& file) { return fs::path(file.string() + ".journal"); }

fs::path journal_entry_path(const fs::path& file, uint64_t seq) {
  return journal_folder(file) / fmt::format("{:010d}.h5", seq);
}

namespace {
// "0000000012.h5" -> 12; anything else (temporaries, stray files) -> 0.
uint64_t entry_seq(const std::string& name) {
  if (name.size() != 13 || name.compare(10, 3, ".h5") != 0) return 0;
  uint64_t seq = 0;
  for (size_t i = 0; i < 10; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    seq = seq * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return seq;
}
}  // namespace

std::vector<JournalEntry> list_journal(const fs::path& file) {
  std::vector<JournalEntry> out;
  std::error_code ec;
  const fs::path folder = journal_folder(file);
  if (!fs::is_directory(folder, ec)) return out;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const uint64_t seq = entry_seq(it->path().filename().string());
    if (seq == 0) continue;
    std::error_code size_ec;
    const uintmax_t bytes = fs::file_size(it->path(), size_ec);
    if (size_ec) continue;  // folded and deleted meanwhile
    out.push_back({seq, it->path(), bytes});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return out;
}

}  // namespace ep::runner
