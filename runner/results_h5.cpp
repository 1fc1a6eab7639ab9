// The HDF5 results writer (layout: docs/results-format.md).
//
// Crash safety by copy-and-rename: the published file is never opened for
// writing. Each change (a finished cell, the end of a run) is made to a private
// copy, `<file>.tmp`, which is flushed, closed and fsync'ed, then renamed over
// `<file>`. rename(2) is atomic, so at every instant `<file>` is either the old
// complete file or the new complete file; a kill mid-write leaves only a stale
// .tmp, which the next run deletes. The price is one file copy per cell, which is
// small next to a cell's compute.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "core/util/error.h"
#include "runner/h5_util.h"
#include "runner/results_file.h"

namespace ep::runner {
namespace {

namespace fs = std::filesystem;

// fsync a file or folder by path; a rename is durable only once its folder is.
void fsync_path(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  EP_CHECK(fd >= 0, "cannot open '{}' to sync it: {}", path.string(), std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems refuse fsync on folders (EINVAL); the data is synced anyway.
  EP_CHECK(rc == 0 || (directory && err == EINVAL), "fsync '{}' failed: {}", path.string(), std::strerror(err));
}

void write_split(hid_t parent, const std::string& name, const SplitResult& s) {
  h5::Handle g = h5::create_group(parent, name);
  h5::write_attr(g, "metric", s.metric);
  h5::write_attr(g, "accuracy", s.accuracy);
  h5::write_attr(g, "loss", s.loss);
  h5::write_attr(g, "macro_f1", s.macro_f1);
  h5::write_attr(g, "n", s.n);
  h5::write_vector(g, "predicted", s.predicted);
  h5::write_vector(g, "correct", s.correct);
}

void write_evaluation(hid_t parent, const std::string& name, const Evaluation& e) {
  h5::Handle g = h5::create_group(parent, name);
  write_split(g, "test", e.test);
  write_split(g, "validation", e.validation);
}

void write_pruned(hid_t parent, size_t i, const PrunedResult& r) {
  h5::Handle g = h5::create_group(parent, std::to_string(i));
  h5::write_attr(g, "p", r.p);
  h5::write_attr(g, "n_frozen", r.n_frozen);
  write_split(g, "test", r.eval.test);
  write_split(g, "validation", r.eval.validation);
  h5::Handle masks = h5::create_group(g, "masks");
  for (const auto& [matrix, mask] : r.masks) h5::write_array(masks, matrix, mask);
}

void write_scores(hid_t parent, const std::map<std::string, MatrixScores>& scores) {
  h5::Handle g = h5::create_group(parent, "scores");
  for (const auto& [matrix, s] : scores) {
    h5::Handle m = h5::create_group(g, matrix);
    h5::write_array(m, "delta_loss", s.delta_loss);
    h5::write_array(m, "singular_values", s.singular_values);
    h5::write_array(m, "activation_mean", s.activation_mean);
    h5::write_array(m, "position_count", s.position_count);
  }
}

void write_cell_group(hid_t cells, const CellResult& c, int64_t run) {
  // A cell written again (an earlier error, or --restart) replaces the old group.
  if (h5::exists(cells, c.name)) h5::remove(cells, c.name);
  h5::Handle g = h5::create_group(cells, c.name);
  h5::write_attr(g, "index", static_cast<int64_t>(c.index));
  h5::write_attr(g, "name", c.name);
  h5::write_attr(g, "model", c.model);
  h5::write_attr(g, "task", c.task);
  h5::write_attr(g, "fingerprint", c.fingerprint);
  h5::write_attr(g, "error", c.error);
  h5::write_attr(g, "ran_on", c.ran_on);
  h5::write_attr(g, "run", run);
  h5::write_attr(g, "examples", c.examples);
  h5::write_attr(g, "written_at", utc_now());

  h5::Handle ex = h5::create_group(g, "examples");
  h5::write_vector(ex, "test_ids", c.test_ids);
  h5::write_vector(ex, "test_targets", c.test_targets);
  h5::write_vector(ex, "validation_ids", c.validation_ids);
  h5::write_vector(ex, "validation_targets", c.validation_targets);

  write_evaluation(g, "base", c.base);
  std::vector<double> ps;
  h5::Handle pruned = h5::create_group(g, "pruned");
  for (size_t i = 0; i < c.pruned.size(); ++i) {
    write_pruned(pruned, i, c.pruned[i]);
    ps.push_back(c.pruned[i].p);
  }
  h5::write_vector(g, "p", ps);
  write_scores(g, c.scores);
  h5::write_vector(g, "finetune_loss", c.finetune_loss);

  h5::Handle timings = h5::create_group(g, "timings");
  for (const auto& [stage, seconds] : c.timings) h5::write_attr(timings, stage, seconds);
  // Last, so a reader that sees `status` sees a whole cell (belt and braces: the
  // rename already guarantees it).
  h5::write_attr(g, "status", std::string(name_of(c.status)));
}

void write_provenance(hid_t obj, const Provenance& p) {
  h5::write_attr(obj, "grid", p.grid_text);
  h5::write_attr(obj, "grid_path", p.grid_path);
  h5::write_attr(obj, "eprunner_version", p.eprunner_version);
  h5::write_attr(obj, "git_commit", p.git_commit);
  h5::write_attr(obj, "command_line", p.command_line);
  h5::write_attr(obj, "world_size", static_cast<int64_t>(p.world_size));
  h5::write_attr(obj, "devices", p.devices);
  h5::write_attr(obj, "hosts", p.hosts);
  h5::write_attr(obj, "torch_version", p.torch_version);
  h5::write_attr(obj, "mpi_version", p.mpi_version);
  h5::write_attr(obj, "hdf5_version", p.hdf5_version);
  h5::write_attr(obj, "started_at", p.started_at);
  h5::write_attr(obj, "ended_at", p.ended_at);
}

std::string hdf5_version() {
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  return fmt::format("{}.{}.{}", maj, min, rel);
}

// --restart: the old results go to <file>.bak (or .bak.1, .bak.2, ...: an earlier
// backup is never overwritten), and only when the file is an eprunner results file
// (an `output` naming the grid itself must not make the grid a backup).
void move_aside(const fs::path& file) {
  try {
    open_results_reader(file);
  } catch (const std::exception& e) {
    EP_FAIL("--restart: '{}' is not an eprunner results file, so it is left alone ({}); give the grid another output",
            file.string(), e.what());
  }
  fs::path backup = file.string() + ".bak";
  for (int k = 1; fs::exists(backup); ++k) backup = file.string() + ".bak." + std::to_string(k);
  fs::rename(file, backup);
}

class H5ResultsWriter : public ResultsWriter {
 public:
  H5ResultsWriter(const fs::path& file, Provenance provenance, bool restart)
      : file_(fs::absolute(file)), tmp_(file_.string() + ".tmp"), prov_(std::move(provenance)) {
    prov_.hdf5_version = hdf5_version();
    if (!file_.parent_path().empty()) fs::create_directories(file_.parent_path());
    fs::remove(tmp_);  // a crashed run's half-written copy
    if (restart && fs::exists(file_)) move_aside(file_);
    publish([&](hid_t f) { start_run(f); });
  }

  void write_cell(const CellResult& cell) override {
    publish([&](hid_t f) {
      h5::Handle cells = h5::open_group(f, "cells");
      write_cell_group(cells, cell, run_);
      h5::write_attr(f, "updated_at", utc_now());
    });
  }

  void finish(const std::string& ended_at) override {
    prov_.ended_at = ended_at;
    publish([&](hid_t f) {
      h5::write_attr(f, "ended_at", ended_at);
      h5::Handle run = h5::open_group(f, "runs/" + std::to_string(run_));
      h5::write_attr(run, "ended_at", ended_at);
    });
  }

 private:
  // Root attributes describe the latest run; /runs/<k> keeps every run's, so a
  // file resumed on another machine still says where each cell came from.
  void start_run(hid_t f) {
    if (!h5::has_attr(f, "format")) {
      h5::write_attr(f, "format", std::string(h5::kFormat));
      h5::write_attr(f, "format_version", h5::kFormatVersion);
      h5::write_attr(f, "created_at", utc_now());
      h5::create_group(f, "cells");
      h5::create_group(f, "runs");
    }
    EP_CHECK(h5::read_string_attr(f, "format") == h5::kFormat,
             "'{}' is an HDF5 file but not an eprunner results file; choose another output or remove it",
             file_.string());
    // Checked here, when the run opens the file, not when the first cell is saved after
    // it has been computed.
    EP_CHECK(h5::exists(f, "cells") && h5::exists(f, "runs"),
             "'{}' is an eprunner results file without its /cells or /runs group (damaged); move it aside "
             "(or run with --restart) and rerun", file_.string());
    h5::Handle runs = h5::open_group(f, "runs");
    run_ = static_cast<int64_t>(h5::children(runs).size());
    write_provenance(f, prov_);
    h5::write_attr(f, "updated_at", utc_now());
    h5::Handle run = h5::create_group(runs, std::to_string(run_));
    write_provenance(run, prov_);
  }

  template <class Edit>
  void publish(Edit&& edit) {
    try {
      publish_unchecked(edit);
    } catch (const fs::filesystem_error& e) {
      EP_FAIL("results file '{}': {}", file_.string(), e.what());
    }
  }

  template <class Edit>
  void publish_unchecked(Edit& edit) {
    {
      h5::Handle f;
      if (fs::exists(file_)) {
        fs::copy_file(file_, tmp_, fs::copy_options::overwrite_existing);
        f = h5::open_file(tmp_, true);
      } else {
        f = h5::create_file(tmp_);
      }
      edit(f.get());
      if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) h5::fail(fmt::format("flushing '{}'", tmp_.string()));
    }  // closed here: HDF5 writes its last metadata on close
    fsync_path(tmp_, false);
    fs::rename(tmp_, file_);
    fsync_path(file_.parent_path(), true);
  }

  fs::path file_;
  fs::path tmp_;
  Provenance prov_;
  int64_t run_ = 0;
};

}  // namespace

std::unique_ptr<ResultsWriter> open_results_h5(const fs::path& file, const Provenance& provenance, bool restart) {
  try {
    return std::make_unique<H5ResultsWriter>(file, provenance, restart);
  } catch (const fs::filesystem_error& e) {  // create_directories, rename to .bak
    EP_FAIL("results file '{}': {}", file.string(), e.what());
  }
}

}  // namespace ep::runner
