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

#include <array>
#include <map>
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
  // Connections that have not said Hello (including those that only ask for Stats): at
  // most this many per peer uid, and in total. They never count against consumers, so a
  // flood of idle connections from one uid cannot keep another uid's consumer out (the
  // accept loop serves the backlog in order, and refuses the excess with a reason).
  size_t max_pending_per_uid = 32;
  size_t max_pending = 256;
  // Consumers (connections past Hello) of one peer uid; 0: only limits.max_consumers.
  size_t max_consumers_per_uid = 0;
  // A sleeping consumer's doorbell rings at most once per this interval (0: whenever it
  // sleeps): a consumer that keeps its sleeping flag set cannot make the dispatcher pay a
  // syscall per update. A sleeper may so wait up to this long for its wake-up.
  absl::Duration min_wake_interval = absl::Microseconds(100);
  size_t max_outbox_bytes = 8u << 20;  // a client that does not read its replies is closed
  bool verbose = true;                 // a line on stderr per connection event
};

// What the control plane knows, for the metrics endpoint (sender/metrics.h). A copy,
// made on the control thread.
struct ConsumerMetrics {
  uint64_t consumer_id = 0;
  std::string name;
  uint32_t uid = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
  uint64_t gaps = 0;  // gap records written (each tells of one or more dropped updates)
  uint64_t wakes = 0;
  uint64_t wakes_deferred = 0;
  uint64_t ring_bytes = 0;
  uint64_t ring_fill = 0;
  uint64_t lag_records = 0;
  uint64_t keys = 0;
};

struct ControlMetrics {
  std::vector<ConsumerMetrics> consumers;
  uint64_t connections_accepted = 0;
  uint64_t connections_pending = 0;  // not past Hello (stats-only included)
  // Connections refused or closed by the sender, by reason ("pending_per_uid",
  // "not_allowed", "handshake_timeout", "bad_request", ...).
  std::map<std::string, uint64_t> refusals;
  // Subscribe requests refused (the connection stays), by error code name.
  std::map<std::string, uint64_t> subscribe_refusals;
  // Consumers evicted, by fb::EvictReason; and by consumer name, for the names seen
  // (at most kEvictedNames, then kOtherEvicted), kept after the consumer has gone.
  std::array<uint64_t, 4> evictions{};
  static constexpr size_t kEvictedNames = 256;
  static constexpr const char* kOtherEvicted = "(other)";
  std::map<std::string, std::array<uint64_t, 4>> evictions_by_name;
  uint64_t table_version_installed = 0;  // the newest table handed to the dispatcher
  uint64_t table_version_adopted = 0;    // the newest the dispatcher routes by
  uint64_t table_consumers = 0;          // consumers the adopted table names
  uint64_t keys = 0;                     // keys of every consumer (KeyCount)
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
  // A copy of the counters the metrics endpoint reports. Control thread only.
  ControlMetrics Metrics() const;
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
