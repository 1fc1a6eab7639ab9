// CellResult survives the trip from a group leader to the writer on rank 0.
#include <gtest/gtest.h>

#include "core/util/error.h"
#include "runner/cell_codec.h"
#include "sample_cells.h"

using namespace ep::runner;

TEST(CellCodec, RoundTrip) {
  for (bool big : {false, true}) {
    CellResult c = ep::runner::samples::sample_cell(7, big);
    c.status = CellStatus::Error;
    c.error = "a message with \"quotes\" and\nnewlines";
    EXPECT_EQ(ep::runner::samples::cell_difference(decode_cell(encode_cell(c)), c), "");
  }
  CellResult empty;
  EXPECT_EQ(ep::runner::samples::cell_difference(decode_cell(encode_cell(empty)), empty), "");
}

TEST(CellCodec, DamagedMessagesAreErrors) {
  auto bytes = encode_cell(ep::runner::samples::sample_cell(1));
  auto truncated = bytes;
  truncated.resize(bytes.size() / 2);
  EXPECT_THROW(decode_cell(truncated), ep::Error);
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_THROW(decode_cell(longer), ep::Error);
  bytes[0] ^= 0xff;
  EXPECT_THROW(decode_cell(bytes), ep::Error);
}
