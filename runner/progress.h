// Logging set-up and run progress.
//
// Every log line names its rank ("[rank 1] ..."), so interleaved output of an
// mpirun is readable. World rank 0 also shows the run's progress: cells done/total,
// examples per second and an ETA, as a live line rewritten in place (\r) when
// stderr is a terminal, and as plain log lines otherwise (batch logs, pipes).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace ep::runner {

// The default spdlog logger prints "[HH:MM:SS] [rank R] [level] message" to stderr.
void setup_logging(int world_rank);

class Progress {
 public:
  // `total`: cells this run computes (skipped ones excluded); `live`: rewrite one
  // line in place (use stderr_is_terminal()).
  Progress(int total, bool live);

  // A finished cell (from any group), with the examples it processed.
  void cell_done(const std::string& name, bool ok, int64_t examples, double seconds);
  // Examples processed by this rank's own group inside a running cell, for a live
  // rate before cells finish. Thread-safe, cheap; redraws at most every 0.5 s.
  void add_examples(int64_t n);

  // "cells 3/15 (1 failed) | 812.4 ex/s | ETA 0:12:31"
  std::string status_line() const;
  int done() const;
  int failed() const;
  // Ends the live line so later output starts on a fresh line.
  void close();

 private:
  std::string status_line_locked() const;
  void redraw_locked(bool force);

  using Clock = std::chrono::steady_clock;
  mutable std::mutex mu_;
  int total_;
  bool live_;
  int done_ = 0;
  int failed_ = 0;
  int64_t examples_ = 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  bool line_open_ = false;
};

bool stderr_is_terminal();

}  // namespace ep::runner
