// Sender: wiring of dispatcher, control server, source thread and signals.
#include "sender/sender.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <csignal>
#include <future>
#include <cstdlib>
#include <thread>
#include <utility>  // before Boost.Asio in C++20
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/strings/str_cat.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "sender/metrics.h"
#include "metrics/http_server.h"

namespace qlaster::sender {

namespace asio = boost::asio;

namespace {

absl::Status PinThisThread(int cpu) {
  if (cpu < 0) return absl::OkStatus();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (const int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof(set), &set); rc != 0) {
    return ErrnoStatus(rc, absl::StrCat("pinning the dispatch thread to CPU ", cpu));
  }
  return absl::OkStatus();
}

}  // namespace

struct Sender::Impl {
  explicit Impl(SenderOptions opts, shm::EventFd notify_fd)
      : options(std::move(opts)),
        notify(std::move(notify_fd)),
        dispatcher(&notify, DispatcherOptions{.lz4 = options.lz4, .log = options.update_log}),
        control(io, dispatcher, notify, options.control),
        signals(io),
        grace(io) {}

  SenderOptions options;
  asio::io_context io;
  shm::EventFd notify;
  Dispatcher dispatcher;
  ControlServer control;
  asio::signal_set signals;
  asio::steady_timer grace;
  std::atomic<bool> stop_source{false};
  std::thread source_thread;
  absl::Status source_status;
  bool stopping = false;
  std::vector<Source*> sources;  // Run()'s, for the metrics (set before io.run())
  // Last member: stopped and joined first, while everything its scrapes read still lives.
  std::unique_ptr<metrics::HttpServer> metrics;

  // On the io thread: the counters, copied.
  SenderMetrics Snapshot() const {
    SenderMetrics m;
    m.sender_name = options.control.sender_name;
    m.control = control.Metrics();
    m.dispatcher = ReadDispatcherMetrics(dispatcher.counters());
    if (const UpdateLog* log = dispatcher.update_log(); log != nullptr) {
      m.dispatcher.log_oldest_slot = log->OldestSlot();
    }
    const int64_t now = MonotonicNs();
    for (const Source* source : sources) {
      SourceMetrics& s = m.sources.emplace_back();
      s.name = source->name();
      s.counts = source->Counts();
      const int64_t last = source->progress().last_update_ns.load(std::memory_order_relaxed);
      if (last != 0) s.seconds_since_update = static_cast<double>(std::max<int64_t>(0, now - last)) / 1e9;
      s.highest_slot = source->progress().highest_slot.load(std::memory_order_relaxed);
    }
    return m;
  }

  // On the metrics thread: a snapshot from the io thread (which owns the registry),
  // then the text. Nullopt when the io thread does not answer within a second (it is
  // not running: before Run(), or shutting down).
  std::optional<std::string> RenderMetrics() {
    auto promise = std::make_shared<std::promise<SenderMetrics>>();
    std::future<SenderMetrics> result = promise->get_future();
    asio::post(io, [this, promise] { promise->set_value(Snapshot()); });
    if (result.wait_for(std::chrono::seconds(1)) != std::future_status::ready) return std::nullopt;
    SenderMetrics m = result.get();
    m.process = ReadProcessMetrics();
    return RenderPrometheus(m);
  }

  // On the io thread: stop the source first (the dispatcher must be quiet before rings
  // are closed), then the control plane.
  void BeginStop() {
    if (stopping) return;
    stopping = true;
    stop_source.store(true);
    if (source_thread.joinable()) source_thread.join();
    signals.cancel();
    control.Shutdown();
    WaitForDrain(absl::Now() + absl::Milliseconds(500));
  }

  // Stops the io_context once every connection has flushed its last words, or at the
  // deadline: a client that never reads must not hold the sender up.
  void WaitForDrain(absl::Time deadline) {
    if (control.session_count() == 0 || absl::Now() >= deadline) {
      io.stop();
      return;
    }
    grace.expires_after(std::chrono::milliseconds(2));
    grace.async_wait([this, deadline](const boost::system::error_code& ec) {
      if (!ec) WaitForDrain(deadline);
    });
  }
};

Sender::Sender() = default;
Sender::~Sender() {
  if (impl_ && impl_->source_thread.joinable()) {
    impl_->stop_source.store(true);
    impl_->source_thread.join();
  }
}

absl::StatusOr<std::unique_ptr<Sender>> Sender::Create(SenderOptions options) {
  absl::StatusOr<shm::EventFd> notify = shm::EventFd::Create();
  if (!notify.ok()) return notify.status();
  std::unique_ptr<Sender> sender(new Sender());
  sender->impl_ = std::make_unique<Impl>(std::move(options), *std::move(notify));
  Impl& impl = *sender->impl_;
  absl::Status listening = impl.control.Listen();
  if (!listening.ok()) return listening;
  if (!impl.options.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<metrics::HttpServer>> metrics = metrics::HttpServer::Start(
        impl.options.metrics_address, [&impl] { return impl.RenderMetrics(); },
        {.server = "qlaster-sender", .unavailable = "the sender did not answer in time\n"});
    if (!metrics.ok()) return metrics.status();
    impl.metrics = *std::move(metrics);
    QLASTER_LOG(kInfo, "metrics at http://%s/metrics", impl.metrics->address());
  }
  return sender;
}

Dispatcher& Sender::dispatcher() { return impl_->dispatcher; }

absl::Status Sender::Run(std::vector<Source*> sources) {
  Impl& s = *impl_;
  s.control.SetSources({sources.begin(), sources.end()});
  s.sources = sources;
  s.control.Start();
  if (s.options.handle_signals) {
    s.signals.add(SIGINT);
    s.signals.add(SIGTERM);
    s.signals.async_wait([&s](const boost::system::error_code& ec, int) {
      if (!ec) s.BeginStop();
    });
  }
  if (!sources.empty()) {
    s.source_thread = std::thread([&s, sources = std::move(sources)] {
      absl::Status status = PinThisThread(s.options.dispatch_cpu);
      if (status.ok()) {
        SourceRunner runner(s.dispatcher, sources, s.options.runner);
        status = runner.Run(s.stop_source);
      }
      // The runner returns on a failure, on Stop, or (serve_after_end off) when every
      // source has ended: in the first and last cases the sender stops too.
      asio::post(s.io, [&s, status] {
        if (!status.ok()) {
          QLASTER_LOG(kError, "stopping: %s", status.ToString());
          s.source_status = status;
        }
        s.BeginStop();
      });
    });
  }
  s.io.run();
  s.metrics.reset();  // scrapes need the io thread, which has stopped
  if (s.source_thread.joinable()) {
    s.stop_source.store(true);
    s.source_thread.join();
  }
  return s.source_status;
}

std::string Sender::metrics_address() const {
  return impl_->metrics == nullptr ? std::string() : impl_->metrics->address();
}

void Sender::Stop() {
  asio::post(impl_->io, [s = impl_.get()] { s->BeginStop(); });
}

StatsMsg Sender::Stats() const {
  // The registry belongs to the io thread: ask it there. If the io_context is not
  // running (before Run, or after it returned), nobody else touches it.
  auto promise = std::make_shared<std::promise<StatsMsg>>();
  std::future<StatsMsg> result = promise->get_future();
  asio::post(impl_->io, [s = impl_.get(), promise] { promise->set_value(s->control.Stats()); });
  if (result.wait_for(std::chrono::seconds(5)) == std::future_status::ready) return result.get();
  return impl_->control.Stats();
}

}  // namespace qlaster::sender
