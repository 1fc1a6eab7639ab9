// Rank-tagged logging and the progress line.
#include "runner/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace ep::runner {
namespace {

std::string hms(double seconds) {
  auto s = static_cast<int64_t>(seconds + 0.5);
  return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

}  // namespace

void setup_logging(int world_rank) {
  spdlog::drop("eprunner");  // set up again (tests, a second run in one process)
  auto logger = spdlog::stderr_color_mt("eprunner");
  logger->set_pattern(fmt::format("[%H:%M:%S] [rank {}] [%^%l%$] %v", world_rank));
  spdlog::set_default_logger(logger);
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(int total, bool live) : total_(total), live_(live) {}

void Progress::cell_done(const std::string& name, bool ok, int64_t examples, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++done_;
  if (!ok) ++failed_;
  examples_ += examples;
  if (line_open_) {  // the log line must not land in the middle of the live line
    std::fputs("\r\033[K", stderr);
    line_open_ = false;
  }
  spdlog::info("cell {} {} in {:.1f} s | {}", name, ok ? "done" : "FAILED", seconds, status_line_locked());
  redraw_locked(true);
}

void Progress::add_examples(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  examples_ += n;
  redraw_locked(false);
}

std::string Progress::status_line() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_line_locked();
}

int Progress::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}

int Progress::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

void Progress::close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (line_open_) std::fputs("\n", stderr);
  line_open_ = false;
}

std::string Progress::status_line_locked() const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  std::string line = fmt::format("cells {}/{}", done_, total_);
  if (failed_) line += fmt::format(" ({} failed)", failed_);
  if (elapsed > 0) line += fmt::format(" | {:.1f} ex/s", static_cast<double>(examples_) / elapsed);
  // Cells are the unit of the ETA: the rate of finished cells so far, applied to
  // the rest (examples per cell vary too much between tasks to do better).
  if (done_ > 0 && done_ < total_) line += " | ETA " + hms(elapsed / done_ * (total_ - done_));
  line += " | elapsed " + hms(elapsed);
  return line;
}

void Progress::redraw_locked(bool force) {
  if (!live_) return;
  const auto now = Clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(500)) return;
  last_draw_ = now;
  std::fprintf(stderr, "\r\033[K%s", status_line_locked().c_str());
  std::fflush(stderr);
  line_open_ = true;
}

}  // namespace ep::runner
