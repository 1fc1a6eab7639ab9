// The seed streams experiments/ draws from (core/util/seeded_shuffle.h holds the
// shuffle itself, shared with the scoring batches in core/prune).
#pragma once

#include <cstdint>

#include "core/util/seeded_shuffle.h"

namespace ep {

// Seed streams used in experiments/ (named so that two uses never share one).
enum SeedStream : uint64_t {
  kTestSplitStream = 1,
  kValidationSplitStream = 2,
  kFinetuneShuffleStream = 3,  // + epoch
  kSubsampleStream = 1u << 20,  // + 0 train, 1 validation, 2 test (far above any epoch)
};

}  // namespace ep
