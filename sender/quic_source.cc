// The relay gateway as a source (quic_source.h).
#include "sender/quic_source.h"

#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "relay/gateway.h"
#include "relay/quic_endpoint.h"
#include "relay/tls.h"
#include "shm/doorbell_queue.h"
#include "wire/frame.h"
#include "wire/lz4_policy.h"

namespace qlaster::sender {
namespace asio = boost::asio;

namespace {

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

// What the network thread hands the dispatch thread: a validated frame, or a gap.
struct Item {
  std::vector<uint8_t> frame;  // owns the bytes `update` points into
  std::optional<EncodedUpdate> update;
  RouteKey key;
  uint64_t gap = 0;
};

// What identifies an update whatever path brought it (quic_source.h).
uint64_t Identity(const CheckedFrame& f) {
  switch (f.kind) {
    case fb::UpdateKind::Account:
      return absl::HashOf(1, absl::string_view(reinterpret_cast<const char*>(f.account.pubkey().bytes()->data()), 32),
                          f.account.slot(), f.account.write_version());
    case fb::UpdateKind::Transaction:
      return absl::HashOf(2, absl::string_view(reinterpret_cast<const char*>(f.transaction.signature().bytes()->data()), 64));
    case fb::UpdateKind::TransactionStatus:
      return absl::HashOf(3, absl::string_view(reinterpret_cast<const char*>(f.transaction_status.signature().bytes()->data()), 64));
    case fb::UpdateKind::Slot:
      return absl::HashOf(4, f.slot.slot(), static_cast<int>(f.slot.status()));
    case fb::UpdateKind::BlockMeta:
      return absl::HashOf(5, f.block_meta.slot());
    case fb::UpdateKind::Entry:
      return absl::HashOf(6, f.entry.slot(), f.entry.index());
    default:
      return absl::HashOf(7, f.header.sequence());
  }
}

// The identities of the last `capacity` updates.
class DedupWindow {
 public:
  explicit DedupWindow(size_t capacity) : capacity_(capacity) { seen_.reserve(capacity); }
  // True the first time `id` is seen in the window.
  bool Admit(uint64_t id) {
    if (!seen_.insert(id).second) return false;
    order_.push_back(id);
    if (order_.size() > capacity_) {
      seen_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

 private:
  size_t capacity_;
  absl::flat_hash_set<uint64_t> seen_;
  std::deque<uint64_t> order_;
};

}  // namespace

class QuicSource::Network : public relay::GatewaySink {
 public:
  Network(QuicSourceOptions options, std::unique_ptr<relay::TlsCredentials> creds,
          std::unique_ptr<shm::DoorbellQueue<Item, 65536>> queue)
      : options_(std::move(options)),
        creds_(std::move(creds)),
        queue_(std::move(queue)),
        dedup_(options_.dedup_window),
        stats_timer_(io_) {}

  absl::Status Start() {
    QLASTER_ASSIGN_OR_RETURN(asio::ip::udp::endpoint listen, relay::ResolveUdp(options_.listen));
    relay::QuicOptions quic;
    quic.credentials = creds_.get();
    QLASTER_ASSIGN_OR_RETURN(gateway_, relay::Gateway::Start(io_, listen, quic, this));
    port_ = gateway_->port();
    name_ = absl::StrCat("quic:", listen.address().to_string(), ":", port_);
    QLASTER_LOG(kInfo, "relay gateway listening on UDP %s:%d", listen.address().to_string(), port_);
    Snapshot();
    thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      io_.run();
    });
    return absl::OkStatus();
  }

  void Stop() {
    asio::post(io_, [this] {
      if (gateway_ != nullptr) gateway_->CloseAll("the gateway's sender is stopping");
      stats_timer_.cancel();
      // Let the CONNECTION_CLOSEs leave, then stop.
      asio::post(io_, [this] { io_.stop(); });
    });
    if (thread_.joinable()) thread_.join();
    gateway_.reset();
  }

  // ---- dispatch thread
  SourceWork DoWork(Dispatcher& dispatcher) {
    const int done = queue_->Work(options_.max_frames_per_call, [&](std::unique_ptr<Item> item) {
      if (item->gap > 0) {
        dispatcher.PublishGap(item->gap);
      } else {
        dispatcher.Publish(*item->update, item->key);
        Bump(counters_.published);
      }
    });
    return SourceWork{.done = done,
                      .next_due_ns = SourceWork::kWhenever,
                      .doorbell_fd = done == 0 ? queue_->doorbell_fd() : -1};
  }

  // ---- network thread (GatewaySink)
  absl::Status Publish(uint64_t, relay::StreamClass, uint64_t, std::vector<uint8_t> frame) override {
    auto item = std::make_unique<Item>();
    item->frame = std::move(frame);
    absl::StatusOr<EncodedUpdate> update =
        EncodedUpdate::FromFrame(item->frame, Lz4Policy::Never(), &item->key);
    if (!update.ok()) {
      Bump(counters_.malformed);
      return update.status();
    }
    if (update->kind() == fb::UpdateKind::Gap) {
      Bump(counters_.malformed);
      return absl::InvalidArgumentError("a gap frame in an UPDATE (gaps travel as GAP messages)");
    }
    if (options_.dedup) {
      CheckedFrame checked;
      QLASTER_RETURN_IF_ERROR(CheckFrame(item->frame, &checked));
      if (!dedup_.Admit(Identity(checked))) {
        Bump(counters_.duplicates);
        return absl::OkStatus();
      }
    }
    item->update.emplace(*std::move(update));
    Hand(std::move(item), 1);
    return absl::OkStatus();
  }

  void Gap(uint64_t, relay::StreamClass, uint64_t count) override {
    Bump(counters_.gap_updates, count);
    auto item = std::make_unique<Item>();
    item->gap = count;
    Hand(std::move(item), 0);
  }

  // ---- any thread
  const QuicSourceCounters& counters() const { return counters_; }
  const std::string& name() const { return name_; }
  uint16_t port() const { return port_; }
  std::vector<relay::GatewaySessionInfo> sessions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_;
  }

 private:
  // Queues `item` behind any gap still owed; a full queue turns it into more of that gap.
  void Hand(std::unique_ptr<Item> item, uint64_t updates) {
    if (owed_gap_ > 0) {
      auto gap = std::make_unique<Item>();
      gap->gap = owed_gap_;
      if (!queue_->Push(gap)) {
        owed_gap_ += updates + item->gap;
        if (updates > 0) Bump(counters_.queue_drops, updates);
        return;
      }
      owed_gap_ = 0;
    }
    const uint64_t covers = updates + item->gap;
    if (!queue_->Push(item)) {
      owed_gap_ += covers;
      if (updates > 0) Bump(counters_.queue_drops, updates);
    }
  }

  // Every 200 ms: the per-session view AppendCounters reads, and the gateway's counts.
  void Snapshot() {
    if (gateway_ != nullptr) {
      std::vector<relay::GatewaySessionInfo> s = gateway_->Sessions();
      {
        std::lock_guard<std::mutex> lock(mu_);
        sessions_ = std::move(s);
      }
      const relay::GatewayCounts& g = gateway_->counts();
      counters_.connections.store(g.connections, std::memory_order_relaxed);
      counters_.tls_refused.store(g.tls_refused, std::memory_order_relaxed);
      counters_.protocol_errors.store(g.protocol_errors, std::memory_order_relaxed);
      // A gap owed to a queue that was full goes out as soon as there is room.
      if (owed_gap_ > 0) {
        auto gap = std::make_unique<Item>();
        gap->gap = owed_gap_;
        if (queue_->Push(gap)) owed_gap_ = 0;
      }
    }
    stats_timer_.expires_after(std::chrono::milliseconds(200));
    stats_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Snapshot();
    });
  }

  QuicSourceOptions options_;
  std::unique_ptr<relay::TlsCredentials> creds_;
  std::unique_ptr<shm::DoorbellQueue<Item, 65536>> queue_;
  QuicSourceCounters counters_;
  DedupWindow dedup_;            // network thread
  uint64_t owed_gap_ = 0;        // network thread
  asio::io_context io_;
  asio::steady_timer stats_timer_;
  std::unique_ptr<relay::Gateway> gateway_;
  std::thread thread_;
  std::string name_;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::vector<relay::GatewaySessionInfo> sessions_;  // guarded by mu_
};

absl::StatusOr<std::unique_ptr<QuicSource>> QuicSource::Open(const QuicSourceOptions& options) {
  if (options.tls_cert.empty() || options.tls_key.empty() || options.tls_ca.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--source=quic:", options.listen,
        " needs --tls_cert, --tls_key and --tls_ca (relays authenticate with mutual TLS)"));
  }
  if (options.max_frames_per_call == 0 || options.dedup_window == 0) {
    return absl::InvalidArgumentError("quic source: max_frames_per_call and dedup_window must be > 0");
  }
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<relay::TlsCredentials> creds,
                           relay::TlsCredentials::Load(options.tls_cert, options.tls_key, options.tls_ca));
  QLASTER_ASSIGN_OR_RETURN(auto queue, (shm::DoorbellQueue<Item, 65536>::Create()));
  auto network = std::make_unique<Network>(options, std::move(creds), std::move(queue));
  QLASTER_RETURN_IF_ERROR(network->Start());
  return std::unique_ptr<QuicSource>(new QuicSource(std::move(network)));
}

QuicSource::QuicSource(std::unique_ptr<Network> network) : network_(std::move(network)) {}

QuicSource::~QuicSource() { network_->Stop(); }

std::string QuicSource::name() const { return network_->name(); }

uint16_t QuicSource::port() const { return network_->port(); }

const QuicSourceCounters& QuicSource::counters() const { return network_->counters(); }

absl::StatusOr<SourceWork> QuicSource::DoWork(Dispatcher& dispatcher, int64_t) {
  return network_->DoWork(dispatcher);
}

SourceCounts QuicSource::Counts() const {
  const QuicSourceCounters& c = counters();
  SourceCounts out;
  out.updates = c.published.load(std::memory_order_relaxed);
  out.rejects = {{"malformed", c.malformed.load(std::memory_order_relaxed)},
                 {"queue_full", c.queue_drops.load(std::memory_order_relaxed)},
                 {"duplicate", c.duplicates.load(std::memory_order_relaxed)},
                 {"tls_refused", c.tls_refused.load(std::memory_order_relaxed)},
                 {"protocol_error", c.protocol_errors.load(std::memory_order_relaxed)}};
  return out;
}

void QuicSource::AppendCounters(std::vector<SourceCounterEntry>* out) const {
  const QuicSourceCounters& c = counters();
  const std::string source = name();
  for (const auto& [counter, value] :
       {std::pair<const char*, const std::atomic<uint64_t>*>{"published", &c.published},
        {"gap_updates", &c.gap_updates},
        {"duplicates", &c.duplicates},
        {"queue_drops", &c.queue_drops},
        {"malformed", &c.malformed},
        {"connections", &c.connections},
        {"tls_refused", &c.tls_refused},
        {"protocol_errors", &c.protocol_errors}}) {
    out->push_back({source, counter, value->load(std::memory_order_relaxed)});
  }
  for (const relay::GatewaySessionInfo& s : network_->sessions()) {
    const std::string prefix = absl::StrCat("relay[", s.name, "].");
    out->push_back({source, prefix + "connected", s.connected ? 1u : 0u});
    out->push_back({source, prefix + "connections", s.counts.connections});
    out->push_back({source, prefix + "updates", s.counts.updates});
    out->push_back({source, prefix + "gap_updates", s.counts.gap_updates});
    out->push_back({source, prefix + "frame_bytes", s.counts.frame_bytes});
  }
}

}  // namespace qlaster::sender
