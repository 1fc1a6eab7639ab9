// This machine's name, for messages and provenance. Torch- and MPI-free.
#pragma once

#include <string>

namespace ep {

std::string hostname();  // gethostname(2); "" if it fails

}  // namespace ep
