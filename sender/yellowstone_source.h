// YellowstoneSource: a Yellowstone gRPC upstream (a validator's or RPC node's geyser
// plugin, or another qlaster-grpc) as a source: `--source=yellowstone:http://HOST:PORT`.
//
// One gRPC client thread owns the upstream stream (geyser.Geyser/Subscribe, gRPC's
// synchronous ClientReaderWriter). It subscribes to every account, every transaction
// (with its status meta), slots, block meta and entries at processed commitment;
// converts each SubscribeUpdate to a frame once (wire/yellowstone/update_convert.h);
// and hands the frames to DoWork through a shm::DoorbellQueue. DoWork, on the dispatch
// thread, only publishes them; when the queue is empty DoWork hands the runner a doorbell
// (an eventfd the client thread rings after its next push), so that an idle sender
// sleeps instead of polling. When the queue is full the client thread waits (the
// upstream's HTTP/2 flow control then slows the upstream), so nothing is dropped here.
//
// The stream keeps itself up:
//  - pings: the server's keep-alive pings are answered (the subscription is sent again
//    with a ping id, which is how Yellowstone clients answer);
//  - reconnects: a stream that ends or fails is opened again after a backoff (doubling
//    from min_backoff to max_backoff, back to min_backoff once a stream delivers);
//  - resume: a reconnect asks for `from_slot` = the highest slot seen, so the upstream
//    replays from there (updates of that slot may arrive twice). An upstream that cannot
//    (OUT_OF_RANGE: the slot is older than it keeps) is resubscribed live at once, and
//    the lost range is logged and counted (`resume_refused`);
//  - stalls: a stream silent for idle_timeout (no update, no ping) is cancelled by a
//    watchdog and reopened like a stream that ended (`stalls`);
//  - malformed messages (a bad pubkey length, an unknown slot status, a transaction that
//    does not re-serialize, ...) are counted (`malformed`), logged rate-limited, and
//    skipped; the stream carries on.
//
// Thread-safety: DoWork on the dispatch thread; counters() from any thread; the
// destructor stops the client thread (cancelling its stream) and joins it.
#ifndef QLASTER_SENDER_YELLOWSTONE_SOURCE_H_
#define QLASTER_SENDER_YELLOWSTONE_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sender/source.h"
#include "wire/lz4_policy.h"

namespace qlaster::sender {

struct YellowstoneOptions {
  // http://HOST:PORT (plaintext HTTP/2) or https://HOST:PORT (TLS, the system's roots).
  std::string url;
  // PEM root certificates an https:// upstream is verified against instead of the
  // system's (a private CA); empty: the system's.
  std::string tls_ca_pem;
  // Sent as the `x-token` header when not empty.
  std::string x_token;
  // Applied to raw account data as it enters (the sender's --lz4_threshold).
  Lz4Policy lz4 = {};
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // A stream that delivers nothing (not even a ping) for this long is taken for stalled,
  // cancelled and reopened. Yellowstone servers ping every few seconds.
  absl::Duration idle_timeout = absl::Seconds(30);
  // Frames one DoWork call publishes at most (one batch).
  size_t max_frames_per_call = 256;
};

struct YellowstoneCounters {
  std::atomic<uint64_t> messages{0};        // SubscribeUpdates received
  std::atomic<uint64_t> published{0};       // frames handed to the dispatcher
  std::atomic<uint64_t> malformed{0};       // messages refused by the conversion
  std::atomic<uint64_t> ignored{0};         // kinds not subscribed to (blocks, statuses)
  std::atomic<uint64_t> pings{0};           // server pings answered
  std::atomic<uint64_t> connects{0};        // streams opened (the first one included)
  std::atomic<uint64_t> stream_errors{0};   // streams that ended or failed
  std::atomic<uint64_t> resumes{0};         // reconnects that asked for from_slot
  std::atomic<uint64_t> resume_refused{0};  // ... that the upstream refused (OUT_OF_RANGE)
  // Updates a resumed stream sent again (the resumed slot is replayed from its start),
  // not published a second time.
  std::atomic<uint64_t> resume_duplicates{0};
  std::atomic<uint64_t> queue_full_waits{0};  // times the client thread waited for room
  std::atomic<uint64_t> stalls{0};          // streams cancelled for silence
  std::atomic<uint64_t> last_slot{0};       // the highest slot seen
};

class YellowstoneSource : public Source {
 public:
  // Checks the options (kInvalidArgument for a URL that is not http(s)://HOST:PORT,
  // backoffs out of order or an idle timeout <= 0) and starts the client thread, which connects at once.
  static absl::StatusOr<std::unique_ptr<YellowstoneSource>> Open(const YellowstoneOptions& options);
  ~YellowstoneSource() override;

  std::string name() const override;

  // Publishes up to max_frames_per_call converted frames; next_due is kWhenever, with
  // the doorbell when nothing was queued.
  absl::StatusOr<SourceWork> DoWork(Dispatcher& dispatcher, int64_t now_ns) override;

  const YellowstoneCounters& counters() const;
  // For the metrics: updates published; rejects "malformed" (refused by the conversion)
  // and "duplicate" (sent again by a resumed stream). No backlog is counted.
  SourceCounts Counts() const override;
  // Every counter above, named as it is there.
  void AppendCounters(std::vector<SourceCounterEntry>* out) const override;

 private:
  class Client;
  explicit YellowstoneSource(std::unique_ptr<Client> client);
  std::unique_ptr<Client> client_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_YELLOWSTONE_SOURCE_H_
