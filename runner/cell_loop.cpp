// The cell loop on every rank (see cell_loop.h for the picture).
//
// Built only with the model layer: ep_distributed (MPI) exists exactly when it does.
#ifdef EPRUNNER_WITH_MODELS

#include "runner/cell_loop.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>

#include <spdlog/spdlog.h>

#include "core/util/error.h"
#include "core/util/host.h"
#include "distributed/control.h"
#include "distributed/mpi_env.h"
#include "distributed/work_queue.h"
#include "runner/cell_codec.h"
#include "runner/progress.h"
#include "runner/results_guard.h"

namespace ep::runner {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The node names of all ranks, deduplicated, on rank 0 ("n1,n2").
std::string gather_hosts(MPI_Comm world) {
  const std::vector<std::string> all = dist::gather_strings(world, hostname());
  const std::set<std::string> hosts(all.begin(), all.end());
  std::string out;
  for (const auto& x : hosts) out += (out.empty() ? "" : ",") + x;
  return out;
}

std::string describe_group(const GroupContext& ctx, const GroupLayout& layout) {
  const int first = layout.leader_of(ctx.group_index);
  if (ctx.group_size == 1) return fmt::format("group {}: rank {} on {}", ctx.group_index, first, hostname());
  return fmt::format("group {}: ranks {}-{} (leader on {})", ctx.group_index, first, first + ctx.group_size - 1,
                     hostname());
}

// Runs the executor on every rank of the group; any rank's exception makes the
// cell an error cell (agreed with an all-reduce so the whole group moves on
// together). The cell's identity is filled here, once; `ran_on` is the group and
// what the executor says it ran on (device, backend).
CellResult execute_cell(const grid::Grid& grid, const Cell& cell, const GroupContext& ctx,
                        const GroupLayout& layout, const CellExecutor& execute) {
  const auto start = Clock::now();
  CellResult r;
  std::string error;
  try {
    r = execute(grid, cell, ctx);
  } catch (const std::exception& e) {
    error = e.what();
    spdlog::error("cell {} failed: {}", cell.name, error);
  }
  if (dist::any_rank(ctx.group, !error.empty())) {
    r = CellResult{};
    r.status = CellStatus::Error;
    r.error = error.empty() ? "another rank of the group failed (see its log)" : error;
  }
  r.index = cell.index;
  r.name = cell.name;
  r.model = grid.models[cell.model].name;
  r.task = grid.tasks[cell.task].name;
  r.fingerprint = cell.fingerprint;
  r.ran_on = describe_group(ctx, layout) + (r.ran_on.empty() ? "" : ", " + r.ran_on);
  if (!r.timings.count("total")) r.timings["total"] = seconds_since(start);
  return r;
}

bool stop_requested(const std::atomic<bool>* stop) { return stop && stop->load(); }

// Stop requested (LoopOptions::stop): take every cell still queued and hand it
// back unstarted (an empty result), until the queue says "no more". The other
// groups then hear "no more" at their next request, so the whole run winds down
// at cell boundaries without a world-wide collective.
void abandon_queue(dist::WorkQueueClient& client) {
  int n = 0;
  while (auto id = client.next(-1)) {
    client.submit(*id, {});
    ++n;
  }
  if (n > 0) spdlog::warn("stop requested: {} queued cell(s) not started; rerun to compute them", n);
}

// A group's life: the leader asks for cells, tells the members, everyone runs the
// executor, the leader sends the result to rank 0. Ends when the queue is empty,
// or at a cell boundary after a stop request seen by any rank of the group.
void run_group(const grid::Grid& grid, const std::vector<Cell>& cells, const GroupContext& ctx,
               const GroupLayout& layout, const CellExecutor& execute, MPI_Comm queue_comm,
               const std::atomic<bool>* stop) {
  dist::WorkQueueClient client(queue_comm);
  int held_model = -1;
  for (;;) {
    // Cell boundary: does any rank of the group want to stop? (A signal may reach
    // only some ranks; the group must still leave together.)
    const bool stop_any = dist::any_rank(ctx.group, stop_requested(stop));
    int64_t id = -1;
    if (ctx.group_rank == 0) {
      if (stop_any)
        abandon_queue(client);  // id stays -1: the members leave with the leader
      else
        id = client.next(held_model).value_or(-1);
    }
    id = dist::broadcast_int(ctx.group, id);
    if (id < 0) return;
    const Cell& cell = cells.at(static_cast<size_t>(id));
    if (ctx.group_rank == 0) spdlog::info("cell {} ({}) starts on {}", cell.name, cell.index, describe_group(ctx, layout));
    CellResult result = execute_cell(grid, cell, ctx, layout, execute);
    held_model = cell.model;
    if (ctx.group_rank == 0) client.submit(cell.index, encode_cell(result));
  }
}

// The cells a rerun skips, from a file read guarded and in full (every checksum
// checked) before the writer trusts it; a damaged cell stops the run before any
// cell is computed, with the way out.
std::map<std::string, std::string> finished_cells(const std::filesystem::path& file) {
  GuardOptions check;
  check.check_only = true;
  auto snapshot = read_results_guarded(file, ReadDepth::Everything, check);
  EP_CHECK(snapshot->damaged.empty(),
           "the results file '{}' is damaged ({}); `eprunner merge NEW.h5 {}` copies its good cells into a new file "
           "(then rerun with --out NEW.h5 to compute the rest), or --restart sets it aside and starts over",
           file.string(), describe_damage(*snapshot), file.string());
  return snapshot->finished();
}

// World rank 0's part before any cell runs: what is left to do, and the writer.
struct Rank0Setup {
  std::vector<Cell> todo;
  std::unique_ptr<ResultsWriter> writer;
};

Rank0Setup prepare_rank0(const grid::Grid& grid, const std::vector<Cell>& cells, const LoopOptions& opts,
                         const Provenance& provenance) {
  Rank0Setup s;
  std::map<std::string, std::string> finished;
  if (!opts.restart && std::filesystem::exists(grid.output)) finished = finished_cells(grid.output);
  std::vector<std::string> changed;
  s.todo = cells_to_run(cells, finished, opts.restart, &changed);
  if (opts.only_cell) {  // `run --cell I`: the rest of the grid is not this run's business
    const int only = *opts.only_cell;
    EP_CHECK(only >= 0 && only < static_cast<int>(cells.size()), "--cell {}: the grid has cells 0..{}", only,
             cells.size() - 1);
    std::vector<Cell> one;
    for (const Cell& c : s.todo)
      if (c.index == only) one.push_back(c);
    if (one.empty()) spdlog::info("cell {} ({}) is finished in {}", only, cells[only].name, grid.output.string());
    s.todo = std::move(one);
  }
  for (const auto& name : changed)
    spdlog::warn("cell {} is in {} but its settings changed since; computing it again", name,
                 grid.output.string());
  if (!opts.only_cell)
    spdlog::info("{} cells: {} finished earlier, {} to run; results in {}", cells.size(),
                 cells.size() - s.todo.size(), s.todo.size(), grid.output.string());
  s.writer = open_results_h5(grid.output, provenance, opts.restart);
  return s;
}

}  // namespace

LoopSummary run_cells(const grid::Grid& grid, MPI_Comm world, const CellExecutor& execute, const LoopOptions& opts) {
  const int world_rank = dist::comm_rank(world);
  const int world_size = dist::comm_size(world);
  if (int level = 0; world_size > 1 && !dist::thread_multiple(&level))
    EP_FAIL("MPI gives thread level {}, the cell queue needs MPI_THREAD_MULTIPLE (rank 0 serves it from a thread); "
            "use an MPI built with thread support", level);
  std::vector<std::string> notes;
  const GroupLayout layout = plan_groups(world_size, grid.layout.ranks_per_cell, &notes);
  if (world_rank == 0)
    for (const auto& n : notes) spdlog::warn("{}", n);
  const std::vector<Cell> cells = make_cells(grid);
  dist::MpiComm group = dist::split_comm(world, layout.group_of(world_rank), world_rank);
  dist::MpiComm queue = dist::dup_comm(world);

  Provenance provenance = opts.provenance;
  provenance.world_size = world_size;
  provenance.hosts = gather_hosts(world);
  if (provenance.started_at.empty()) provenance.started_at = utc_now();

  // Rank 0 sets up; if that fails every rank must hear it, or they would wait for
  // cells forever.
  LoopSummary summary;
  summary.cells = opts.only_cell ? 1 : static_cast<int>(cells.size());
  Rank0Setup setup;
  std::string failure;
  if (world_rank == 0) {
    try {
      setup = prepare_rank0(grid, cells, opts, provenance);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  failure = dist::broadcast_string(world, failure);
  EP_CHECK(failure.empty(), "{}", failure);

  std::unique_ptr<Progress> progress;
  std::unique_ptr<dist::WorkQueueServer> server;
  if (world_rank == 0) {
    summary.skipped = summary.cells - static_cast<int>(setup.todo.size());
    progress = std::make_unique<Progress>(static_cast<int>(setup.todo.size()), stderr_is_terminal());
    std::vector<dist::WorkItem> items;
    for (const Cell& c : setup.todo) items.push_back({c.index, c.model});
    ResultsWriter* writer = setup.writer.get();
    Progress* prog = progress.get();
    server = std::make_unique<dist::WorkQueueServer>(
        queue.get(), std::move(items), layout.n_groups, [writer, prog, &summary](int, std::vector<uint8_t> bytes) {
          if (bytes.empty()) {  // handed back unstarted after a stop request (abandon_queue)
            ++summary.interrupted;
            return;
          }
          CellResult c = decode_cell(bytes);
          writer->write_cell(c);
          (c.status == CellStatus::Done ? summary.done : summary.failed)++;
          prog->cell_done(c.name, c.status == CellStatus::Done, c.examples, c.timings.count("total") ? c.timings["total"] : 0);
        });
  }

  if (layout.group_of(world_rank) >= 0) {
    GroupContext ctx;
    ctx.world = world;
    ctx.group = group.get();
    ctx.world_rank = world_rank;
    ctx.world_size = world_size;
    ctx.group_index = layout.group_of(world_rank);
    ctx.n_groups = layout.n_groups;
    ctx.group_rank = layout.rank_in_group(world_rank);
    ctx.group_size = layout.ranks_per_cell;
    ctx.progress = progress.get();
    run_group(grid, cells, ctx, layout, execute, queue.get(), opts.stop);
  }

  if (world_rank == 0) {
    try {
      server->wait();
      setup.writer->finish(utc_now());
      progress->close();
      if (summary.interrupted > 0)
        spdlog::warn("run stopped on request: {} done, {} failed, {} skipped, {} not started (rerun to continue); "
                     "results in {}", summary.done, summary.failed, summary.skipped, summary.interrupted,
                     grid.output.string());
      else
        spdlog::info("run finished: {} done, {} failed, {} skipped; results in {}", summary.done, summary.failed,
                     summary.skipped, grid.output.string());
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  dist::barrier(world);
  failure = dist::broadcast_string(world, failure);
  EP_CHECK(failure.empty(), "results could not be saved: {}", failure);
  const std::vector<int64_t> counts = dist::broadcast_ints(
      world, {summary.cells, summary.skipped, summary.done, summary.failed, summary.interrupted});
  return {static_cast<int>(counts[0]), static_cast<int>(counts[1]), static_cast<int>(counts[2]),
          static_cast<int>(counts[3]), static_cast<int>(counts[4])};
}

}  // namespace ep::runner

#endif  // EPRUNNER_WITH_MODELS
