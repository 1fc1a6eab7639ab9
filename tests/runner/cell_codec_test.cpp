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

TEST(CellCodec, EvaluationOutcomesRoundTrip) {
  ep::ExampleOutcomes o;
  o.rows = {1, 4, 7};
  o.correct = {1, 0, 1};
  o.choice_correct = {1, 1, 0};
  o.predicted = {50256, 3, -1};
  o.choice_predicted = {0, 2, -1};
  o.loglik_choice = {1, 0, 2};
  o.loss = {0.5, 1e-9, 3.25};
  const ep::ExampleOutcomes back = decode_outcomes(encode_outcomes(o));
  EXPECT_EQ(back.rows, o.rows);
  EXPECT_EQ(back.correct, o.correct);
  EXPECT_EQ(back.choice_correct, o.choice_correct);
  EXPECT_EQ(back.predicted, o.predicted);
  EXPECT_EQ(back.choice_predicted, o.choice_predicted);
  EXPECT_EQ(back.loglik_choice, o.loglik_choice);
  EXPECT_EQ(back.loss, o.loss);
  EXPECT_TRUE(decode_outcomes(encode_outcomes({})).rows.empty());  // a rank with no examples
}

// Every cut of a message is an error naming the message, never a crash (runs under ASan).
TEST(CellCodec, EveryTruncationIsAnError) {
  const auto cell = encode_cell(ep::runner::samples::sample_cell(2));
  for (size_t cut = 0; cut < cell.size(); ++cut) {
    const std::vector<uint8_t> part(cell.begin(), cell.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_THROW(decode_cell(part), ep::Error) << "cut at " << cut;
  }
  ep::ExampleOutcomes o;
  o.rows = {0, 1};
  o.loss = {1.0, 2.0};
  const auto outcomes = encode_outcomes(o);
  for (size_t cut = 0; cut < outcomes.size(); ++cut) {
    const std::vector<uint8_t> part(outcomes.begin(), outcomes.begin() + static_cast<std::ptrdiff_t>(cut));
    try {
      decode_outcomes(part);
      ADD_FAILURE() << "cut at " << cut << " was accepted";
    } catch (const ep::Error& e) {
      EXPECT_NE(std::string(e.what()).find("evaluation outcomes message"), std::string::npos) << e.what();
    }
  }
}
