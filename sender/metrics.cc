// The Prometheus text format, and the process metrics from /proc/self.
#include "sender/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include "absl/strings/string_view.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "proto/qlaster_generated.h"

namespace qlaster::sender {

namespace {

uint64_t Get(const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); }

// A label value with \, " and newline escaped, as the format requires.
std::string Escape(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Writes families: Family(name, type, help), then Sample(labels, value) for each series.
class Writer {
 public:
  void Family(absl::string_view name, absl::string_view type, absl::string_view help) {
    name_ = std::string(name);
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  // `labels`: name, value, name, value, ...
  void Sample(std::initializer_list<absl::string_view> labels, double value) {
    out_ += name_;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (auto it = labels.begin(); it != labels.end(); it += 2) {
        if (!first) out_ += ',';
        first = false;
        absl::StrAppend(&out_, *it, "=\"", Escape(*(it + 1)), "\"");
      }
      out_ += '}';
    }
    // %.15g: integers up to 10^15 exactly (absl::StrCat keeps only six digits).
    absl::StrAppend(&out_, " ", absl::StrFormat("%.15g", value), "\n");
  }
  void Sample(double value) { Sample({}, value); }
  void One(absl::string_view name, absl::string_view type, absl::string_view help, double value) {
    Family(name, type, help);
    Sample(value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  std::string name_;
};

// Reads a whole small file (a /proc entry); empty on failure.
std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string SnakeCaseLabel(absl::string_view name) {
  std::string out;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      if (!out.empty()) out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

DispatcherMetrics ReadDispatcherMetrics(const DispatcherCounters& c) {
  DispatcherMetrics m;
  for (size_t i = 0; i < m.published_by_kind.size(); ++i) m.published_by_kind[i] = Get(c.published_by_kind[i]);
  m.unwanted = Get(c.rejected);
  m.evicted = Get(c.evicted);
  m.unparsed_transactions = Get(c.unparsed_transactions);
  m.released_slots = Get(c.released_slots);
  m.replays_started = Get(c.replays_started);
  m.replays_finished = Get(c.replays_finished);
  m.log_gap_updates = Get(c.log_gap_updates);
  m.log_bytes = Get(c.log_bytes);
  m.log_entries = Get(c.log_entries);
  return m;
}

ProcessMetrics ReadProcessMetrics() {
  ProcessMetrics p;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const long page = ::sysconf(_SC_PAGESIZE);
  // /proc/self/stat: "pid (comm) state ppid ...": fields after the comm's closing paren.
  const std::string stat = ReadSmallFile("/proc/self/stat");
  if (const size_t paren = stat.rfind(')'); paren != std::string::npos && ticks > 0) {
    std::vector<absl::string_view> f = absl::StrSplit(
        absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
    // f[0] is field 3 (state): field N is f[N - 3].
    auto field = [&](size_t n) -> uint64_t {
      uint64_t v = 0;
      if (n - 3 < f.size()) (void)absl::SimpleAtoi(f[n - 3], &v);
      return v;
    };
    p.cpu_seconds = static_cast<double>(field(14) + field(15)) / ticks;
    p.threads = field(20);
    p.virtual_bytes = field(23);
    p.resident_bytes = field(24) * static_cast<uint64_t>(page);
    uint64_t boot = 0;
    for (absl::string_view line : absl::StrSplit(ReadSmallFile("/proc/stat"), '\n')) {
      if (absl::ConsumePrefix(&line, "btime ")) (void)absl::SimpleAtoi(line, &boot);
    }
    p.start_time_seconds = static_cast<double>(boot) + static_cast<double>(field(22)) / ticks;
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(dir)) {
      if (e->d_name[0] != '.') ++p.open_fds;
    }
    ::closedir(dir);
    if (p.open_fds > 0) --p.open_fds;  // the directory's own descriptor
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = limit.rlim_cur;
  return p;
}

std::string RenderPrometheus(const SenderMetrics& m) {
  Writer w;
  const ControlMetrics& c = m.control;
  const DispatcherMetrics& d = m.dispatcher;

  w.Family("qlaster_build_info", "gauge", "The sender's version and name (always 1).");
  w.Sample({"version", QLASTER_VERSION, "name", m.sender_name}, 1);

  // ---- dispatcher
  w.Family("qlaster_sender_updates_published_total", "counter",
           "Updates published to the dispatcher, by kind.");
  for (fb::UpdateKind kind : fb::EnumValuesUpdateKind()) {
    if (kind == fb::UpdateKind::None || kind == fb::UpdateKind::Gap) continue;
    w.Sample({"kind", SnakeCaseLabel(fb::EnumNameUpdateKind(kind))},
             static_cast<double>(d.published_by_kind[static_cast<size_t>(kind) & 7]));
  }
  w.One("qlaster_sender_updates_unwanted_total", "counter",
        "Updates no consumer of the processed level wanted.", static_cast<double>(d.unwanted));
  w.One("qlaster_sender_unparsed_transactions_total", "counter",
        "Transactions whose bytes or status did not parse (account-key filters cannot match them).",
        static_cast<double>(d.unparsed_transactions));
  w.One("qlaster_sender_released_slots_total", "counter",
        "Slots released to the confirmed or finalized level.", static_cast<double>(d.released_slots));
  w.Family("qlaster_sender_replays_total", "counter", "Replays from a past slot, by state.");
  w.Sample({"state", "started"}, static_cast<double>(d.replays_started));
  w.Sample({"state", "finished"}, static_cast<double>(d.replays_finished));
  w.One("qlaster_sender_log_gap_updates_total", "counter",
        "Updates consumers lost because the update log evicted them first.",
        static_cast<double>(d.log_gap_updates));
  w.One("qlaster_sender_update_log_bytes", "gauge", "Bytes the update log holds.",
        static_cast<double>(d.log_bytes));
  w.One("qlaster_sender_update_log_entries", "gauge", "Updates the update log holds.",
        static_cast<double>(d.log_entries));
  w.Family("qlaster_sender_routing_table_version", "gauge",
           "Version of the newest routing table installed by the control plane and adopted by "
           "the dispatcher.");
  w.Sample({"state", "installed"}, static_cast<double>(c.table_version_installed));
  w.Sample({"state", "adopted"}, static_cast<double>(c.table_version_adopted));
  w.One("qlaster_sender_routing_table_consumers", "gauge",
        "Consumers the adopted routing table names.", static_cast<double>(c.table_consumers));
  w.One("qlaster_sender_subscription_keys", "gauge",
        "Keys (pubkeys, owners, transaction accounts) of every consumer's subscription.",
        static_cast<double>(c.keys));

  // ---- control plane
  w.One("qlaster_sender_consumers", "gauge", "Consumers past their handshake.",
        static_cast<double>(c.consumers.size()));
  w.One("qlaster_sender_connections_accepted_total", "counter", "Connections accepted.",
        static_cast<double>(c.connections_accepted));
  w.One("qlaster_sender_connections_pending", "gauge",
        "Connections that have not said Hello (stats-only viewers included).",
        static_cast<double>(c.connections_pending));
  w.Family("qlaster_sender_connections_refused_total", "counter",
           "Connections refused or closed with an Error, by reason.");
  for (const auto& [reason, n] : c.refusals) w.Sample({"reason", reason}, static_cast<double>(n));
  w.Family("qlaster_sender_subscriptions_refused_total", "counter",
           "Subscribe requests refused (the connection stays), by error code.");
  for (const auto& [code, n] : c.subscribe_refusals) w.Sample({"code", code}, static_cast<double>(n));
  w.Family("qlaster_sender_evictions_total", "counter", "Consumers evicted, by reason.");
  for (fb::EvictReason reason : fb::EnumValuesEvictReason()) {
    const size_t i = static_cast<size_t>(reason);
    if (i >= c.evictions.size()) continue;
    w.Sample({"reason", SnakeCaseLabel(fb::EnumNameEvictReason(reason))},
             static_cast<double>(c.evictions[i]));
  }

  // ---- per consumer (labels: consumer = its name, id = its consumer id)
  struct PerConsumer {
    const char* name;
    const char* type;
    const char* help;
    uint64_t ConsumerMetrics::*field;
  };
  static constexpr PerConsumer kPerConsumer[] = {
      {"qlaster_consumer_delivered_total", "counter", "Updates written into the consumer's ring.",
       &ConsumerMetrics::delivered},
      {"qlaster_consumer_dropped_total", "counter",
       "Updates the consumer lost (ring full under drop-and-count, or evicted from the log).",
       &ConsumerMetrics::dropped},
      {"qlaster_consumer_gaps_total", "counter",
       "Gap records written into the consumer's ring (each tells of dropped updates).",
       &ConsumerMetrics::gaps},
      {"qlaster_consumer_wakes_total", "counter", "Doorbell rings (the consumer slept).",
       &ConsumerMetrics::wakes},
      {"qlaster_consumer_wakes_deferred_total", "counter",
       "Wake-ups held back by --min_wake_interval (retried after it).",
       &ConsumerMetrics::wakes_deferred},
      {"qlaster_consumer_ring_size_bytes", "gauge", "The consumer's ring capacity.",
       &ConsumerMetrics::ring_bytes},
      {"qlaster_consumer_ring_fill_bytes", "gauge",
       "Bytes published into the consumer's ring and not yet released by it.",
       &ConsumerMetrics::ring_fill},
      {"qlaster_consumer_lag_records", "gauge",
       "Records written and not yet released by the consumer (exact up to 4096).",
       &ConsumerMetrics::lag_records},
      {"qlaster_consumer_subscription_keys", "gauge", "Keys of the consumer's subscription.",
       &ConsumerMetrics::keys},
  };
  for (const PerConsumer& f : kPerConsumer) {
    w.Family(f.name, f.type, f.help);
    for (const ConsumerMetrics& cm : c.consumers) {
      const std::string id = absl::StrCat(cm.consumer_id);
      const std::string uid = absl::StrCat(cm.uid);
      w.Sample({"consumer", cm.name, "id", id, "uid", uid}, static_cast<double>(cm.*f.field));
    }
  }

  // ---- sources
  w.Family("qlaster_source_updates_total", "counter", "Updates a source published.");
  for (const SourceMetrics& s : m.sources) {
    w.Sample({"source", s.name}, static_cast<double>(s.counts.updates));
  }
  w.Family("qlaster_source_backlog", "gauge",
           "Input written and not yet read by the sender (the ingest ring: cells).");
  for (const SourceMetrics& s : m.sources) {
    w.Sample({"source", s.name}, static_cast<double>(s.counts.backlog));
  }
  w.Family("qlaster_source_rejects_total", "counter",
           "Input a source refused or lost, by reason (for the ingest ring: lapped, rewound, "
           "torn, bad_length, unknown_schema, undecodable).");
  for (const SourceMetrics& s : m.sources) {
    for (const auto& [reason, n] : s.counts.rejects) {
      w.Sample({"source", s.name, "reason", reason}, static_cast<double>(n));
    }
  }

  // ---- process
  const ProcessMetrics& p = m.process;
  w.One("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
        p.cpu_seconds);
  w.One("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
        static_cast<double>(p.resident_bytes));
  w.One("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
        static_cast<double>(p.virtual_bytes));
  w.One("process_open_fds", "gauge", "Open file descriptors.", static_cast<double>(p.open_fds));
  w.One("process_max_fds", "gauge", "The limit of open file descriptors.",
        static_cast<double>(p.max_fds));
  w.One("process_start_time_seconds", "gauge", "Start time since the Unix epoch, in seconds.",
        p.start_time_seconds);
  w.One("process_threads", "gauge", "Threads of the process.", static_cast<double>(p.threads));
  return w.Take();
}

}  // namespace qlaster::sender
