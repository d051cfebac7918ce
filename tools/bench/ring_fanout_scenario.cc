// Scenario `fanout --ring broadcast`: the same updates to N reader processes through one
// broadcast ring (shm/broadcast_ring.h), beside N per-consumer SPSC rings written by the
// same kind of loop in the same run.
//
// What it measures, for 1, 4, 16, 64 and 256 readers (sleep mode unless --mode): the
// writer's CPU per update (its thread's CPU time over the publishing loop, every wake
// included), updates/s the writer publishes, what the readers receive, and the records
// lapped readers were told they missed. For the broadcast ring the scenario checks that
// every reader's received + missed equals what was written, exactly; for the SPSC rings
// the writer counts what it dropped on full rings (drop-and-count) and checks the same.
//
// This is the ring alone, not the sender: the sender does not serve subscriptions from a
// broadcast ring yet. Each update is `size` bytes; its first 8 bytes carry the
// CLOCK_REALTIME of the write, for the latency samples.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"
#include "shm/broadcast_ring.h"
#include "shm/event_fd.h"
#include "shm/spsc_ring.h"
#include "tools/bench/consumer_child.h"
#include "tools/bench/scenario.h"

namespace qlaster::bench {
namespace {

constexpr uint64_t kDefaultSize = 256;

uint64_t ThreadCpuNs() {
  timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

struct RingRun {
  int readers;
  WaitMode mode;
  uint64_t size;
  uint64_t max_updates;
  absl::Duration window;
};

// The first 8 bytes of a record: its write time; ~0 ends the run (SPSC only: the broadcast
// ring has Close()).
constexpr uint64_t kEndStamp = ~uint64_t{0};

int Fail(const std::string& path, const absl::Status& s) {
  if (std::FILE* f = std::fopen((path + ".err").c_str(), "w")) {
    std::fputs(s.ToString().c_str(), f);
    std::fclose(f);
  }
  return 1;
}

void Sample(ChildReport& report, Reservoir& reservoir, const uint8_t* p, size_t n) {
  const uint64_t now = RealtimeNs();
  uint64_t stamp = 0;
  if (n >= 8) std::memcpy(&stamp, p, 8);
  ++report.received;
  if (report.first_ns == 0) report.first_ns = now;
  report.last_ns = now;
  reservoir.Add(now > stamp ? static_cast<double>(now - stamp) : 0.0);
}

int BroadcastReaderChild(int ring_fd, int waiters_fd, int cpu, WaitMode mode, size_t cap,
                         const std::string& path, ChildBoard* board) {
  absl::Status s = [&]() -> absl::Status {
    QLASTER_RETURN_IF_ERROR(PinToCpu(cpu));
    QLASTER_ASSIGN_OR_RETURN(shm::BroadcastReader reader,
                             shm::BroadcastReader::Attach(UniqueFd(::dup(ring_fd)),
                                                          UniqueFd(::dup(waiters_fd))));
    board->ready.fetch_add(1);
    ChildReport report;
    Reservoir reservoir(cap);
    for (;;) {
      shm::BroadcastRecord record;
      switch (reader.TryRead(&record)) {
        case shm::BroadcastReadResult::kOk:
          Sample(report, reservoir, record.payload.data(), record.payload.size());
          continue;
        case shm::BroadcastReadResult::kGap:
          ++report.gaps;
          report.dropped += record.missed;
          continue;
        case shm::BroadcastReadResult::kEmpty:
          if (reader.Wait(mode, absl::Seconds(60)) == shm::WaitResult::kTimeout) {
            return absl::DeadlineExceededError("no record for 60 s");
          }
          continue;
        case shm::BroadcastReadResult::kCorrupt:
          return reader.error();
        case shm::BroadcastReadResult::kClosed:
          break;
      }
      break;
    }
    report.cpu_ns = SelfCpuNs();
    report.samples_ns = std::move(reservoir.samples());
    return WriteChildReport(path, report);
  }();
  return s.ok() ? 0 : Fail(path, s);
}

int SpscReaderChild(int ring_fd, int doorbell_fd, int cpu, WaitMode mode, size_t cap,
                    const std::string& path, ChildBoard* board) {
  absl::Status s = [&]() -> absl::Status {
    QLASTER_RETURN_IF_ERROR(PinToCpu(cpu));
    QLASTER_ASSIGN_OR_RETURN(shm::RingConsumer ring, shm::RingConsumer::Attach(UniqueFd(::dup(ring_fd))));
    shm::EventFd doorbell{UniqueFd(::dup(doorbell_fd))};
    board->ready.fetch_add(1);
    ChildReport report;
    Reservoir reservoir(cap);
    uint32_t unreleased = 0;
    for (;;) {
      shm::RingRecord record;
      shm::ReadResult r = ring.TryRead(&record);
      if (r == shm::ReadResult::kOk) {
        uint64_t stamp = 0;
        if (record.payload.size() >= 8) std::memcpy(&stamp, record.payload.data(), 8);
        if (stamp == kEndStamp) break;
        Sample(report, reservoir, record.payload.data(), record.payload.size());
        if (++unreleased == 32) ring.Release(), unreleased = 0;
        continue;
      }
      if (r != shm::ReadResult::kEmpty) return absl::DataLossError("spsc ring corrupt or closed early");
      ring.Release();
      unreleased = 0;
      if (ring.Wait(doorbell, mode, absl::Seconds(60)) == shm::WaitResult::kTimeout) {
        return absl::DeadlineExceededError("no record for 60 s");
      }
    }
    report.cpu_ns = SelfCpuNs();
    report.samples_ns = std::move(reservoir.samples());
    return WriteChildReport(path, report);
  }();
  return s.ok() ? 0 : Fail(path, s);
}

struct Written {
  uint64_t count = 0;
  uint64_t dropped = 0;  // SPSC: deliveries refused by full rings
  uint64_t wakes = 0;    // FUTEX_WAKE / eventfd writes made
  absl::Duration elapsed;
  uint64_t cpu_ns = 0;
  uint64_t start_ns = 0;
};

// Calls write(i, record) until run.max_updates or run.window; measures the thread's CPU.
template <typename Write>
Written WriteFor(const RingRun& run, std::vector<uint8_t>& record, Write&& write) {
  Written w;
  w.start_ns = RealtimeNs();
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + run.window;
  const uint64_t cpu0 = ThreadCpuNs();
  while (w.count < run.max_updates) {
    if (w.count % 256 == 0 && absl::Now() >= deadline) break;
    const uint64_t now = RealtimeNs();
    std::memcpy(record.data(), &now, 8);
    write(w);
    ++w.count;
  }
  w.cpu_ns = ThreadCpuNs() - cpu0;
  w.elapsed = absl::Now() - start;
  return w;
}

size_t SampleCap(int readers) { return std::max<size_t>(20'000, 2'000'000 / static_cast<size_t>(readers)); }

Result MakeResult(const std::string& ring, const RingRun& run, const Written& w,
                  std::vector<ChildReport>& reports) {
  Result r;
  r.scenario = "fanout";
  r.subject = "ring";
  r.Param("ring", ring)
      .Param("consumers", int64_t{run.readers})
      .Param("mode", ModeName(run.mode))
      .Param("size", static_cast<int64_t>(run.size));
  const double secs = absl::ToDoubleSeconds(w.elapsed);
  uint64_t received = 0, gaps = 0, missed = 0;
  std::vector<double> per_reader;
  for (const ChildReport& c : reports) {
    received += c.received;
    gaps += c.gaps;
    missed += c.dropped;
    const double span = c.last_ns > w.start_ns ? static_cast<double>(c.last_ns - w.start_ns) / 1e9 : 0;
    per_reader.push_back(span > 0 ? static_cast<double>(c.received) / span : 0);
  }
  std::sort(per_reader.begin(), per_reader.end());
  const double expected = static_cast<double>(w.count) * run.readers;
  r.records_per_s = static_cast<double>(w.count) / secs;
  r.Metric("sender_cpu_ns_per_update", static_cast<double>(w.cpu_ns) / static_cast<double>(w.count))
      .Metric("deliveries_per_s", static_cast<double>(received) / secs)
      .Metric("consumer_received_per_s_median", per_reader[per_reader.size() / 2])
      .Metric("dropped", expected - static_cast<double>(received))
      .Metric("dropped_pct", expected > 0 ? 100.0 * (expected - static_cast<double>(received)) / expected : 0)
      .Metric("gaps", static_cast<double>(gaps))
      .Metric("gap_records", static_cast<double>(ring == "broadcast" ? missed : w.dropped))
      .Metric("wakes", static_cast<double>(w.wakes));
  std::vector<double> samples = MergeSamples(reports);
  r.latency = Latency::FromSamples(samples);
  return r;
}

absl::StatusOr<Result> RunBroadcast(const Config& config, const RingRun& run) {
  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  QLASTER_ASSIGN_OR_RETURN(SharedBoard board, SharedBoard::Create());
  QLASTER_ASSIGN_OR_RETURN(
      shm::BroadcastWriter writer,
      shm::BroadcastWriter::Create({.dir = config.shm_dir,
                                    .slot_bytes = std::max<uint32_t>(64, std::bit_ceil(static_cast<uint32_t>(run.size + 16))),
                                    .slot_count = 32768}));
  QLASTER_ASSIGN_OR_RETURN(UniqueFd ro, writer.ReadOnlyFd());
  std::vector<std::string> names, paths;
  for (int i = 0; i < run.readers; ++i) {
    names.push_back(absl::StrCat("broadcast-", i));
    paths.push_back(absl::StrCat(dir.path(), "/broadcast-", i, ".report"));
  }
  ChildSet children;
  QLASTER_RETURN_IF_ERROR(children.Fork(names, paths, [&](size_t i) {
    return BroadcastReaderChild(ro.get(), writer.waiters_fd(), config.Cpu(1 + i), run.mode,
                                SampleCap(run.readers), paths[i], board.get());
  }));
  AffinityGuard affinity;
  QLASTER_RETURN_IF_ERROR(PinToCpu(config.Cpu(0)));
  QLASTER_RETURN_IF_ERROR(children.WaitReady(*board.get(), absl::Seconds(60), [] { return absl::OkStatus(); }));
  std::vector<uint8_t> record(std::max<uint64_t>(run.size, 8), 0x5a);
  Written w = WriteFor(run, record, [&](Written& w) {
    writer.Write(1, record);
    w.wakes += writer.WakeSleepers() ? 1 : 0;
  });
  writer.Close();
  QLASTER_ASSIGN_OR_RETURN(std::vector<ChildReport> reports,
                           children.Collect(absl::Seconds(60), [] { return absl::OkStatus(); }));
  for (size_t i = 0; i < reports.size(); ++i) {
    if (reports[i].received + reports[i].dropped != w.count) {
      return absl::InternalError(absl::StrCat("broadcast reader ", i, " received ", reports[i].received,
                                              " and was told of ", reports[i].dropped, " missed, of ",
                                              w.count, " written"));
    }
  }
  return MakeResult("broadcast", run, w, reports);
}

absl::StatusOr<Result> RunSpsc(const Config& config, const RingRun& run) {
  QLASTER_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  QLASTER_ASSIGN_OR_RETURN(SharedBoard board, SharedBoard::Create());
  std::vector<shm::RingProducer> rings;
  std::vector<shm::EventFd> doorbells;
  // The same bytes of buffering per reader as the broadcast ring has in all.
  const uint64_t ring_bytes = std::max<uint64_t>(1 << 20, 32768 * shm::RecordSpan(run.size) / 4);
  for (int i = 0; i < run.readers; ++i) {
    QLASTER_ASSIGN_OR_RETURN(shm::RingProducer ring,
                             shm::RingProducer::Create({.dir = config.shm_dir, .capacity = ring_bytes}));
    QLASTER_ASSIGN_OR_RETURN(shm::EventFd doorbell, shm::EventFd::Create());
    rings.push_back(std::move(ring));
    doorbells.push_back(std::move(doorbell));
  }
  std::vector<std::string> names, paths;
  for (int i = 0; i < run.readers; ++i) {
    names.push_back(absl::StrCat("spsc-", i));
    paths.push_back(absl::StrCat(dir.path(), "/spsc-", i, ".report"));
  }
  ChildSet children;
  QLASTER_RETURN_IF_ERROR(children.Fork(names, paths, [&](size_t i) {
    return SpscReaderChild(rings[i].fd(), doorbells[i].fd(), config.Cpu(1 + i), run.mode,
                           SampleCap(run.readers), paths[i], board.get());
  }));
  AffinityGuard affinity;
  QLASTER_RETURN_IF_ERROR(PinToCpu(config.Cpu(0)));
  QLASTER_RETURN_IF_ERROR(children.WaitReady(*board.get(), absl::Seconds(60), [] { return absl::OkStatus(); }));
  std::vector<uint8_t> record(std::max<uint64_t>(run.size, 8), 0x5a);
  std::vector<uint64_t> dropped(rings.size(), 0);
  Written w = WriteFor(run, record, [&](Written& w) {
    for (size_t i = 0; i < rings.size(); ++i) {
      if (rings[i].TryWrite(1, record) != shm::WriteResult::kOk) {
        ++w.dropped;
        ++dropped[i];
      }
      w.wakes += rings[i].WakeIfSleeping(doorbells[i]) ? 1 : 0;
    }
  });
  std::memcpy(record.data(), &kEndStamp, 8);
  std::vector<bool> ended(rings.size(), false);
  QLASTER_ASSIGN_OR_RETURN(std::vector<ChildReport> reports, children.Collect(absl::Seconds(60), [&] {
    for (size_t i = 0; i < rings.size(); ++i) {
      if (!ended[i] && rings[i].TryWrite(1, record) == shm::WriteResult::kOk) ended[i] = true;
      rings[i].WakeIfSleeping(doorbells[i]);
    }
    return absl::OkStatus();
  }));
  for (size_t i = 0; i < reports.size(); ++i) {
    if (reports[i].received + dropped[i] != w.count) {
      return absl::InternalError(absl::StrCat("spsc reader ", i, " received ", reports[i].received,
                                              " with ", dropped[i], " dropped, of ", w.count, " written"));
    }
  }
  return MakeResult("spsc", run, w, reports);
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunRingFanout(const Config& config) {
  const uint64_t size = config.size.value_or(kDefaultSize);
  if (size + shm::kBroadcastSlotHeaderBytes > shm::kMaxBroadcastSlotBytes) {
    return absl::InvalidArgumentError(absl::StrCat("--size ", size, " exceeds a broadcast slot"));
  }
  std::vector<int> counts = config.quick ? std::vector<int>{1, 4} : std::vector<int>{1, 4, 16, 64, 256};
  if (config.consumers) counts = {*config.consumers};
  std::vector<WaitMode> modes = {WaitMode::kSleep};
  if (config.mode) modes = {*config.mode};
  std::vector<Result> results;
  for (int n : counts) {
    for (WaitMode mode : modes) {
      const RingRun run{.readers = n,
                        .mode = mode,
                        .size = size,
                        .max_updates = config.quick ? 4'000u : 50'000'000u,
                        .window = config.quick ? absl::Milliseconds(300) : absl::Seconds(2)};
      absl::StatusOr<Result> spsc = RunSpsc(config, run);
      if (!spsc.ok()) {
        return absl::Status(spsc.status().code(), absl::StrCat("spsc rings, readers=", n, ": ",
                                                               spsc.status().message()));
      }
      absl::StatusOr<Result> broadcast = RunBroadcast(config, run);
      if (!broadcast.ok()) {
        return absl::Status(broadcast.status().code(),
                            absl::StrCat("broadcast ring, readers=", n, ": ", broadcast.status().message()));
      }
      const double spsc_cpu = spsc->metrics[0].second;
      broadcast->Metric("vs_spsc_updates_per_s", *broadcast->records_per_s / *spsc->records_per_s)
          .Metric("vs_spsc_sender_cpu", broadcast->metrics[0].second / spsc_cpu);
      broadcast->baseline.push_back(*spsc);
      results.push_back(*std::move(broadcast));
    }
  }
  return results;
}

}  // namespace qlaster::bench
