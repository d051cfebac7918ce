// The engine of qlaster-relay (relay.h).
#include "relay/relay.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <future>
#include <mutex>
#include <span>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/posix/stream_descriptor.hpp"
#include "relay/quic_endpoint.h"
#include "relay/replay_buffer.h"
#include "relay/tls.h"
#include "shm/doorbell_queue.h"

namespace qlaster::relay {
namespace asio = boost::asio;

namespace {

constexpr size_t kQueueSize = 65536;
constexpr size_t kDrainBatch = 1024;

// What the consumer thread hands the network thread: a frame, or a gap.
struct RelayItem {
  StreamClass cls = StreamClass::kSlots;
  std::vector<uint8_t> frame;
  uint64_t gap = 0;
};

StreamClass ClassOf(EventKind kind) {
  switch (kind) {
    case EventKind::kAccount:
      return StreamClass::kAccounts;
    case EventKind::kTransaction:
    case EventKind::kTransactionStatus:
      return StreamClass::kTransactions;
    default:
      return StreamClass::kSlots;
  }
}

std::string HostOf(const std::string& host_port) {
  if (!host_port.empty() && host_port.front() == '[') {
    return host_port.substr(1, host_port.find(']') - 1);
  }
  return host_port.substr(0, host_port.rfind(':'));
}

}  // namespace

class Relay::Impl {
 public:
  Impl(RelayOptions options, Consumer consumer, std::unique_ptr<TlsCredentials> creds,
       std::unique_ptr<shm::DoorbellQueue<RelayItem, kQueueSize>> queue, int doorbell_dup)
      : options_(std::move(options)),
        consumer_(std::move(consumer)),
        creds_(std::move(creds)),
        queue_(std::move(queue)),
        doorbell_(io_, doorbell_dup),
        replay_(options_.replay_bytes) {
    QuicRandom(reinterpret_cast<uint8_t*>(&session_id_), sizeof(session_id_));
    if (session_id_ == 0) session_id_ = 1;
  }

  absl::Status StartLinks() {
    for (const std::string& target : options_.targets) {
      QLASTER_ASSIGN_OR_RETURN(asio::ip::udp::endpoint server, ResolveUdp(target));
      RelayLinkOptions o;
      o.target = target;
      o.server = server;
      o.quic.credentials = creds_.get();
      o.quic.server_name = options_.server_name.empty() ? HostOf(target) : options_.server_name;
      o.quic.max_remote_bidi_streams = 0;  // the gateway opens no stream
      o.quic.max_remote_uni_streams = 0;
      o.name = options_.name;
      o.session_id = session_id_;
      o.max_unsent_bytes = options_.max_unsent_bytes;
      links_.push_back(std::make_unique<RelayLink>(io_, std::move(o), &replay_));
    }
    QLASTER_LOG(kInfo, "relay: session %016x, forwarding to %s", session_id_,
                absl::StrJoin(options_.targets, ", "));
    for (auto& l : links_) l->Start();
    Pump();
    network_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      io_.run();
    });
    consumer_thread_ = std::thread([this] { ConsumerLoop(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    if (consumer_thread_.joinable()) consumer_thread_.join();
    std::promise<void> closed;
    asio::post(io_, [this, &closed] {
      for (auto& l : links_) l->Stop("the relay is stopping");
      closed.set_value();
      asio::post(io_, [this] { io_.stop(); });
    });
    closed.get_future().wait();
    if (network_.joinable()) network_.join();
  }

  RelayStats Stats() {
    // Shared with the handler: after a timeout it still runs, later, and must not find the
    // promise gone with this frame.
    auto p = std::make_shared<std::promise<RelayStats>>();
    std::future<RelayStats> f = p->get_future();
    asio::post(io_, [this, p] {
      RelayStats s;
      s.session_id = session_id_;
      s.updates = updates_;
      s.local_gaps = local_gaps_.load(std::memory_order_relaxed);
      s.queue_drops = queue_drops_.load(std::memory_order_relaxed);
      s.replay_held_bytes = replay_.held_bytes();
      s.replay_evicted = replay_.evicted_messages();
      for (size_t i = 0; i < links_.size(); ++i) s.links.emplace_back(options_.targets[i], links_[i]->counts());
      p->set_value(std::move(s));
    });
    if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return RelayStats{};
    return f.get();
  }

  absl::Status consumer_status() {
    std::lock_guard<std::mutex> lock(mu_);
    return consumer_status_;
  }

 private:
  // ---- consumer thread
  void ConsumerLoop() {
    while (!stopped_.load(std::memory_order_relaxed)) {
      absl::Status w = consumer_.Wait(absl::Milliseconds(100));
      if (!w.ok() && w.code() != absl::StatusCode::kDeadlineExceeded) {
        SetConsumerStatus(w);
        return;
      }
      absl::StatusOr<int> n = consumer_.Poll([this](const Event& e) { OnEvent(e); }, 1024);
      if (!n.ok()) {
        SetConsumerStatus(n.status());
        return;
      }
    }
  }

  void SetConsumerStatus(const absl::Status& s) {
    QLASTER_LOG(kError, "relay: the local consumer stopped: %s", s.ToString());
    std::lock_guard<std::mutex> lock(mu_);
    consumer_status_ = s;
  }

  void OnEvent(const Event& e) {
    if (const GapEvent* g = e.gap()) {
      local_gaps_.fetch_add(g->dropped, std::memory_order_relaxed);
      Hand(StreamClass::kSlots, {}, g->dropped);
      return;
    }
    if (const DisconnectedEvent* d = e.disconnected()) {
      QLASTER_LOG_RATE_LIMITED(kWarning, "relay: lost the local sender: %s", std::string(d->reason));
      return;
    }
    if (e.reconnected() != nullptr) {
      QLASTER_LOG_RATE_LIMITED(kWarning, "relay: reconnected to the local sender (what it "
                                         "published meanwhile is lost)");
      return;
    }
    if (e.frame.empty()) return;
    Hand(ClassOf(e.kind), e.frame, 0);
  }

  // Queues a frame (or a gap of `gap` updates) behind what is owed for its class.
  void Hand(StreamClass cls, std::span<const uint8_t> frame, uint64_t gap) {
    const size_t c = static_cast<size_t>(cls);
    for (size_t k = 0; k < kClassCount; ++k) {
      if (owed_[k] == 0) continue;
      auto owed = std::make_unique<RelayItem>();
      owed->cls = static_cast<StreamClass>(k);
      owed->gap = owed_[k];
      if (!queue_->Push(owed)) break;
      owed_[k] = 0;
    }
    const uint64_t covers = frame.empty() ? gap : 1;
    if (owed_[c] != 0) {  // still owed: this one joins the gap, in order
      owed_[c] += covers;
      if (!frame.empty()) queue_drops_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto item = std::make_unique<RelayItem>();
    item->cls = cls;
    item->gap = gap;
    item->frame.assign(frame.begin(), frame.end());
    if (!queue_->Push(item)) {
      owed_[c] += covers;
      if (!frame.empty()) queue_drops_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // ---- network thread
  void Pump() {
    size_t total = 0;
    for (;;) {
      const int n = queue_->Work(kDrainBatch, [this](std::unique_ptr<RelayItem> item) { Number(*item); });
      total += static_cast<size_t>(n);
      if (n == 0) break;
      if (total >= 16 * kDrainBatch) {
        // Let the sockets and timers run, then carry on.
        for (auto& l : links_) l->Flush();
        asio::post(io_, [this] { Pump(); });
        return;
      }
    }
    for (auto& l : links_) l->Flush();
    doorbell_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& ec) {
                           if (!ec) Pump();
                         });
  }

  void Number(const RelayItem& item) {
    const bool usable = item.gap == 0 && item.frame.size() >= kMinFrameSize &&
                        item.frame.size() + 16 <= kMaxMessageSize;
    if (item.gap > 0 || !usable) {
      const uint64_t count = item.gap > 0 ? item.gap : 1;
      absl::Span<const uint8_t> bytes = replay_.AddGap(item.cls, count);
      const uint64_t first = replay_.next_sequence(item.cls) - count;
      for (auto& l : links_) l->Offer(item.cls, first, count, true, bytes);
      return;
    }
    ++updates_;
    absl::Span<const uint8_t> bytes = replay_.AddUpdate(item.cls, item.frame);
    const uint64_t first = replay_.next_sequence(item.cls) - 1;
    for (auto& l : links_) l->Offer(item.cls, first, 1, false, bytes);
  }

  RelayOptions options_;
  Consumer consumer_;
  std::unique_ptr<TlsCredentials> creds_;
  std::unique_ptr<shm::DoorbellQueue<RelayItem, kQueueSize>> queue_;
  asio::io_context io_;
  asio::posix::stream_descriptor doorbell_;  // a dup of the queue's doorbell
  ReplayBuffer replay_;                      // network thread
  std::vector<std::unique_ptr<RelayLink>> links_;
  uint64_t session_id_ = 0;
  uint64_t updates_ = 0;                     // network thread
  std::array<uint64_t, kClassCount> owed_{}; // consumer thread
  std::atomic<uint64_t> local_gaps_{0};
  std::atomic<uint64_t> queue_drops_{0};
  std::atomic<bool> stopped_{false};
  std::thread network_;
  std::thread consumer_thread_;
  std::mutex mu_;
  absl::Status consumer_status_;  // guarded by mu_
};

absl::StatusOr<std::unique_ptr<Relay>> Relay::Start(RelayOptions options) {
  if (options.targets.empty()) return absl::InvalidArgumentError("--to: name at least one gateway HOST:PORT");
  if (options.tls_ca.empty()) return absl::InvalidArgumentError("--tls_ca is required");
  if (options.replay_bytes == 0 || options.max_unsent_bytes == 0) {
    return absl::InvalidArgumentError("--replay_bytes and --link_buffer_bytes must be > 0");
  }
  for (const std::string& t : options.targets) QLASTER_RETURN_IF_ERROR(ResolveUdp(t).status());
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<TlsCredentials> creds,
                           TlsCredentials::Load(options.tls_cert, options.tls_key, options.tls_ca));
  ConsumerOptions co;
  co.name = options.name;
  co.ring_bytes = options.ring_bytes;
  co.overflow = OverflowPolicy::kDropAndCount;  // the local sender never evicts the relay
  co.wait_mode = options.wait_mode;
  co.auto_reconnect = true;
  const std::string socket = options.socket.empty() ? DefaultSocketPath() : options.socket;
  QLASTER_ASSIGN_OR_RETURN(Consumer consumer, Consumer::Connect(socket, co));
  QLASTER_RETURN_IF_ERROR(consumer.SetSubscription(options.subscription).status());
  QLASTER_ASSIGN_OR_RETURN(auto queue, (shm::DoorbellQueue<RelayItem, kQueueSize>::Create()));
  const int dup = ::dup(queue->doorbell_fd());
  if (dup < 0) return absl::InternalError("relay: dup of the doorbell failed");
  auto impl = std::make_unique<Impl>(std::move(options), std::move(consumer), std::move(creds),
                                     std::move(queue), dup);
  QLASTER_RETURN_IF_ERROR(impl->StartLinks());
  return std::unique_ptr<Relay>(new Relay(std::move(impl)));
}

Relay::Relay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Relay::~Relay() { Stop(); }
void Relay::Stop() { impl_->Stop(); }
RelayStats Relay::Stats() { return impl_->Stats(); }
absl::Status Relay::consumer_status() { return impl_->consumer_status(); }

}  // namespace qlaster::relay
