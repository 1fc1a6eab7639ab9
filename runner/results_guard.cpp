// read_results_guarded: a child process reads, the parent listens with a clock.
//
// The child speaks in frames on a pipe: [kind u8][length u64][payload]. It sends the
// header (root provenance, runs, cell names), then per cell a Begin frame before
// touching it and a Cell (or Failed) frame after, then Done. The parent waits for
// each frame at most the time limit. When the child dies or is too slow, the cell
// it had begun is damaged and a fresh child resumes after it.
#include "runner/results_guard.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "core/util/error.h"
#include "distributed/bytes.h"
#include "runner/cell_codec.h"

namespace ep::runner {

namespace fs = std::filesystem;

namespace {

enum class Frame : uint8_t { Header = 1, Begin, Cell, Failed, Done };

double default_seconds() {
  if (const char* v = std::getenv("EPRUNNER_READ_TIMEOUT")) {
    char* end = nullptr;
    const double s = std::strtod(v, &end);
    if (end != v && *end == '\0' && s > 0) return s;
  }
  return 120;
}

// --- Wire format of what the child sends --------------------------------------

void put_provenance(dist::Writer& w, const Provenance& p) {
  for (const auto* s : {&p.grid_text, &p.grid_path, &p.eprunner_version, &p.git_commit, &p.command_line, &p.devices,
                        &p.hosts, &p.torch_version, &p.mpi_version, &p.hdf5_version, &p.started_at, &p.ended_at})
    w.str(*s);
  w.pod<int64_t>(p.world_size);
}

Provenance take_provenance(dist::Reader& r) {
  Provenance p;
  for (auto* s : {&p.grid_text, &p.grid_path, &p.eprunner_version, &p.git_commit, &p.command_line, &p.devices,
                  &p.hosts, &p.torch_version, &p.mpi_version, &p.hdf5_version, &p.started_at, &p.ended_at})
    *s = r.str();
  p.world_size = static_cast<int>(r.pod<int64_t>());
  return p;
}

void put_summary(dist::Writer& w, const CellSummary& c) {
  w.pod<int64_t>(c.index);
  for (const auto* s : {&c.name, &c.model, &c.task, &c.fingerprint, &c.error}) w.str(*s);
  w.pod<uint8_t>(c.status == CellStatus::Done ? 1 : 0);
  w.pod<int64_t>(c.run);
  w.pod<uint8_t>(c.has_results ? 1 : 0);
}

CellSummary take_summary(dist::Reader& r) {
  CellSummary c;
  c.index = static_cast<int>(r.pod<int64_t>());
  for (auto* s : {&c.name, &c.model, &c.task, &c.fingerprint, &c.error}) *s = r.str();
  c.status = r.pod<uint8_t>() ? CellStatus::Done : CellStatus::Error;
  c.run = r.pod<int64_t>();
  c.has_results = r.pod<uint8_t>() != 0;
  return c;
}

// --- The child ----------------------------------------------------------------

void send(int fd, Frame kind, const std::vector<uint8_t>& payload) {
  dist::Writer w;
  w.pod(kind);
  w.pod<uint64_t>(payload.size());
  w.bytes.insert(w.bytes.end(), payload.begin(), payload.end());
  size_t done = 0;
  while (done < w.bytes.size()) {
    const ssize_t n = ::write(fd, w.bytes.data() + done, w.bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ::_exit(3);  // the parent is gone or gave up on us
    done += static_cast<size_t>(n);
  }
}

std::vector<uint8_t> text(const std::string& s) { return {s.begin(), s.end()}; }

// For the tests of this file only: EPRUNNER_TEST_READ_FAULT = "crash:<cell>" or
// "hang:<cell>" makes the child behave as libhdf5 does on some damaged files when it
// reaches that cell (a crash or hang cannot be produced on demand otherwise).
void injected_fault(const std::string& cell) {
  const char* v = std::getenv("EPRUNNER_TEST_READ_FAULT");
  if (!v) return;
  const std::string fault = v;
  if (fault == "crash:" + cell) ::raise(SIGSEGV);
  if (fault == "hang:" + cell)
    for (;;) ::pause();
}

// At ReadDepth::Metrics a cell with comparisons comes back whole: the report's methods
// table tests each method against base with McNemar, on the per-example results.
bool read_whole_at_metrics(const CellResult& c) { return !c.methods.empty(); }

// Reads cells[first...] of `file`; never returns.
[[noreturn]] void child_main(int fd, const fs::path& file, ReadDepth depth, const GuardOptions& options,
                             size_t first) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the parent
  try {
    auto reader = open_results_reader(file);
    const std::vector<std::string> names = reader->cell_names();
    dist::Writer header;
    put_provenance(header, reader->provenance());
    const auto runs = reader->runs();
    header.pod<uint64_t>(runs.size());
    for (const auto& [k, p] : runs) {
      header.pod<int64_t>(k);
      put_provenance(header, p);
    }
    header.pod<uint64_t>(names.size());
    for (const auto& n : names) header.str(n);
    send(fd, Frame::Header, header.bytes);

    for (size_t i = first; i < names.size(); ++i) {
      const std::string& name = names[i];
      dist::Writer begin;
      begin.pod<uint64_t>(i);
      send(fd, Frame::Begin, begin.bytes);
      injected_fault(name);
      try {
        dist::Writer w;
        put_summary(w, reader->summary(name));
        const bool deep = depth != ReadDepth::Summaries && (options.only.empty() || options.only.count(name));
        if (deep) {
          CellResult c = depth == ReadDepth::Everything ? reader->read_cell(name) : reader->read_metrics(name);
          if (depth == ReadDepth::Metrics && read_whole_at_metrics(c)) c = reader->read_cell(name);
          w.pod<uint8_t>(options.check_only ? 0 : 1);
          if (!options.check_only) w.vec(encode_cell(c));
        } else {
          w.pod<uint8_t>(0);
        }
        send(fd, Frame::Cell, w.bytes);
      } catch (const std::bad_alloc&) {
        send(fd, Frame::Failed, text("a stored size is too large to read (the file is damaged)"));
      } catch (const std::exception& e) {
        send(fd, Frame::Failed, text(e.what()));
      }
    }
    send(fd, Frame::Done, {});
  } catch (const std::bad_alloc&) {
    send(fd, Frame::Failed, text("a stored size is too large to read (the file is damaged)"));
  } catch (const std::exception& e) {
    send(fd, Frame::Failed, text(e.what()));
  }
  ::close(fd);
  ::_exit(0);
}

// --- The parent -----------------------------------------------------------------

std::string& reader_executable() {
  static std::string path;
  return path;
}

// One child and its pipe.
class Child {
 public:
  Child(const fs::path& file, ReadDepth depth, const GuardOptions& options, size_t first) {
    int fds[2];
    EP_CHECK(::pipe2(fds, O_CLOEXEC) == 0, "cannot make a pipe to read '{}': {}", file.string(), std::strerror(errno));
    if (reader_executable().empty())
      fork_child(fds, file, depth, options, first);
    else
      spawn_child(fds, file, depth, options, first);
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Child() {
    if (fd_ >= 0) ::close(fd_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap();
    }
  }

  void fork_child(int fds[2], const fs::path& file, ReadDepth depth, const GuardOptions& options, size_t first) {
    std::fflush(nullptr);  // nothing buffered is written twice
    pid_ = ::fork();
    if (pid_ < 0) {
      ::close(fds[0]);
      ::close(fds[1]);
      EP_FAIL("cannot start a process to read '{}': {}", file.string(), std::strerror(errno));
    }
    if (pid_ == 0) {
      ::close(fds[0]);
      child_main(fds[1], file, depth, options, first);
    }
  }

  void spawn_child(int fds[2], const fs::path& file, ReadDepth depth, const GuardOptions& options, size_t first) {
    std::vector<std::string> args = {reader_executable(), kGuardedReaderCommand, file.string(),
                                     std::to_string(static_cast<int>(depth)), std::to_string(first),
                                     options.check_only ? "1" : "0"};
    args.insert(args.end(), options.only.begin(), options.only.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 3);  // dup2 clears O_CLOEXEC on fd 3
    const int rc = ::posix_spawn(&pid_, reader_executable().c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      ::close(fds[0]);
      ::close(fds[1]);
      EP_FAIL("cannot start '{}' to read '{}': {}", reader_executable(), file.string(), std::strerror(rc));
    }
  }

  // The next frame, or nullopt when the child ended (or took over `seconds`).
  std::optional<std::pair<Frame, std::vector<uint8_t>>> next(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
    uint8_t head[9];
    if (!read_exact(head, sizeof head, deadline)) return std::nullopt;
    uint64_t size = 0;
    std::memcpy(&size, head + 1, sizeof size);
    std::vector<uint8_t> payload(size);
    if (!read_exact(payload.data(), size, deadline)) return std::nullopt;
    return std::make_pair(static_cast<Frame>(head[0]), std::move(payload));
  }

  // Why the child stopped talking: killed for slowness, a signal, an exit status.
  std::string why_it_ended(double seconds) {
    if (timed_out_) {
      ::kill(pid_, SIGKILL);
      reap();
      return fmt::format("reading it took over {:g} s (libhdf5 stuck on damaged data; EPRUNNER_READ_TIMEOUT sets the "
                         "limit)", seconds);
    }
    const int status = reap();
    if (WIFSIGNALED(status))
      return fmt::format("reading it crashed libhdf5 ({})", sigabbrev(WTERMSIG(status)));
    return fmt::format("the reading process ended unexpectedly (status {})", WEXITSTATUS(status));
  }

 private:
  static std::string sigabbrev(int sig) {
    const char* d = ::strsignal(sig);
    return fmt::format("signal {}: {}", sig, d ? d : "?");
  }

  bool read_exact(uint8_t* out, size_t n, std::chrono::steady_clock::time_point deadline) {
    size_t done = 0;
    while (done < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out_ = true;
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) continue;  // the deadline check above ends it
      const ssize_t got = ::read(fd_, out + done, n - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;  // the child closed its end: exited or died
      done += static_cast<size_t>(got);
    }
    return true;
  }

  int reap() {
    int status = 0;
    if (pid_ > 0) {
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
      last_status_ = status;
    }
    return last_status_;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool timed_out_ = false;
  int last_status_ = 0;
};

}  // namespace

void set_guarded_reader_executable(const std::string& path) { reader_executable() = path; }

int guarded_reader_main(int argc, char** argv) {
  if (argc < 6) return 2;
  GuardOptions options;
  options.check_only = std::string(argv[5]) == "1";
  for (int i = 6; i < argc; ++i) options.only.insert(argv[i]);
  const int depth = std::atoi(argv[3]);
  if (depth < 0 || depth > static_cast<int>(ReadDepth::Everything)) return 2;
  child_main(3, argv[2], static_cast<ReadDepth>(depth), options, std::strtoull(argv[4], nullptr, 10));
}

Provenance ResultsSnapshot::run_provenance(int64_t k) const {
  auto it = run_list.find(k);
  return it == run_list.end() ? root : it->second;
}

std::vector<std::string> ResultsSnapshot::cell_names() const {
  std::vector<std::string> out;
  for (const auto& c : listed) out.push_back(c.name);
  return out;
}

CellSummary ResultsSnapshot::summary(const std::string& name) const {
  for (const auto& c : listed)
    if (c.name == name) return c;
  for (const auto& d : damaged)
    if (d.name == name) EP_FAIL("results file '{}': cell '{}': {}", file.string(), name, d.why);
  EP_FAIL("results file '{}' has no cell '{}'", file.string(), name);
}

CellResult ResultsSnapshot::read_cell(const std::string& name) const {
  auto it = data.find(name);
  EP_CHECK(depth == ReadDepth::Everything || (it != data.end() && read_whole_at_metrics(it->second)),
           "results file '{}': cell '{}' was read only in part", file.string(), name);
  if (it != data.end()) return it->second;
  summary(name);  // throws for damaged and unknown cells
  EP_FAIL("results file '{}': cell '{}' was not read", file.string(), name);
}

CellResult ResultsSnapshot::read_metrics(const std::string& name) const {
  EP_CHECK(depth != ReadDepth::Summaries, "results file '{}': cell '{}' was read only in part", file.string(), name);
  auto it = data.find(name);
  if (it != data.end()) return it->second;
  summary(name);
  EP_FAIL("results file '{}': cell '{}' was not read", file.string(), name);
}

std::string describe_damage(const ResultsSnapshot& snapshot, size_t at_most) {
  std::string out;
  for (size_t i = 0; i < snapshot.damaged.size() && i < at_most; ++i)
    out += fmt::format("{}cell '{}': {}", i ? "; " : "", snapshot.damaged[i].name, snapshot.damaged[i].why);
  if (snapshot.damaged.size() > at_most) out += fmt::format("; and {} more", snapshot.damaged.size() - at_most);
  return out;
}

std::unique_ptr<ResultsSnapshot> read_results_guarded(const fs::path& file, ReadDepth depth,
                                                      const GuardOptions& options) {
  EP_CHECK(fs::exists(file), "results file '{}' does not exist", file.string());
  const double seconds = options.seconds_per_cell > 0 ? options.seconds_per_cell : default_seconds();
  auto snap = std::make_unique<ResultsSnapshot>();
  snap->file = file;
  snap->depth = depth;
  std::vector<std::string> names;
  bool have_header = false;
  size_t next = 0;  // the first cell the next child reads
  for (;;) {
    Child child(file, depth, options, next);
    std::optional<size_t> begun;  // the cell this child is reading
    bool done = false;
    while (!done) {
      auto frame = child.next(seconds);
      if (!frame) break;
      auto& [kind, payload] = *frame;
      dist::Reader r(payload, "results reader message");
      switch (kind) {
        case Frame::Header: {
          Provenance root = take_provenance(r);
          std::map<int64_t, Provenance> runs;
          for (auto n = r.pod<uint64_t>(); n > 0; --n) {
            const int64_t k = r.pod<int64_t>();
            runs[k] = take_provenance(r);
          }
          std::vector<std::string> listed;
          for (auto n = r.count(8); n > 0; --n) listed.push_back(r.str());
          if (!have_header) {
            snap->root = std::move(root);
            snap->run_list = std::move(runs);
            names = std::move(listed);
            have_header = true;
          }
          break;
        }
        case Frame::Begin:
          begun = static_cast<size_t>(r.pod<uint64_t>());
          break;
        case Frame::Cell: {
          EP_CHECK(begun, "results reader: a cell without its start");
          CellSummary s = take_summary(r);
          if (r.pod<uint8_t>()) snap->data[s.name] = decode_cell(r.vec<uint8_t>());
          snap->listed.push_back(std::move(s));
          next = *begun + 1;
          begun.reset();
          break;
        }
        case Frame::Failed: {
          const std::string why(payload.begin(), payload.end());
          if (!begun) EP_FAIL("cannot read the results file '{}': {}", file.string(), why);
          snap->damaged.push_back({names.at(*begun), why});
          next = *begun + 1;
          begun.reset();
          break;
        }
        case Frame::Done:
          done = true;
          break;
        default:
          EP_FAIL("results reader: unknown message {}", static_cast<int>(kind));
      }
    }
    if (done) break;
    const std::string why = child.why_it_ended(seconds);
    if (!have_header)
      EP_FAIL("cannot read the results file '{}': {} while opening it and listing its cells; the file is damaged",
              file.string(), why);
    if (!begun) {  // between cells: the next child goes on from `next`
      if (next >= names.size()) break;
      EP_FAIL("cannot read the results file '{}': {} between cells", file.string(), why);
    }
    snap->damaged.push_back({names.at(*begun), why});
    next = *begun + 1;
    if (next >= names.size()) break;
  }
  std::sort(snap->listed.begin(), snap->listed.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return snap;
}

}  // namespace ep::runner
