// INT-SUM and INT-MULT, the paper's synthetic tasks: every pair of operands, the
// prompt "{i} + {j} =" / "{i} x {j} =", the answer " " + str(result) as one token.
// ref: paper appendix A; official code (f"{i} + {j} =", label ' ' + str(i + j)).
#pragma once

#include "experiments/task_kind.h"

namespace ep {

TaskKind int_sum_task_kind();   // i, j in 0..99: 10,000 examples
TaskKind int_mult_task_kind();  // i, j in 0..19: 400 examples (a literal 'x')

}  // namespace ep
