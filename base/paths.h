// Where a sender and its consumers meet when nobody says otherwise.
#ifndef QLASTER_BASE_PATHS_H_
#define QLASTER_BASE_PATHS_H_

#include <string>

namespace qlaster {

// The control socket path a sender and its consumers use when none is given:
// $QLASTER_SOCKET, else $XDG_RUNTIME_DIR/qlaster/sender.sock, else
// /run/qlaster/sender.sock (where the systemd unit puts it).
// libqlaster-consumer declares and exports this same function in its public API
// (qlaster/consumer.hpp), so that bots find the sender as the sender's tools do.
std::string DefaultSocketPath();

}  // namespace qlaster

#endif  // QLASTER_BASE_PATHS_H_
