// `eprunner merge OUT.h5 [CELL_FILES...] [--from DIR] [--grid grid.toml]`: copies the
// cells of other results files (the cell files of a Slurm array, `eprunner run
// --cell I --out cell_I.h5`) into OUT through the ordinary writer, so OUT is as
// crash-safe as during a run (one copy + rename per cell; results_h5.cpp).
//
//   - a cell OUT already holds as "done" with the same fingerprint is skipped;
//   - with --grid, only cells of that grid with its current fingerprint are taken,
//     and the exit status is 1 while any grid cell is not done in OUT (each named);
//   - a "done" copy wins over an "error" one when several files hold a cell.
//
// Damage: every file is read guarded (results_guard.h). A damaged cell of a source
// is skipped and named, the good ones are copied, and the exit status is 1; a file
// that cannot be read at all likewise. `eprunner merge NEW.h5 DAMAGED.h5` is how a
// damaged results file is salvaged; `eprunner merge OUT` alone folds a journal a
// crashed run left (results_journal.h).
//
// Provenance: every source run that computed a copied cell becomes a run of OUT
// (/runs/<k> with that run's hosts, command line, versions, start and end), and the
// cell's `run` points to it; a last run records the merge itself (the root
// attributes). Only `written_at` is new: it says when the cell entered OUT.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "core/util/error.h"
#include "core/util/host.h"
#include "runner/commands.h"
#include "runner/grid.h"
#include "runner/provenance.h"
#include "runner/results_guard.h"
#include "runner/results_journal.h"
#include "runner/schedule.h"

namespace ep::cli {
namespace {

namespace fs = std::filesystem;
using runner::CellSummary;
using runner::Provenance;

struct MergeArgs {
  std::string out;
  std::vector<std::string> files;
  std::string from;
  std::string grid;
};

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::exists(a) && fs::exists(b) && fs::equivalent(a, b, ec);
}

std::vector<fs::path> source_files(const MergeArgs& a, const fs::path& out) {
  std::vector<fs::path> files;
  for (const auto& f : a.files) {
    EP_CHECK(fs::is_regular_file(f), "cell file '{}' does not exist", f);
    files.emplace_back(f);
  }
  if (!a.from.empty()) {
    EP_CHECK(fs::is_directory(a.from), "--from '{}' is not a folder", a.from);
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(a.from))
      if (e.is_regular_file() && e.path().extension() == ".h5") found.push_back(e.path());
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  files.erase(std::remove_if(files.begin(), files.end(), [&](const fs::path& f) { return same_file(f, out); }),
              files.end());
  return files;
}

// A cell chosen for copying, and where it comes from.
struct Pick {
  fs::path file;
  CellSummary cell;
  int grid_index = -1;  // its index in --grid, when given
};

// The source files' cells, read guarded (results_guard.h). A file that cannot be
// read at all, and every damaged cell, is named on stderr and counted.
struct Sources {
  std::vector<std::unique_ptr<runner::ResultsSnapshot>> listed;  // Summaries, one per readable file
  int unreadable_files = 0;
  int damaged_cells = 0;
};

Sources list_sources(const std::vector<fs::path>& files) {
  Sources s;
  for (const auto& file : files) {
    try {
      auto snap = runner::read_results_guarded(file, runner::ReadDepth::Summaries);
      for (const auto& d : snap->damaged) {
        std::cerr << fmt::format("merge: skipping cell '{}' of {}: {}\n", d.name, file.string(), d.why);
        ++s.damaged_cells;
      }
      s.listed.push_back(std::move(snap));
    } catch (const std::exception& e) {
      std::cerr << "merge: skipping " << file.string() << ": " << e.what() << "\n";
      ++s.unreadable_files;
    }
  }
  return s;
}

int run_merge(const MergeArgs& a, const std::vector<std::string>& argv) {
  const fs::path out = fs::absolute(a.out);
  std::optional<grid::Grid> g;
  std::map<std::string, runner::Cell> grid_cells;  // by name
  if (!a.grid.empty()) {
    g = grid::load(a.grid);
    for (const auto& c : runner::make_cells(*g)) grid_cells[c.name] = c;
  }
  const std::vector<fs::path> files = source_files(a, out);

  // What OUT holds now. A damaged OUT is not merged into: the writer would copy its
  // damaged groups along. Merging it as a source into a new file salvages it.
  std::map<std::string, CellSummary> in_out;
  if (fs::exists(out)) {
    auto snap = runner::read_results_guarded(out, runner::ReadDepth::Everything, {0, {}, /*check_only=*/true});
    EP_CHECK(snap->damaged.empty(),
             "'{}' is damaged ({}); merge it and the other files into a new file instead (`eprunner merge NEW.h5 {} "
             "...`): its good cells are copied, the damaged ones named", out.string(), runner::describe_damage(*snap),
             out.string());
    for (const auto& c : snap->listed) in_out[c.name] = c;
  }

  // Choose one copy per cell: the grid's settings only (with --grid), done over error.
  Sources sources = list_sources(files);
  std::map<std::string, Pick> picks;
  int foreign = 0;
  for (const auto& snap : sources.listed) {
    for (const auto& c : snap->listed) {
      int index = -1;
      if (g) {
        auto it = grid_cells.find(c.name);
        if (it == grid_cells.end() || it->second.fingerprint != c.fingerprint) {
          std::cerr << fmt::format("merge: {} in {} is {} this grid; skipped\n", c.name, snap->file.string(),
                                   it == grid_cells.end() ? "not a cell of" : "from other settings than");
          ++foreign;
          continue;
        }
        index = it->second.index;
      }
      auto have = picks.find(c.name);
      if (have == picks.end() ||
          (have->second.cell.status != runner::CellStatus::Done && c.status == runner::CellStatus::Done))
        picks[c.name] = Pick{snap->file, c, index};
    }
  }

  // Drop what OUT already holds: done with the same fingerprint.
  int already = 0;
  std::map<fs::path, std::map<int64_t, std::vector<Pick>>> by_file;  // file -> run k -> cells
  for (const auto& [name, p] : picks) {
    auto it = in_out.find(name);
    if (it != in_out.end() && it->second.status == runner::CellStatus::Done) {
      if (it->second.fingerprint == p.cell.fingerprint) {
        ++already;
        continue;
      }
      if (p.cell.status != runner::CellStatus::Done) {  // a failure does not replace a result, even one from other settings
        std::cerr << fmt::format("merge: {} failed in {}; keeping the result {} holds\n", name, p.file.string(),
                                 out.string());
        continue;
      }
    }
    by_file[p.file][p.cell.run].push_back(p);
  }

  // Copy: one writer; one run of OUT per source run, so the cells keep pointing at
  // the run that computed them; the merge itself is the last run.
  std::unique_ptr<runner::ResultsWriter> writer;
  auto start_run = [&](const Provenance& prov) {
    if (!writer)
      writer = runner::open_results_h5(out, prov, false);
    else
      writer->begin_run(prov);
  };
  int copied = 0, damaged = sources.damaged_cells;
  std::string last_grid_text, last_grid_path;
  for (const auto& [file, runs] : by_file) {
    runner::GuardOptions only;
    for (const auto& [run, cells] : runs)
      for (const auto& p : cells) only.only.insert(p.cell.name);
    auto reader = runner::read_results_guarded(file, runner::ReadDepth::Everything, only);
    for (const auto& d : reader->damaged) {
      std::cerr << fmt::format("merge: skipping cell '{}' of {}: {}\n", d.name, file.string(), d.why);
      ++damaged;
    }
    for (const auto& [run, cells] : runs) {
      bool started = false;
      for (const auto& p : cells) {
        if (!reader->data.count(p.cell.name)) continue;  // damaged: named above
        if (!started) {
          Provenance prov = reader->run_provenance(run);
          last_grid_text = prov.grid_text;
          last_grid_path = prov.grid_path;
          if (prov.ended_at.empty()) prov.ended_at = runner::utc_now();
          start_run(prov);
          started = true;
        }
        runner::CellResult c = reader->read_cell(p.cell.name);
        if (p.grid_index >= 0) c.index = p.grid_index;
        writer->write_cell(c);
        ++copied;
        std::cout << fmt::format("merge: {} ({}) from {}\n", c.name, name_of(c.status), file.string());
      }
    }
  }
  const bool journal_left = !runner::list_journal(out).empty();  // a crashed run's: fold it in
  if (copied > 0 || journal_left) {  // the merge itself, as the latest run (root attributes)
    grid::Grid for_prov;
    if (g) {
      for_prov = *g;
    } else {
      for_prov.text = last_grid_text;
      for_prov.source = last_grid_path;
    }
    std::vector<const char*> cargv;
    for (const auto& s : argv) cargv.push_back(s.c_str());
    Provenance prov = runner::make_provenance(for_prov, static_cast<int>(cargv.size()), cargv.data(),
                                              fmt::format("merge of {} cell(s) from {} file(s)", copied, files.size()));
    prov.hosts = hostname();
    start_run(prov);
    writer->finish(runner::utc_now());
    writer.reset();
  }
  std::cout << fmt::format("merge: {} cell(s) copied into {} from {} file(s); {} already there{}{}{}\n", copied,
                           out.string(), files.size(), already,
                           foreign ? fmt::format(", {} from other settings skipped", foreign) : "",
                           sources.unreadable_files ? fmt::format(", {} unreadable file(s)", sources.unreadable_files)
                                                    : "",
                           damaged ? fmt::format(", {} damaged cell(s) skipped", damaged) : "");

  int missing = 0;
  if (g) {
    std::map<std::string, CellSummary> now;
    if (fs::exists(out))
      for (const auto& c : runner::read_results_guarded(out, runner::ReadDepth::Summaries)->cells()) now[c.name] = c;
    for (const auto& [name, cell] : grid_cells) {
      auto it = now.find(name);
      if (it != now.end() && it->second.status == runner::CellStatus::Done && it->second.fingerprint == cell.fingerprint) continue;
      ++missing;
      std::cout << fmt::format("merge: cell {} ({}) is not done: {}\n", cell.index, name,
                               it == now.end() ? "no result yet"
                               : it->second.status != runner::CellStatus::Done ? "failed: " + it->second.error
                                                             : "computed with other settings");
    }
    std::cout << fmt::format("merge: {} of {} grid cells done in {}\n", grid_cells.size() - missing,
                             grid_cells.size(), out.string());
  }
  return missing > 0 || sources.unreadable_files > 0 || damaged > 0 ? 1 : 0;
}

}  // namespace

void add_merge_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("merge", "Copy the cells of other results files (e.g. Slurm array cell files) into one");
  auto a = std::make_shared<MergeArgs>();
  cmd->add_option("out", a->out, "the results file to merge into (created if missing; alone: fold its journal)")->required();
  cmd->add_option("files", a->files, "results files to take cells from");
  cmd->add_option("--from", a->from, "also every *.h5 file in this folder");
  cmd->add_option("--grid", a->grid, "take only this grid's cells (current settings); exit 1 while any is not done")
      ->check(CLI::ExistingFile);
  cmd->callback([a] {
    std::vector<std::string> argv = {"eprunner", "merge", a->out};
    for (const auto& f : a->files) argv.push_back(f);
    if (!a->from.empty()) argv.insert(argv.end(), {"--from", a->from});
    if (!a->grid.empty()) argv.insert(argv.end(), {"--grid", a->grid});
    const int rc = run_merge(*a, argv);
    if (rc != 0) throw ExitCode(rc);
  });
}

}  // namespace ep::cli
