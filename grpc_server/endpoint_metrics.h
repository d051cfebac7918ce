// qlaster-grpc's metrics: the endpoint's counters (streams, messages and bytes sent by
// update kind, how streams ended, refusals) and each live stream's own, written in the
// Prometheus text format (metrics/prometheus.h) for --metrics_address.
//
// Families (all qlaster_grpc_*): streams_open, streams_opened_total,
// streams_ended_total{code}, messages_sent_total{kind}, bytes_sent_total{kind},
// slow_client_ends_total{reason}, auth_refusals_total, requests_rejected_total{reason},
// and per live stream (labels stream, peer): stream_messages_sent_total,
// stream_bytes_sent_total, stream_dropped_total, stream_gaps_total, stream_queue_bytes;
// then the process_* families.
//
// Thread-safety: the counters are relaxed atomics, bumped from gRPC's threads and the
// streams' consumer threads; Register/Unregister/Render lock a mutex that only they take.
#ifndef QLASTER_GRPC_SERVER_ENDPOINT_METRICS_H_
#define QLASTER_GRPC_SERVER_ENDPOINT_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace qlaster::grpc_endpoint {

// What a SubscribeUpdate carries (the oneof's case), as counted.
enum class SentKind : int {
  kAccount, kSlot, kTransaction, kTransactionStatus, kBlockMeta, kEntry, kPing, kPong, kOther,
};
inline constexpr int kSentKinds = 9;

// Why a Subscribe request was refused.
enum class Rejection : int {
  kTooManyStreams,   // --max_streams
  kInvalidArgument,  // a malformed filter
  kUnimplemented,    // blocks, cuckoo filters
  kFilterLimit,      // over a --limit_* flag
  kSenderRefused,    // the sender refused the subscription (from_slot out of range, its limits)
};
inline constexpr int kRejections = 5;

enum class SlowEnd : int {
  kWriteTimeout,  // a write did not complete within --slow_client_timeout
  kEvicted,       // the sender evicted the stream's consumer (its ring overflowed)
};
inline constexpr int kSlowEnds = 2;

// One live stream's counters. Owned by its stream; registered while it lives.
struct StreamCounters {
  uint64_t id = 0;
  std::string peer;
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> dropped{0};  // updates the sender dropped for this stream
  std::atomic<uint64_t> gaps{0};     // gap records that told of them
  std::atomic<uint64_t> queue_bytes{0};
};

class EndpointMetrics {
 public:
  static void Add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

  void StreamOpened(StreamCounters* s);
  // `status`: what the stream ended with.
  void StreamEnded(StreamCounters* s, const absl::Status& status);
  void Sent(StreamCounters* s, SentKind kind, uint64_t bytes);
  void Rejected(Rejection why) { Add(rejected_[static_cast<int>(why)]); }
  void SlowClientEnded(SlowEnd why) { Add(slow_ends_[static_cast<int>(why)]); }
  void AuthRefused() { Add(auth_refusals_); }

  // The exposition text, process metrics included.
  std::string Render(absl::string_view version) const;

 private:
  std::atomic<uint64_t> opened_{0};
  std::atomic<uint64_t> open_{0};
  std::array<std::atomic<uint64_t>, 17> ended_{};  // by absl::StatusCode (0..16)
  std::array<std::atomic<uint64_t>, kSentKinds> messages_{};
  std::array<std::atomic<uint64_t>, kSentKinds> bytes_{};
  std::array<std::atomic<uint64_t>, kRejections> rejected_{};
  std::array<std::atomic<uint64_t>, kSlowEnds> slow_ends_{};
  std::atomic<uint64_t> auth_refusals_{0};

  mutable std::mutex mu_;
  std::map<uint64_t, StreamCounters*> streams_;  // live ones, by id
};

}  // namespace qlaster::grpc_endpoint

#endif  // QLASTER_GRPC_SERVER_ENDPOINT_METRICS_H_
