// DefaultSocketPath. See paths.h.
#include "base/paths.h"

#include <cstdlib>

namespace qlaster {

std::string DefaultSocketPath() {
  if (const char* s = std::getenv("QLASTER_SOCKET"); s != nullptr && *s != '\0') return s;
  if (const char* d = std::getenv("XDG_RUNTIME_DIR"); d != nullptr && *d != '\0') {
    return std::string(d) + "/qlaster/sender.sock";
  }
  return "/run/qlaster/sender.sock";
}

}  // namespace qlaster
