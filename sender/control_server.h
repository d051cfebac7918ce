// ControlServer: the sender's control plane on a Unix stream socket.
//
// One io_context thread runs everything here: an accept loop, a coroutine pair per
// connection (a reader and a queue-fed writer), a watcher of the dispatcher's notify
// eventfd (table adopted, consumer evicted), and a keepalive timer. Per connection:
//
//   Hello -> Ready (+ ring fd and eventfd by SCM_RIGHTS)
//   Subscribe -> SubscribeAck, once the dispatcher routes by the new subscription
//   Ping <-> Pong (both directions), StatsRequest -> Stats
//   Evicted {reason} / Error {code, message}, then the socket is closed
//
// Every byte from a client is untrusted: frames go through ControlFrameReader (size limit,
// FlatBuffers verifier, field checks); anything malformed or out of order gets an Error
// and a closed connection, never a crash, and other connections are unaffected.
#ifndef QLASTER_SENDER_CONTROL_SERVER_H_
#define QLASTER_SENDER_CONTROL_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sender/dispatcher.h"
#include "sender/registry.h"
#include "sender/source.h"
#include "shm/event_fd.h"
#include "wire/control_framing.h"

namespace boost::asio {
class io_context;
}

namespace qlaster::sender {

struct ControlOptions {
  std::string socket_path;
  mode_t socket_mode = 0660;
  std::string shm_dir = "/dev/shm";
  std::string sender_name = "qlaster-sender";
  uint64_t default_ring_bytes = uint64_t{64} << 20;  // when Hello asks for 0
  uint64_t max_ring_bytes = uint64_t{1} << 30;       // larger requests are clamped
  absl::Duration ping_interval = absl::Seconds(5);
  // A consumer that sends nothing (not even a Pong) for this long is evicted as idle.
  absl::Duration idle_timeout = absl::Seconds(30);
  // A connection that has not said Hello (or asked for Stats) by then is closed.
  absl::Duration handshake_timeout = absl::Seconds(5);
  // Empty: anyone who can open the socket file may connect. Otherwise the peer's uid
  // (SO_PEERCRED) must be listed, or its gid.
  std::vector<uid_t> allowed_uids;
  std::vector<gid_t> allowed_gids;
  RegistryLimits limits;
  size_t max_connections = 1024;  // including connections that have not said Hello
  size_t max_outbox_bytes = 8u << 20;  // a client that does not read its replies is closed
  bool verbose = true;                 // a line on stderr per connection event
};

class ControlServer {
 public:
  // `io` and `dispatcher` must outlive the server. The dispatcher's notify eventfd is
  // `notify` (it rings when a table is adopted or a consumer evicted).
  ControlServer(boost::asio::io_context& io, Dispatcher& dispatcher, const shm::EventFd& notify,
                ControlOptions options);
  ~ControlServer();

  // Binds the socket. A socket file that no live sender answers on is replaced; a live
  // sender on the same path is kAlreadyExists; a non-socket file there is
  // kFailedPrecondition.
  absl::Status Listen();

  // Starts serving an already connected socket (for tests and fuzzing). Takes the fd.
  void Adopt(int connected_fd);

  // Starts accepting (after Listen) and the background work.
  void Start();

  // Tells every consumer Evicted{Shutdown}, closes their rings, stops accepting, removes
  // the socket file, and lets the io_context run out once replies are flushed (or after
  // a short grace period). REQUIRES: the dispatcher no longer publishes.
  void Shutdown();

  StatsMsg Stats() const;

  // The sources whose counters Stats() reports. Call before Start(); they must outlive
  // the server.
  void SetSources(std::vector<const Source*> sources);
  size_t session_count() const;

  class Session;

 private:
  friend class Session;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Maps a status to the ErrorCode a client sees.
fb::ErrorCode ErrorCodeFor(const absl::Status& status);

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_CONTROL_SERVER_H_
