#include "grpc_server/endpoint_metrics.h"

#include "absl/strings/str_cat.h"
#include "metrics/prometheus.h"

namespace qlaster::grpc_endpoint {
namespace {

constexpr const char* kKindNames[kSentKinds] = {
    "account", "slot", "transaction", "transaction_status", "block_meta", "entry", "ping", "pong", "other"};
constexpr const char* kRejectionNames[kRejections] = {
    "too_many_streams", "invalid_argument", "unimplemented", "filter_limit", "sender_refused"};
constexpr const char* kSlowEndNames[kSlowEnds] = {"write_timeout", "evicted"};

double Get(const std::atomic<uint64_t>& v) {
  return static_cast<double>(v.load(std::memory_order_relaxed));
}

}  // namespace

void EndpointMetrics::StreamOpened(StreamCounters* s) {
  Add(opened_);
  Add(open_);
  std::lock_guard lock(mu_);
  streams_[s->id] = s;
}

void EndpointMetrics::StreamEnded(StreamCounters* s, const absl::Status& status) {
  const int code = static_cast<int>(status.code());
  Add(ended_[code >= 0 && code < static_cast<int>(ended_.size()) ? code : 2]);  // 2: UNKNOWN
  open_.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  streams_.erase(s->id);
}

void EndpointMetrics::Sent(StreamCounters* s, SentKind kind, uint64_t bytes) {
  Add(messages_[static_cast<int>(kind)]);
  Add(bytes_[static_cast<int>(kind)], bytes);
  Add(s->messages);
  Add(s->bytes, bytes);
}

std::string EndpointMetrics::Render(absl::string_view version) const {
  metrics::PrometheusWriter w;
  w.Family("qlaster_grpc_build_info", "gauge", "qlaster-grpc's version (always 1).");
  w.Sample({"version", version}, 1);
  w.One("qlaster_grpc_streams_open", "gauge", "Subscribe streams being served.", Get(open_));
  w.One("qlaster_grpc_streams_opened_total", "counter",
        "Subscribe streams served (those refused at once for --max_streams are not).", Get(opened_));
  w.Family("qlaster_grpc_streams_ended_total", "counter",
           "Subscribe streams ended, by the gRPC status code they ended with.");
  for (size_t c = 0; c < ended_.size(); ++c) {
    w.Sample({"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(c))}, Get(ended_[c]));
  }
  w.Family("qlaster_grpc_messages_sent_total", "counter",
           "SubscribeUpdate messages written to clients, by update kind.");
  for (int k = 0; k < kSentKinds; ++k) w.Sample({"kind", kKindNames[k]}, Get(messages_[k]));
  w.Family("qlaster_grpc_bytes_sent_total", "counter",
           "Bytes of SubscribeUpdate messages written to clients (protobuf, before any "
           "compression), by update kind.");
  for (int k = 0; k < kSentKinds; ++k) w.Sample({"kind", kKindNames[k]}, Get(bytes_[k]));
  w.Family("qlaster_grpc_slow_client_ends_total", "counter",
           "Streams ended because their client did not keep up, by reason.");
  for (int r = 0; r < kSlowEnds; ++r) w.Sample({"reason", kSlowEndNames[r]}, Get(slow_ends_[r]));
  w.One("qlaster_grpc_auth_refusals_total", "counter",
        "Calls refused for a missing or wrong x-token.", Get(auth_refusals_));
  w.Family("qlaster_grpc_requests_rejected_total", "counter",
           "Subscribe requests refused, by reason.");
  for (int r = 0; r < kRejections; ++r) w.Sample({"reason", kRejectionNames[r]}, Get(rejected_[r]));

  struct PerStream {
    const char* name;
    const char* type;
    const char* help;
    std::atomic<uint64_t> StreamCounters::*field;
  };
  static constexpr PerStream kPerStream[] = {
      {"qlaster_grpc_stream_messages_sent_total", "counter", "Messages written to this stream.",
       &StreamCounters::messages},
      {"qlaster_grpc_stream_bytes_sent_total", "counter", "Bytes written to this stream.",
       &StreamCounters::bytes},
      {"qlaster_grpc_stream_dropped_total", "counter",
       "Updates the sender dropped for this stream's consumer (--overflow=drop).",
       &StreamCounters::dropped},
      {"qlaster_grpc_stream_gaps_total", "counter",
       "Gap records this stream's consumer read (each tells of dropped updates).",
       &StreamCounters::gaps},
      {"qlaster_grpc_stream_queue_bytes", "gauge",
       "Bytes of converted updates waiting for this stream's client.", &StreamCounters::queue_bytes},
  };
  {
    std::lock_guard lock(mu_);
    for (const PerStream& f : kPerStream) {
      w.Family(f.name, f.type, f.help);
      for (const auto& [id, s] : streams_) {
        w.Sample({"stream", absl::StrCat(id), "peer", s->peer}, Get(s->*f.field));
      }
    }
  }
  metrics::WriteProcessMetrics(metrics::ReadProcessMetrics(), w);
  return w.Take();
}

}  // namespace qlaster::grpc_endpoint
