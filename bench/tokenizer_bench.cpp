// Tokenizer throughput: loads a GPT-2 BPE tokenizer, reads a text file, cuts it into
// paragraphs (up to and including each blank line: the chunks the HF cross-check test
// compares) and encodes them all, one after another, N times on one thread, printing
// MB/s (1 MB = 10^6 bytes) of the first (cold cache) and the best pass as one JSON line.
// bench/tokenizer_bench.sh runs it beside Hugging Face tokenizers on the same chunks.
//
//   tokenizer_bench TOKENIZER_DIR TEXT_FILE [N=3]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/tokenizer/bpe_tokenizer.h"
#include "core/util/error.h"

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EP_CHECK(in.good(), "{}: cannot open the text file", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU time of this thread: on a shared, busy machine wall time includes waiting for a
// core; CPU time does not (ref: clock_gettime(2), CLOCK_THREAD_CPUTIME_ID).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int run(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_DIR TEXT_FILE [N=3]\n", argv[0]);
    return 2;
  }
  const int iterations = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  auto load_start = std::chrono::steady_clock::now();
  ep::BpeTokenizer tok = ep::BpeTokenizer::load(argv[1]);
  double load_seconds = seconds_since(load_start);
  std::string text = read_text(argv[2]);
  std::vector<std::string_view> chunks;  // ref: tests/reference/hf_gpt2_tokenizer.py paragraphs()
  for (size_t start = 0; start < text.size();) {
    size_t blank = text.find("\n\n", start);
    size_t end = blank == std::string::npos ? text.size() : blank + 2;
    chunks.push_back(std::string_view(text).substr(start, end - start));
    start = end;
  }

  std::vector<double> seconds, cpu_seconds;
  size_t tokens = 0;
  for (int i = 0; i < iterations; ++i) {
    auto start = std::chrono::steady_clock::now();
    double cpu_start = thread_cpu_seconds();
    tokens = 0;
    for (auto chunk : chunks) tokens += tok.encode(chunk).size();
    cpu_seconds.push_back(thread_cpu_seconds() - cpu_start);
    seconds.push_back(seconds_since(start));
  }
  const double mb = static_cast<double>(text.size()) / 1e6;
  const double best = *std::min_element(seconds.begin(), seconds.end());
  const double best_cpu = *std::min_element(cpu_seconds.begin(), cpu_seconds.end());
  auto join = [](const std::vector<double>& v) {
    std::string list;
    for (double s : v) list += (list.empty() ? "" : ",") + std::to_string(s);
    return list;
  };
  std::printf(
      "{\"impl\":\"eprunner BpeTokenizer (C++, 1 thread)\",\"bytes\":%zu,\"chunks\":%zu,\"tokens\":%zu,\"iterations\":%d,"
      "\"load_seconds\":%.4f,\"seconds\":[%s],\"cpu_seconds\":[%s],\"first_mb_per_s\":%.3f,"
      "\"best_mb_per_s\":%.3f,\"best_cpu_mb_per_s\":%.3f}\n",
      text.size(), chunks.size(), tokens, iterations, load_seconds, join(seconds).c_str(), join(cpu_seconds).c_str(),
      mb / seconds[0], mb / best, mb / best_cpu);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const ep::Error& e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 1;
  }
}
