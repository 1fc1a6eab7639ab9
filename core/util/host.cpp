#include "core/util/host.h"

#include <unistd.h>

namespace ep {

std::string hostname() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) return "";
  return host;
}

}  // namespace ep
