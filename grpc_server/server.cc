#include "grpc_server/server.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/base58.h"
#include "base/log.h"
#include "geyser.grpc.pb.h"
#include "grpc_server/endpoint_metrics.h"
#include "grpc_server/event_convert.h"
#include "grpc_server/request_convert.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "metrics/http_server.h"
#include "qlaster/consumer.hpp"
#include "wire/control_framing.h"

namespace qlaster::grpc_endpoint {
namespace {

using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;

// Blockhashes stay valid for this many blocks (Solana's MAX_PROCESSING_AGE).
constexpr uint64_t kBlockhashValidBlocks = 150;
constexpr size_t kKeptBlockMetas = 512;

::grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return ::grpc::Status::OK;
  return ::grpc::Status(static_cast<::grpc::StatusCode>(s.code()), std::string(s.message()));
}

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

// ---------------------------------------------------------------- chain state
// What the unary RPCs answer from: the newest slot at each commitment and the block
// metas of recent slots, fed by one consumer of slots and block meta.
class ChainState {
 public:
  ChainState(std::string socket) : socket_(std::move(socket)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ChainState() {
    stop_ = true;
    thread_.join();
  }

  struct Meta {
    uint64_t slot = 0;
    std::string blockhash;
    uint64_t block_height = 0;
  };

  absl::StatusOr<uint64_t> Slot(Commitment c) const {
    std::lock_guard lock(mu_);
    const uint64_t s = slot_[static_cast<int>(c)];
    if (s == 0) return absl::UnavailableError("qlaster-grpc has seen no slot at that commitment yet");
    return s;
  }
  // The block meta of the newest slot at commitment `c` that has one.
  absl::StatusOr<Meta> Latest(Commitment c) const {
    std::lock_guard lock(mu_);
    const uint64_t s = slot_[static_cast<int>(c)];
    auto it = metas_.upper_bound(c == Commitment::kProcessed ? UINT64_MAX : s);
    if (it == metas_.begin()) {
      return absl::UnavailableError("qlaster-grpc has seen no block meta at that commitment yet");
    }
    return std::prev(it)->second;
  }
  std::optional<Meta> Find(const std::string& blockhash) const {
    std::lock_guard lock(mu_);
    for (const auto& [slot, m] : metas_) {
      if (m.blockhash == blockhash) return m;
    }
    return std::nullopt;
  }

 private:
  void Run() {
    while (!stop_) {
      ConsumerOptions o;
      o.name = "qlaster-grpc chain state";
      o.wait_mode = WaitMode::kSleep;
      absl::StatusOr<Consumer> c = Consumer::Connect(socket_, o);
      if (!c.ok()) {
        QLASTER_LOG_RATE_LIMITED(kWarning, "chain state: %s", c.status().ToString());
        for (int i = 0; i < 10 && !stop_; ++i) usleep(50'000);
        continue;
      }
      Subscription sub;
      sub.slots["chain"] = SlotSelector{.interslot_updates = false};
      sub.blocks_meta.insert("chain");
      if (absl::StatusOr<SubscribeResult> r = c->SetSubscription(sub); !r.ok()) {
        QLASTER_LOG_RATE_LIMITED(kWarning, "chain state: %s", r.status().ToString());
        for (int i = 0; i < 10 && !stop_; ++i) usleep(50'000);  // as after a failed connect
        continue;
      }
      while (!stop_) {
        (void)c->Wait(absl::Milliseconds(50));
        absl::StatusOr<int> n = c->Poll([this](const Event& e) { Apply(e); });
        if (!n.ok()) break;
      }
    }
  }
  void Apply(const Event& e) {
    std::lock_guard lock(mu_);
    if (const SlotEvent* s = e.slot()) {
      int level = -1;
      if (s->state == SlotStatus::kProcessed) level = 0;
      if (s->state == SlotStatus::kConfirmed) level = 1;
      if (s->state == SlotStatus::kRooted) level = 2;
      if (level >= 0 && s->slot > slot_[level]) slot_[level] = s->slot;
    } else if (const BlockMetaEvent* m = e.block_meta()) {
      metas_[m->slot] = Meta{m->slot, Base58Encode(m->blockhash), m->block_height};
      while (metas_.size() > kKeptBlockMetas) metas_.erase(metas_.begin());
    }
  }

  const std::string socket_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  uint64_t slot_[3] = {0, 0, 0};
  std::map<uint64_t, Meta> metas_;
  std::thread thread_;
};

// ---------------------------------------------------------------- Subscribe
struct Shared {
  ServerOptions options;
  std::atomic<int> streams{0};
  std::atomic<uint64_t> next_stream{1};
  EndpointMetrics metrics;
};

SentKind KindOf(const geyser::SubscribeUpdate& u) {
  switch (u.update_oneof_case()) {
    case geyser::SubscribeUpdate::kAccount: return SentKind::kAccount;
    case geyser::SubscribeUpdate::kSlot: return SentKind::kSlot;
    case geyser::SubscribeUpdate::kTransaction: return SentKind::kTransaction;
    case geyser::SubscribeUpdate::kTransactionStatus: return SentKind::kTransactionStatus;
    case geyser::SubscribeUpdate::kBlockMeta: return SentKind::kBlockMeta;
    case geyser::SubscribeUpdate::kEntry: return SentKind::kEntry;
    case geyser::SubscribeUpdate::kPing: return SentKind::kPing;
    case geyser::SubscribeUpdate::kPong: return SentKind::kPong;
    default: return SentKind::kOther;
  }
}

// Why a request that ToSubscription refused was refused.
Rejection RejectionOf(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnimplemented ? Rejection::kUnimplemented
                                                     : Rejection::kInvalidArgument;
}

// One Subscribe stream. Owns itself: deleted in OnDone, after its consumer thread ended.
class Stream : public ::grpc::ServerBidiReactor<geyser::SubscribeRequest, geyser::SubscribeUpdate> {
 public:
  Stream(Shared* shared, CallbackServerContext* ctx) : shared_(shared), ctx_(ctx) {
    id_ = shared_->next_stream.fetch_add(1);
    // gzip for a client that accepts it: a compression level lets gRPC pick, per call,
    // among the algorithms the server supports (gzip alone: Init disables deflate) the one
    // the client's grpc-accept-encoding lists, and none when it lists none. Set before
    // the initial metadata, which carries the choice.
    if (shared_->options.gzip) ctx_->set_compression_level(GRPC_COMPRESS_LEVEL_LOW);
    StartSendInitialMetadata();
    if (shared_->streams.fetch_add(1) >= shared_->options.max_streams) {
      shared_->streams.fetch_sub(1);
      shared_->metrics.Rejected(Rejection::kTooManyStreams);
      Fail(absl::ResourceExhaustedError(absl::StrCat(
          "qlaster-grpc serves at most ", shared_->options.max_streams, " Subscribe streams")));
      return;
    }
    counted_ = true;
    counters_.id = static_cast<uint64_t>(id_);
    counters_.peer = ctx_->peer();
    shared_->metrics.StreamOpened(&counters_);
    thread_ = std::thread([this] { Run(); });
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the client half-closed or went away; OnCancel or a failure ends it
    std::unique_lock lock(mu_);
    if (request_.has_ping()) pongs_.push_back(request_.ping().id());
    if (!IsPingOnly(request_)) {
      absl::StatusOr<Subscription> sub = ToSubscription(request_);
      if (!sub.ok()) {
        lock.unlock();
        shared_->metrics.Rejected(RejectionOf(sub.status()));
        Fail(sub.status());
        return;
      }
      if (absl::Status s = CheckFilterLimits(*sub, shared_->options.limits); !s.ok()) {
        lock.unlock();
        shared_->metrics.Rejected(Rejection::kFilterLimit);
        Fail(s);
        return;
      }
      pending_ = std::move(*sub);
    }
    cv_.notify_all();
    lock.unlock();
    request_.Clear();
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    if (ok && writing_) shared_->metrics.Sent(&counters_, KindOf(*writing_), writing_bytes_);
    writing_.reset();
    if (!ok) {
      stop_ = true;
      cv_.notify_all();
      MaybeFinishLocked(lock, absl::CancelledError("the client went away"));
      return;
    }
    StartNextWriteLocked(lock);
  }

  void OnCancel() override {
    std::unique_lock lock(mu_);
    stop_ = true;
    cv_.notify_all();
    MaybeFinishLocked(lock, absl::CancelledError("cancelled"));
  }

  void OnDone() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    if (counted_) {
      shared_->metrics.StreamEnded(&counters_, final_status_.value_or(absl::CancelledError()));
      shared_->streams.fetch_sub(1);
    }
    delete this;
  }

 private:
  // Ends the stream with `status` once the write in flight (if any) completes.
  void Fail(const absl::Status& status) {
    std::unique_lock lock(mu_);
    stop_ = true;
    cv_.notify_all();
    MaybeFinishLocked(lock, status);
  }
  void MaybeFinishLocked(std::unique_lock<std::mutex>& lock, const absl::Status& status) {
    if (!final_status_.has_value()) {
      final_status_ = status;
      if (!status.ok() && status.code() != absl::StatusCode::kCancelled) {
        QLASTER_LOG_RATE_LIMITED(kInfo, "stream %d: ends: %s", id_, status.ToString());
      }
    }
    queue_.clear();
    queued_bytes_ = 0;
    counters_.queue_bytes.store(0, std::memory_order_relaxed);
    if (writing_ || finish_called_) return;
    finish_called_ = true;
    const ::grpc::Status s = ToGrpc(*final_status_);
    lock.unlock();
    Finish(s);
    lock.lock();
  }
  void EnqueueLocked(std::unique_lock<std::mutex>& lock, std::unique_ptr<geyser::SubscribeUpdate> u) {
    if (final_status_.has_value()) return;
    queued_bytes_ += u->ByteSizeLong();
    counters_.queue_bytes.store(queued_bytes_, std::memory_order_relaxed);
    queue_.push_back({std::move(u), NowNs()});
    if (!writing_) StartNextWriteLocked(lock);
  }
  void StartNextWriteLocked(std::unique_lock<std::mutex>& lock) {
    if (final_status_.has_value()) {
      MaybeFinishLocked(lock, *final_status_);
      return;
    }
    if (queue_.empty()) return;
    writing_ = std::move(queue_.front().update);
    write_started_ns_ = queue_.front().queued_ns;
    writing_bytes_ = writing_->ByteSizeLong();
    queued_bytes_ -= writing_bytes_;
    counters_.queue_bytes.store(queued_bytes_, std::memory_order_relaxed);
    queue_.pop_front();
    cv_.notify_all();
    geyser::SubscribeUpdate* u = writing_.get();
    // More behind it: let gRPC coalesce this one with the next (the last one of a burst
    // is flushed at once).
    ::grpc::WriteOptions options;
    if (!queue_.empty()) options.set_buffer_hint();
    lock.unlock();
    StartWrite(u, options);
    lock.lock();
  }

  // The consumer thread.
  void Run() {
    const ServerOptions& o = shared_->options;
    std::optional<Consumer> consumer;
    uint64_t next_ping_ns = NowNs() + static_cast<uint64_t>(absl::ToInt64Nanoseconds(o.server_ping_interval));
    uint64_t dropped = 0;
    std::unique_lock lock(mu_);
    while (!stop_) {
      // Requests the reader has taken.
      for (int32_t id : pongs_) {
        auto u = std::make_unique<geyser::SubscribeUpdate>();
        u->mutable_pong()->set_id(id);
        EnqueueLocked(lock, std::move(u));
      }
      pongs_.clear();
      if (pending_.has_value()) {
        Subscription sub = std::move(*pending_);
        pending_.reset();
        lock.unlock();
        absl::Status s = Apply(consumer, sub);
        lock.lock();
        if (!s.ok()) {
          MaybeFinishLocked(lock, s);
          break;
        }
      }
      const uint64_t now = NowNs();
      if (now >= next_ping_ns) {
        auto u = std::make_unique<geyser::SubscribeUpdate>();
        u->mutable_ping();
        EnqueueLocked(lock, std::move(u));
        next_ping_ns = now + static_cast<uint64_t>(absl::ToInt64Nanoseconds(o.server_ping_interval));
      }
      if (writing_ && now - write_started_ns_ > static_cast<uint64_t>(absl::ToInt64Nanoseconds(o.slow_client_timeout))) {
        // The write in flight does not complete: cancelling the call is the only way to
        // end it (the client, if it ever reads again, sees CANCELLED).
        shared_->metrics.SlowClientEnded(SlowEnd::kWriteTimeout);
        MaybeFinishLocked(lock, absl::ResourceExhaustedError(absl::StrCat(
            "the client did not read this stream's updates for ", absl::FormatDuration(o.slow_client_timeout),
            ": ended (qlaster-grpc --slow_client_timeout)")));
        ctx_->TryCancel();
        break;
      }
      if (!consumer.has_value() || queued_bytes_ >= o.stream_queue_bytes) {
        // Nothing to read yet, or the client is behind: wait for it (the ring fills; the
        // sender drops or evicts for this consumer alone).
        cv_.wait_for(lock, std::chrono::milliseconds(20));
        continue;
      }
      lock.unlock();
      (void)consumer->Wait(absl::Milliseconds(20));
      absl::Status failure;
      std::vector<std::unique_ptr<geyser::SubscribeUpdate>> out;
      absl::StatusOr<int> n = consumer->Poll([&](const Event& e) {
        switch (e.kind) {
          case EventKind::kGap:
            dropped += e.gap()->dropped;
            EndpointMetrics::Add(counters_.dropped, e.gap()->dropped);
            EndpointMetrics::Add(counters_.gaps);
            QLASTER_LOG_RATE_LIMITED(kWarning, "stream %d: the sender dropped %d updates for this slow client (%d in all)",
                                     id_, e.gap()->dropped, dropped);
            return;
          case EventKind::kDisconnected: {
            const std::string reason(e.disconnected()->reason);
            if (absl::StrContains(reason, "slow") || absl::StrContains(reason, "evict")) {
              shared_->metrics.SlowClientEnded(SlowEnd::kEvicted);
              failure = absl::ResourceExhaustedError(absl::StrCat(
                  "this stream did not keep up with the feed and was ended: ", reason));
            } else {
              failure = absl::UnavailableError(absl::StrCat("lost the qlaster-sender: ", reason));
            }
            return;
          }
          case EventKind::kReconnected:
            return;
          default:
            break;
        }
        std::vector<std::string> names = consumer->FilterNames(e);
        if (names.empty()) return;  // slot updates the stream did not ask for
        auto u = std::make_unique<geyser::SubscribeUpdate>();
        if (absl::Status s = FillUpdate(e, names, u.get()); !s.ok()) {
          QLASTER_LOG_RATE_LIMITED(kWarning, "stream %d: update skipped: %s", id_, s.ToString());
          return;
        }
        out.push_back(std::move(u));
      }, 256);
      lock.lock();
      for (auto& u : out) EnqueueLocked(lock, std::move(u));
      if (failure.ok() && !n.ok()) failure = n.status();
      if (!failure.ok()) {
        MaybeFinishLocked(lock, failure);
        break;
      }
    }
    lock.unlock();
    if (consumer.has_value()) consumer->Close();
  }

  absl::Status Apply(std::optional<Consumer>& consumer, const Subscription& sub) {
    const ServerOptions& o = shared_->options;
    if (!consumer.has_value()) {
      ConsumerOptions co;
      co.name = absl::StrCat("grpc ", ctx_->peer()).substr(0, 64);
      for (char& ch : co.name) {
        if (ch < 0x20 || ch > 0x7e) ch = '?';
      }
      co.ring_bytes = o.ring_bytes;
      co.overflow = o.overflow;
      co.auto_reconnect = false;
      co.wait_mode = WaitMode::kSleep;
      absl::StatusOr<Consumer> c = Consumer::Connect(o.sender_socket, co);
      if (!c.ok()) {
        return absl::Status(c.status().code(), absl::StrCat("qlaster-sender: ", c.status().message()));
      }
      consumer.emplace(std::move(*c));
    }
    absl::StatusOr<SubscribeResult> r = consumer->SetSubscription(sub);
    if (!r.ok()) shared_->metrics.Rejected(Rejection::kSenderRefused);
    return r.status();
  }

  struct Queued {
    std::unique_ptr<geyser::SubscribeUpdate> update;
    uint64_t queued_ns = 0;
  };

  Shared* const shared_;
  CallbackServerContext* const ctx_;
  int id_ = 0;
  bool counted_ = false;
  geyser::SubscribeRequest request_;  // the read in flight

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::optional<Subscription> pending_;
  std::vector<int32_t> pongs_;
  std::deque<Queued> queue_;
  uint64_t queued_bytes_ = 0;
  std::unique_ptr<geyser::SubscribeUpdate> writing_;
  uint64_t writing_bytes_ = 0;
  uint64_t write_started_ns_ = 0;
  StreamCounters counters_;
  std::optional<absl::Status> final_status_;
  bool finish_called_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------- the service
class Service final : public geyser::Geyser::CallbackService {
 public:
  Service(Shared* shared, ChainState* chain) : shared_(shared), chain_(chain) {}

  ::grpc::ServerBidiReactor<geyser::SubscribeRequest, geyser::SubscribeUpdate>* Subscribe(
      CallbackServerContext* ctx) override {
    if (absl::Status s = Authorize(ctx); !s.ok()) {
      class Refuse : public ::grpc::ServerBidiReactor<geyser::SubscribeRequest, geyser::SubscribeUpdate> {
       public:
        explicit Refuse(const absl::Status& s) { Finish(ToGrpc(s)); }
        void OnDone() override { delete this; }
      };
      return new Refuse(s);
    }
    return new Stream(shared_, ctx);
  }

  ServerUnaryReactor* Ping(CallbackServerContext* ctx, const geyser::PingRequest* req,
                           geyser::PongResponse* resp) override {
    return Unary(ctx, [&] {
      resp->set_count(req->count());
      return absl::OkStatus();
    });
  }
  ServerUnaryReactor* GetSlot(CallbackServerContext* ctx, const geyser::GetSlotRequest* req,
                              geyser::GetSlotResponse* resp) override {
    return Unary(ctx, [&]() -> absl::Status {
      absl::StatusOr<uint64_t> s = chain_->Slot(ToLevel(req->commitment()));
      if (!s.ok()) return s.status();
      resp->set_slot(*s);
      return absl::OkStatus();
    });
  }
  ServerUnaryReactor* GetBlockHeight(CallbackServerContext* ctx, const geyser::GetBlockHeightRequest* req,
                                     geyser::GetBlockHeightResponse* resp) override {
    return Unary(ctx, [&]() -> absl::Status {
      absl::StatusOr<ChainState::Meta> m = chain_->Latest(ToLevel(req->commitment()));
      if (!m.ok()) return m.status();
      resp->set_block_height(m->block_height);
      return absl::OkStatus();
    });
  }
  ServerUnaryReactor* GetLatestBlockhash(CallbackServerContext* ctx,
                                         const geyser::GetLatestBlockhashRequest* req,
                                         geyser::GetLatestBlockhashResponse* resp) override {
    return Unary(ctx, [&]() -> absl::Status {
      absl::StatusOr<ChainState::Meta> m = chain_->Latest(ToLevel(req->commitment()));
      if (!m.ok()) return m.status();
      resp->set_slot(m->slot);
      resp->set_blockhash(m->blockhash);
      resp->set_last_valid_block_height(m->block_height + kBlockhashValidBlocks);
      return absl::OkStatus();
    });
  }
  ServerUnaryReactor* IsBlockhashValid(CallbackServerContext* ctx,
                                       const geyser::IsBlockhashValidRequest* req,
                                       geyser::IsBlockhashValidResponse* resp) override {
    return Unary(ctx, [&]() -> absl::Status {
      absl::StatusOr<ChainState::Meta> latest = chain_->Latest(ToLevel(req->commitment()));
      if (!latest.ok()) return latest.status();
      std::optional<ChainState::Meta> m = chain_->Find(req->blockhash());
      resp->set_slot(latest->slot);
      resp->set_valid(m.has_value() && m->block_height + kBlockhashValidBlocks >= latest->block_height);
      return absl::OkStatus();
    });
  }
  ServerUnaryReactor* GetVersion(CallbackServerContext* ctx, const geyser::GetVersionRequest*,
                                 geyser::GetVersionResponse* resp) override {
    return Unary(ctx, [&] {
      char host[256] = {};
      gethostname(host, sizeof(host) - 1);
      std::string h;
      for (const char* p = host; *p; ++p) {
        if (*p != '"' && *p != '\\' && *p >= 0x20) h.push_back(*p);
      }
      resp->set_version(absl::StrCat(
          R"({"version":{"package":"qlaster-grpc","version":")", shared_->options.version,
          R"(","proto":"yellowstone-grpc-proto 12"},"extra":{"hostname":")", h, R"("}})"));
      return absl::OkStatus();
    });
  }
  ServerUnaryReactor* SubscribeReplayInfo(CallbackServerContext* ctx,
                                          const geyser::SubscribeReplayInfoRequest*,
                                          geyser::SubscribeReplayInfoResponse* resp) override {
    // The oldest slot a from_slot may name now, as the sender's statistics tell it (left
    // unset when the sender keeps no update log).
    return Unary(ctx, [&]() -> absl::Status {
      absl::StatusOr<StatsMsg> stats = QuerySenderStats(shared_->options.sender_socket, absl::Seconds(2));
      if (!stats.ok()) return absl::UnavailableError(stats.status().message());
      if (stats->oldest_replay_slot.has_value()) resp->set_first_available(*stats->oldest_replay_slot);
      return absl::OkStatus();
    });
  }

 private:
  static Commitment ToLevel(int c) {
    if (c == geyser::CONFIRMED) return Commitment::kConfirmed;
    if (c == geyser::FINALIZED) return Commitment::kFinalized;
    return Commitment::kProcessed;
  }
  absl::Status Authorize(CallbackServerContext* ctx) const {
    const std::string& token = shared_->options.x_token;
    if (token.empty()) return absl::OkStatus();
    const auto& md = ctx->client_metadata();
    auto it = md.find("x-token");
    if (it == md.end()) return Refuse(ctx, "x-token metadata required");
    if (std::string_view(it->second.data(), it->second.size()) != token) {
      return Refuse(ctx, "x-token refused");
    }
    return absl::OkStatus();
  }
  absl::Status Refuse(CallbackServerContext* ctx, const char* why) const {
    shared_->metrics.AuthRefused();
    QLASTER_LOG_RATE_LIMITED(kWarning, "call from %s refused: %s", ctx->peer(), why);
    return absl::UnauthenticatedError(why);
  }
  template <typename F>
  ServerUnaryReactor* Unary(CallbackServerContext* ctx, F&& body) {
    ServerUnaryReactor* r = ctx->DefaultReactor();
    absl::Status s = Authorize(ctx);
    if (s.ok()) s = body();
    r->Finish(ToGrpc(s));
    return r;
  }

  Shared* const shared_;
  ChainState* const chain_;
};

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(ServerOptions options) {
    shared_.options = std::move(options);
  }
  ~ServerImpl() override { Shutdown(); }

  absl::Status Init() {
    const ServerOptions& o = shared_.options;
    if (o.sender_socket.empty()) return absl::InvalidArgumentError("no sender socket");
    if (o.listen.empty()) return absl::InvalidArgumentError("no listen address");
    chain_ = std::make_unique<ChainState>(o.sender_socket);
    service_ = std::make_unique<Service>(&shared_, chain_.get());
    ::grpc::EnableDefaultHealthCheckService(true);
    ::grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(o.max_request_bytes);
    // Of the compression algorithms, gzip only (Yellowstone's clients speak gzip; deflate
    // would be what a client that does not ask for gzip gets at our compression level).
    builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
    // Tolerate clients' HTTP/2 keep-alive pings (Yellowstone clients send one every 10 s
    // or more often, with or without streams).
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    if (o.tls_cert_pem.empty() != o.tls_key_pem.empty()) {
      return absl::InvalidArgumentError("TLS needs both a certificate and a key");
    }
    std::shared_ptr<::grpc::ServerCredentials> tcp = ::grpc::InsecureServerCredentials();
    if (!o.tls_cert_pem.empty()) {
      ::grpc::SslServerCredentialsOptions ssl;
      ssl.pem_key_cert_pairs.push_back({o.tls_key_pem, o.tls_cert_pem});
      tcp = ::grpc::SslServerCredentials(ssl);
    }
    ports_.assign(o.listen.size(), 0);
    for (size_t i = 0; i < o.listen.size(); ++i) {
      const bool unix_socket = absl::StartsWith(o.listen[i], "unix:");
      builder.AddListeningPort(o.listen[i], unix_socket ? ::grpc::InsecureServerCredentials() : tcp,
                               unix_socket ? nullptr : &ports_[i]);
    }
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    if (server_ == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on the addresses given",
          o.tls_cert_pem.empty() ? "" : " (or the TLS certificate and key are not a valid PEM pair)"));
    }
    for (size_t i = 0; i < o.listen.size(); ++i) {
      if (!absl::StartsWith(o.listen[i], "unix:") && ports_[i] == 0) {
        return absl::UnavailableError(absl::StrCat("cannot listen on ", o.listen[i]));
      }
    }
    if (!o.metrics_address.empty()) {
      absl::StatusOr<std::unique_ptr<metrics::HttpServer>> m = metrics::HttpServer::Start(
          o.metrics_address, [this]() -> std::optional<std::string> {
            return shared_.metrics.Render(shared_.options.version);
          },
          {.server = "qlaster-grpc", .unavailable = "qlaster-grpc did not answer in time\n"});
      if (!m.ok()) return m.status();
      metrics_ = *std::move(m);
    }
    return absl::OkStatus();
  }
  std::string metrics_address() const override {
    return metrics_ ? metrics_->address() : std::string();
  }

  std::vector<int> ports() const override {
    std::vector<int> out;
    for (size_t i = 0; i < shared_.options.listen.size(); ++i) {
      if (!absl::StartsWith(shared_.options.listen[i], "unix:")) out.push_back(ports_[i]);
    }
    return out;
  }
  void Shutdown() override {
    std::lock_guard lock(mu_);
    if (down_) return;
    down_ = true;
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    chain_.reset();
    metrics_.reset();
  }
  void Wait() override {
    if (server_) server_->Wait();
  }

 private:
  Shared shared_;
  std::unique_ptr<ChainState> chain_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<::grpc::Server> server_;
  std::vector<int> ports_;
  std::mutex mu_;
  bool down_ = false;
  std::unique_ptr<metrics::HttpServer> metrics_;  // scrapes read shared_: reset before it goes
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  auto s = std::make_unique<ServerImpl>(std::move(options));
  if (absl::Status st = s->Init(); !st.ok()) return st;
  return s;
}

}  // namespace qlaster::grpc_endpoint
