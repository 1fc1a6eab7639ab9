// The results file's journal: what makes writing a cell cost the same whether the
// file holds one cell or two thousand.
//
// Each change a writer makes (a run starts, a cell is finished, the run ends) is
// published as a small file of its own, `<file>.journal/<seq>.h5` (seq = 1, 2, ...,
// ten digits), with publish_file (durable_file.h): a complete results-format file
// holding the root provenance at that moment and the changed /runs/<k> or
// /cells/<name> group. The writer folds the journal into `<file>` (one rewrite:
// the old file's groups plus the entries', later ones winning) when the journal
// has grown as large as the file (so each byte is copied a bounded number of times),
// when the run ends, and when a writer finds a journal left by a crash. Readers
// (ResultsReader) read the file and its journal together, so a report during a run,
// or after a crash, sees every finished cell.
//
// Order of the fold: the new `<file>` is renamed in first, the entries deleted
// after. A reader lists and opens the entries before it opens `<file>`: an entry
// gone by then is in the `<file>` it opens.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace ep::runner {

struct JournalEntry {
  uint64_t seq = 0;
  std::filesystem::path path;
  uintmax_t bytes = 0;
};

std::filesystem::path journal_folder(const std::filesystem::path& file);  // <file>.journal
std::filesystem::path journal_entry_path(const std::filesystem::path& file, uint64_t seq);

// The published entries of `file`'s journal, by seq (none when there is no journal).
// Temporaries and other names are ignored.
std::vector<JournalEntry> list_journal(const std::filesystem::path& file);

}  // namespace ep::runner
