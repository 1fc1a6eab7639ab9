#include "experiments/task.h"

namespace ep {

std::string_view scoring_name(Scoring scoring) {
  switch (scoring) {
    case Scoring::FirstToken: return "first-token";
    case Scoring::ChoiceLogLikelihood: return "choice-loglik";
  }
  return "?";
}

}  // namespace ep
