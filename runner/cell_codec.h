// CellResult <-> bytes, so a group leader can send its finished cell to the one
// writer on world rank 0. A private wire format (both ends are the same binary),
// little-endian, with a magic and version so a mismatch fails loudly.
#pragma once

#include <cstdint>
#include <vector>

#include "runner/results_file.h"

namespace ep::runner {

std::vector<uint8_t> encode_cell(const CellResult& cell);
CellResult decode_cell(const std::vector<uint8_t>& bytes);  // ep::Error on a malformed buffer

}  // namespace ep::runner
