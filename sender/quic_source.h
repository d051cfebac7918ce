// QuicSource: the relay gateway as a source, `--source=quic:ADDR:PORT`. Relays
// (qlaster-relay beside another sender) connect over QUIC with mutual TLS
// (docs/relay-protocol.md); each relayed frame is validated (EncodedUpdate::FromFrame) and
// published as it is, without decoding and encoding it again; each relayed gap is published
// as a gap of its exact count.
//
// A network thread runs the gateway (relay/gateway.h) on its own io_context and hands
// frames to DoWork through a DoorbellQueue. The network is never held back by the
// dispatcher: when the queue is full the frame is dropped and counted, and its consumers
// are told by a gap of the exact count.
//
// Redundant paths: the same stream relayed twice (two relays, two paths) is published
// once, the first copy to arrive. An update is identified by what it is (accounts: slot,
// pubkey, write version; transactions and statuses: signature; slots: slot and status;
// block metas: slot; entries: slot and index), remembered for the last `dedup_window`
// updates. A gap one path reports while the other delivers is still reported (the gateway
// cannot tell which updates a gap covered), so two paths can overstate a gap, never hide
// one.
//
// Thread-safety: DoWork on the dispatch thread; Counts and AppendCounters from any thread.
#ifndef QLASTER_SENDER_QUIC_SOURCE_H_
#define QLASTER_SENDER_QUIC_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sender/source.h"

namespace qlaster::sender {

struct QuicSourceOptions {
  std::string listen;  // ADDR:PORT (UDP); port 0 picks one (the log and name() say which)
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  bool dedup = true;
  size_t dedup_window = 1u << 20;
  size_t max_frames_per_call = 256;
};

struct QuicSourceCounters {
  std::atomic<uint64_t> published{0};     // frames published
  std::atomic<uint64_t> gap_updates{0};   // updates published as missed (relayed gaps)
  std::atomic<uint64_t> duplicates{0};    // frames a second path delivered again
  std::atomic<uint64_t> queue_drops{0};   // frames dropped because the dispatcher was behind
  std::atomic<uint64_t> malformed{0};     // frames that failed validation (connection closed)
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> tls_refused{0};
  std::atomic<uint64_t> protocol_errors{0};
};

class QuicSource : public Source {
 public:
  static absl::StatusOr<std::unique_ptr<QuicSource>> Open(const QuicSourceOptions& options);
  ~QuicSource() override;

  std::string name() const override;
  absl::StatusOr<SourceWork> DoWork(Dispatcher& dispatcher, int64_t now_ns) override;
  SourceCounts Counts() const override;
  // Per relay session too: "relay[NAME].updates", ".gap_updates", ".connected", ...
  void AppendCounters(std::vector<SourceCounterEntry>* out) const override;

  uint16_t port() const;
  const QuicSourceCounters& counters() const;

 private:
  class Network;
  explicit QuicSource(std::unique_ptr<Network> network);
  std::unique_ptr<Network> network_;
};

}  // namespace qlaster::sender

#endif  // QLASTER_SENDER_QUIC_SOURCE_H_
