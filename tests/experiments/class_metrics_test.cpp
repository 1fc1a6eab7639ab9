#include <gtest/gtest.h>

#include "core/util/error.h"
#include "experiments/class_metrics.h"

namespace ep {
namespace {

TEST(ClassMetrics, PredictedTokensMapToClassesOrNone) {
  EXPECT_EQ(predicted_classes({35445, 318, 13, 40081}, {35445, 40081, 318}),
            (std::vector<int64_t>{0, 2, kNoClass, 1}));
}

TEST(ClassMetrics, Accuracy) {
  EXPECT_DOUBLE_EQ(accuracy({0, 1, kNoClass, 2}, {0, 1, 1, 1}), 0.5);
  EXPECT_DOUBLE_EQ(accuracy({}, {}), 0.0);
  EXPECT_THROW(accuracy({0}, {0, 1}), Error);
}

TEST(ClassMetrics, MacroF1AsSklearnPerClassMean) {
  // answers 0 0 1 2 2, predicted 0 1 1 2 -1:
  //   class 0: tp 1, fp 0, fn 1 -> 2/3;  class 1: tp 1, fp 1, fn 0 -> 2/3;
  //   class 2: tp 1, fp 0, fn 1 -> 2/3.  Mean 2/3 (computed by hand from the
  //   definition cb_multi_fi uses: binary F1 of y == c per class, averaged).
  EXPECT_NEAR(macro_f1({0, 1, 1, 2, kNoClass}, {0, 0, 1, 2, 2}, 3), 2.0 / 3.0, 1e-12);
  // A class that is neither present nor predicted scores 0 (sklearn's zero_division).
  EXPECT_NEAR(macro_f1({0, 1}, {0, 1}, 3), 2.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(macro_f1({0, 1}, {0, 1}, 2), 1.0);
}

}  // namespace
}  // namespace ep
