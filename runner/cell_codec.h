// CellResult <-> bytes, so a group leader can send its finished cell to the one
// writer on world rank 0; a split's evaluated shard <-> bytes between the ranks of
// a group. A private wire format (both ends are the same binary, distributed/bytes.h)
// with a magic per message so a mismatch fails loudly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiments/split_score.h"
#include "runner/results_file.h"

namespace ep::runner {

std::vector<uint8_t> encode_cell(const CellResult& cell);
CellResult decode_cell(const std::vector<uint8_t>& bytes);  // ep::Error on a malformed buffer

// "crc32:<8 hex digits>" of encode_cell(cell): the per-cell checksum of results
// files (h5_util.h kChecksumAttr). x86-64 and aarch64 encode alike (little-endian).
std::string cell_checksum(const CellResult& cell);

// One rank's evaluated shard of a split, for the all-gather (cell_executor.cpp).
std::vector<uint8_t> encode_outcomes(const ExampleOutcomes& outcomes);
ExampleOutcomes decode_outcomes(const std::vector<uint8_t>& bytes);

}  // namespace ep::runner
