// YellowstoneSource: the gRPC client thread, its queue, and publishing.
#include "sender/yellowstone_source.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "geyser.grpc.pb.h"
#include "shm/doorbell_queue.h"
#include "wire/yellowstone/update_convert.h"

namespace qlaster::sender {
namespace {

using yellowstone::UpstreamFrame;
using yellowstone::UpstreamMessage;

void Bump(std::atomic<uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }

// The whole subscription: everything, at processed (the sender's own filters and
// commitment levels do the rest). A filter with no fields matches every update of its
// kind; slots unfiltered by commitment carry processed, confirmed and finalized.
geyser::SubscribeRequest FullSubscription() {
  geyser::SubscribeRequest r;
  (*r.mutable_accounts())["qlaster"];
  (*r.mutable_transactions())["qlaster"];
  (*r.mutable_slots())["qlaster"].set_filter_by_commitment(false);
  (*r.mutable_blocks_meta())["qlaster"];
  (*r.mutable_entry())["qlaster"];
  r.set_commitment(geyser::PROCESSED);
  return r;
}

// What was enqueued in the newest slots, exactly, so that a stream resumed with from_slot
// (which replays the resumed slot from its start) publishes nothing twice. An update is
// identified by its kind and its fixed struct: the account's pubkey, slot and write
// version; the transaction's signature; the slot and its status; the entry's slot and
// index; the block's slot and hash. Kept for the newest kKeptSlots slots seen (the
// resume asks for the newest), so it holds what a few slots carry.
class ResumeDedup {
 public:
  // True when `frame` is new (and remembers it); false for a copy of one already seen.
  // `check`: false on a live stream, which only remembers.
  bool Admit(const UpstreamFrame& frame, bool check) {
    const uint64_t slot = frame.slot();
    if (slot > newest_) {
      newest_ = slot;
      for (auto it = seen_.begin(); it != seen_.end();) {
        if (it->first + kKeptSlots <= newest_) {
          seen_.erase(it++);
        } else {
          ++it;
        }
      }
    }
    if (slot + kKeptSlots <= newest_) return true;  // older than what resumes replay
    const absl::Span<const uint8_t> fixed = frame.update().fixed();
    std::string id(1 + fixed.size(), '\0');
    id[0] = static_cast<char>(frame.update().kind());
    std::copy(fixed.begin(), fixed.end(), id.begin() + 1);
    absl::flat_hash_set<std::string>& ids = seen_[slot];
    if (check) return ids.insert(std::move(id)).second;
    ids.insert(std::move(id));
    return true;
  }

 private:
  static constexpr uint64_t kKeptSlots = 2;
  uint64_t newest_ = 0;
  absl::flat_hash_map<uint64_t, absl::flat_hash_set<std::string>> seen_;
};

}  // namespace

class YellowstoneSource::Client {
 public:
  static constexpr size_t kQueueSize = 4096;
  using Queue = shm::DoorbellQueue<UpstreamFrame, kQueueSize>;

  Client(YellowstoneOptions options, std::string target, bool tls, std::unique_ptr<Queue> queue)
      : options_(std::move(options)),
        target_(std::move(target)),
        tls_(tls),
        queue_(std::move(queue)) {}

  ~Client() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
    watchdog_ = std::thread([this] { Watch(); });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (watchdog_.joinable()) watchdog_.join();
  }

  // Dispatch thread: publishes what the client thread queued; with nothing queued the
  // runner waits on the queue's doorbell (shm/doorbell_queue.h).
  SourceWork DoWork(Dispatcher& dispatcher) {
    const int done = queue_->Work(options_.max_frames_per_call, [&](std::unique_ptr<UpstreamFrame> frame) {
      dispatcher.Publish(frame->update(), frame->key());
      Bump(counters_.published);
    });
    return SourceWork{.done = done,
                      .next_due_ns = SourceWork::kWhenever,
                      .doorbell_fd = done == 0 ? queue_->doorbell_fd() : -1};
  }

  const YellowstoneOptions& options() const { return options_; }

 public:
  const YellowstoneCounters& counters() const { return counters_; }

 private:

  bool stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  // Waits `d` or until Stop(); false when stopping.
  bool Sleep(absl::Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return stopping_; });
    return !stopping_;
  }

  // Cancels the open stream when it has been silent for idle_timeout. Its own thread:
  // the client thread is blocked in Read while the stream is silent.
  void Watch() {
    const absl::Duration tick = std::min(options_.idle_timeout / 4, absl::Seconds(1));
    while (Sleep(tick)) {
      std::lock_guard<std::mutex> lock(mu_);
      if (context_ == nullptr) continue;
      if (absl::Now() - last_heard_ > options_.idle_timeout) {
        QLASTER_LOG(kWarning, "yellowstone %s: nothing received for %s; reconnecting",
                    options_.url, absl::FormatDuration(absl::Now() - last_heard_));
        Bump(counters_.stalls);
        context_->TryCancel();
        last_heard_ = absl::Now();  // once per stream
      }
    }
  }

  void Heard() {
    std::lock_guard<std::mutex> lock(mu_);
    last_heard_ = absl::Now();
  }

  void Run() {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.tls_ca_pem;  // empty: the system's roots
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        tls_ ? grpc::SslCredentials(ssl) : grpc::InsecureChannelCredentials();
    grpc::ChannelArguments args;
    // Account data reaches 10 MiB; gRPC's default receive limit is 4 MiB.
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // Our own backoff decides when to reconnect.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(target_, credentials, args);
    std::unique_ptr<geyser::Geyser::Stub> stub = geyser::Geyser::NewStub(channel);

    absl::Duration backoff = options_.min_backoff;
    bool resume = false;  // ask for from_slot on the next stream
    while (!stopping()) {
      bool delivered = false;
      const grpc::Status status = RunStream(*stub, resume, &delivered);
      if (stopping()) break;
      Bump(counters_.stream_errors);
      const uint64_t last = counters_.last_slot.load(std::memory_order_relaxed);
      if (resume && status.error_code() == grpc::StatusCode::OUT_OF_RANGE) {
        Bump(counters_.resume_refused);
        QLASTER_LOG(kWarning,
                    "yellowstone %s cannot replay from slot %d (%s); resubscribing live: "
                    "updates after slot %d until now are lost",
                    options_.url, last, status.error_message(), last);
        resume = false;
        continue;  // at once: every moment waited is more updates lost
      }
      if (delivered) backoff = options_.min_backoff;
      QLASTER_LOG_RATE_LIMITED(kWarning, "yellowstone %s: stream ended (%d: %s); reconnecting in %s",
                               options_.url, static_cast<int>(status.error_code()),
                               status.error_message(), absl::FormatDuration(backoff));
      resume = last != 0;
      if (!Sleep(backoff)) break;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }

  // One stream, from Subscribe until it ends; its final status.
  grpc::Status RunStream(geyser::Geyser::Stub& stub, bool resume, bool* delivered) {
    grpc::ClientContext context;
    if (!options_.x_token.empty()) context.AddMetadata("x-token", options_.x_token);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return grpc::Status::CANCELLED;
      context_ = &context;
      last_heard_ = absl::Now();
    }
    struct Unpublish {
      Client* c;
      ~Unpublish() {
        std::lock_guard<std::mutex> lock(c->mu_);
        c->context_ = nullptr;
      }
    } unpublish{this};

    Bump(counters_.connects);
    resumed_ = resume;
    auto stream = stub.Subscribe(&context);
    geyser::SubscribeRequest request = FullSubscription();
    if (resume) {
      const uint64_t from = counters_.last_slot.load(std::memory_order_relaxed);
      request.set_from_slot(from);
      Bump(counters_.resumes);
      QLASTER_LOG(kInfo, "yellowstone %s: resubscribing from slot %d", options_.url, from);
    } else {
      QLASTER_LOG(kInfo, "yellowstone %s: subscribing", options_.url);
    }
    if (stream->Write(request)) {
      geyser::SubscribeUpdate update;
      while (stream->Read(&update)) {
        Bump(counters_.messages);
        Heard();
        if (!Handle(update, *stream)) {
          context.TryCancel();
          break;
        }
        *delivered = true;
      }
    }
    stream->WritesDone();
    return stream->Finish();
  }

  // False when the stream should end (stopping).
  bool Handle(const geyser::SubscribeUpdate& update,
              grpc::ClientReaderWriter<geyser::SubscribeRequest, geyser::SubscribeUpdate>& stream) {
    absl::StatusOr<UpstreamMessage> message = yellowstone::FromSubscribeUpdate(update, options_.lz4);
    if (!message.ok()) {
      Bump(counters_.malformed);
      QLASTER_LOG_RATE_LIMITED(kWarning, "yellowstone %s: message skipped: %s", options_.url,
                               message.status().ToString());
      return true;
    }
    switch (message->type) {
      case UpstreamMessage::Type::kFrame:
        return Enqueue(std::move(message->frame));
      case UpstreamMessage::Type::kPing: {
        // Answered with the subscription itself (Yellowstone's clients do this: a request
        // replaces the subscription, so it must be the same one), never from_slot again.
        geyser::SubscribeRequest pong = FullSubscription();
        pong.mutable_ping()->set_id(1);
        Bump(counters_.pings);
        stream.Write(pong);
        return true;
      }
      case UpstreamMessage::Type::kPong:
        return true;
      case UpstreamMessage::Type::kIgnored:
        Bump(counters_.ignored);
        return true;
    }
    return true;
  }

  bool Enqueue(std::unique_ptr<UpstreamFrame> frame) {
    if (!dedup_.Admit(*frame, resumed_)) {
      Bump(counters_.resume_duplicates);
      return true;
    }
    const uint64_t slot = frame->slot();
    if (slot > counters_.last_slot.load(std::memory_order_relaxed)) {
      counters_.last_slot.store(slot, std::memory_order_relaxed);
    }
    if (queue_->Push(frame)) return true;
    Bump(counters_.queue_full_waits);
    // The dispatcher is behind: wait for room rather than drop. Not reading makes gRPC's
    // flow control hold the upstream back.
    while (!queue_->Push(frame)) {
      if (!Sleep(absl::Microseconds(20))) return false;
    }
    return true;
  }

  const YellowstoneOptions options_;
  const std::string target_;
  const bool tls_;
  YellowstoneCounters counters_;
  std::unique_ptr<Queue> queue_;           // client thread -> dispatch thread
  ResumeDedup dedup_;                      // client thread
  bool resumed_ = false;                   // client thread: this stream asked for from_slot

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                     // guarded by mu_
  grpc::ClientContext* context_ = nullptr;    // guarded by mu_: the stream to cancel
  absl::Time last_heard_;                     // guarded by mu_: the stream's last message
  std::thread thread_;
  std::thread watchdog_;
};

absl::StatusOr<std::unique_ptr<YellowstoneSource>> YellowstoneSource::Open(
    const YellowstoneOptions& options) {
  const std::string& url = options.url;
  bool tls = false;
  std::string target;
  if (absl::StartsWith(url, "http://")) {
    target = url.substr(7);
  } else if (absl::StartsWith(url, "https://")) {
    target = url.substr(8);
    tls = true;
  }
  if (!target.empty() && target.back() == '/') target.pop_back();
  const size_t colon = target.rfind(':');
  uint32_t port = 0;
  if (target.empty() || colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(target.substr(colon + 1), &port) || port == 0 || port > 65535 ||
      target.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "yellowstone URL '", url, "' is not http://HOST:PORT or https://HOST:PORT"));
  }
  if (options.min_backoff <= absl::ZeroDuration() || options.max_backoff < options.min_backoff) {
    return absl::InvalidArgumentError("yellowstone backoff: need 0 < min_backoff <= max_backoff");
  }
  if (!options.tls_ca_pem.empty() && !tls) {
    return absl::InvalidArgumentError("a yellowstone TLS CA is for https:// upstreams only");
  }
  if (options.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("yellowstone idle_timeout must be > 0");
  }
  if (options.max_frames_per_call == 0) {
    return absl::InvalidArgumentError("yellowstone max_frames_per_call must be > 0");
  }
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<Client::Queue> queue, Client::Queue::Create());
  auto client = std::make_unique<Client>(options, target, tls, std::move(queue));
  client->Start();
  return std::unique_ptr<YellowstoneSource>(new YellowstoneSource(std::move(client)));
}

YellowstoneSource::YellowstoneSource(std::unique_ptr<Client> client) : client_(std::move(client)) {}

YellowstoneSource::~YellowstoneSource() = default;

std::string YellowstoneSource::name() const { return "yellowstone:" + client_->options().url; }

absl::StatusOr<SourceWork> YellowstoneSource::DoWork(Dispatcher& dispatcher, int64_t) {
  return client_->DoWork(dispatcher);
}

const YellowstoneCounters& YellowstoneSource::counters() const { return client_->counters(); }

SourceCounts YellowstoneSource::Counts() const {
  const YellowstoneCounters& c = counters();
  SourceCounts out;
  out.updates = c.published.load(std::memory_order_relaxed);
  out.rejects = {{"malformed", c.malformed.load(std::memory_order_relaxed)},
                 {"duplicate", c.resume_duplicates.load(std::memory_order_relaxed)}};
  return out;
}

void YellowstoneSource::AppendCounters(std::vector<SourceCounterEntry>* out) const {
  const YellowstoneCounters& c = counters();
  const std::string source = name();
  for (const auto& [counter, value] : {std::pair<const char*, const std::atomic<uint64_t>*>{"messages", &c.messages},
                                       {"published", &c.published},
                                       {"malformed", &c.malformed},
                                       {"ignored", &c.ignored},
                                       {"pings", &c.pings},
                                       {"connects", &c.connects},
                                       {"stream_errors", &c.stream_errors},
                                       {"resumes", &c.resumes},
                                       {"resume_refused", &c.resume_refused},
                                       {"resume_duplicates", &c.resume_duplicates},
                                       {"queue_full_waits", &c.queue_full_waits},
                                       {"stalls", &c.stalls},
                                       {"last_slot", &c.last_slot}}) {
    out->push_back({source, counter, value->load(std::memory_order_relaxed)});
  }
}

}  // namespace qlaster::sender
