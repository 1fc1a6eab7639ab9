// Fine-tuning's hyperparameters, as a grid names them (`[models.finetune]`).
// Torch-free; finetune.h's FinetuneOptions adds what a run needs besides.
#pragma once

#include <cstdint>

namespace ep {

struct FinetuneSchedule {
  double lr = 0.01;           // ref: paper appendix C — Adam, lr 0.01
  int64_t batch_size = 2;     // ref: paper appendix C
  int64_t epochs = 1;         // ref: paper appendix C
  double weight_decay = 0.0;  // Adam's L2 term (torch::optim::AdamOptions::weight_decay)
  uint64_t seed = 42;         // batch order: a seeded shuffle per epoch
};

}  // namespace ep
