// The results-file reader for files this process did not write
// (runner/results_guard.cpp: read_results_guarded reads in child processes with a
// time limit per cell, so a crash or hang inside libhdf5 becomes a damaged cell, not a
// dead report). Input: the whole HDF5 file. Whatever the bytes, the answer is a
// snapshot (with damaged cells listed) or an ep::Error naming the file.
//
// The reading child is a fork() of this process, and a damaged file may well crash it
// inside libhdf5 (a SIGSEGV, or a sanitizer report: libhdf5's mallocs and memcpys go
// through ASan): that is the damage the guard exists to absorb, so in the child
// libFuzzer's death callback is removed (it would save the input as the fuzzer's own
// crash). scripts/fuzz also leaves SIGSEGV & co. to their default action for this harness
// and counts the children's sanitizer reports in its summary. What is checked is the
// parent: the guard, the frames it receives, the snapshot.
#include <pthread.h>

#include <cstddef>
#include <cstdint>

#include "core/util/error.h"
#include "runner/results_guard.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" void __sanitizer_set_death_callback(void (*callback)(void));

namespace {

void in_reading_child() { __sanitizer_set_death_callback(nullptr); }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pthread_atfork(nullptr, nullptr, in_reading_child);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ep::fuzz::scratch() / "results.h5";
  ep::fuzz::write_file(path, data, size);
  ep::runner::GuardOptions options;
  options.seconds_per_cell = 5;  // a hang in libhdf5 costs 5 s, not the default 120
  try {
    auto snapshot = ep::runner::read_results_guarded(path, ep::runner::ReadDepth::Everything, options);
    for (const auto& cell : snapshot->cells()) {
      try {
        (void)snapshot->read_cell(cell.name);
      } catch (const ep::Error&) {
      }
    }
    for (const auto& d : snapshot->damaged)
      EP_FUZZ_ASSERT(!d.why.empty(), "damaged cell '%s' without why", d.name.c_str());
  } catch (const ep::Error& e) {
    ep::fuzz::refused(e);
  }
  return 0;
}
