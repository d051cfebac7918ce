// Scenario `throughput`: records/s and bytes/s from one producer process to one consumer
// process, 32 B to 1 MiB, the median of 5 repetitions.
//
//   qlaster      a 16 MiB qlaster ring in /dev/shm. With batch=1 the producer does what
//                the sender's dispatcher does per update: claim, copy the record in,
//                publish, check whether the consumer sleeps. With batch=32 it claims and
//                copies up to 32 records (at most 64 KiB), then publishes them and checks
//                once: the ring API allows it; the dispatcher does not batch yet. The
//                consumer (spinning unless --mode) checks each record's sequence number
//                and copies it out, releasing every 64.
//   memcpy       one thread copying the same sizes between two buffers: the copy floor.
//   unix_socket  the same records, framed with a 4-byte length, one write(2) each, read
//                by the other process in 256 KiB reads.
// One untimed repetition first warms the memory up. A repetition ends when the consumer
// has read and released (or, for the socket, acknowledged) every record, so time spent
// buffered counts.
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "shm/event_fd.h"
#include "base/status_macros.h"
#include "base/process.h"
#include "tools/bench/pingpong.h"
#include "tools/bench/scenario.h"
#include "tools/bench/tsc_clock.h"

namespace qlaster::bench {
namespace {


constexpr uint64_t kRingBytes = 16 << 20;
constexpr int kReleaseEvery = 64;
// The batched producer publishes (one release store) and checks for a sleeping consumer
// once per this many records, or sooner once this many bytes wait.
constexpr uint64_t kBatch = 32;
constexpr uint64_t kBatchBytes = 64 << 10;
constexpr absl::Duration kStall = absl::Seconds(10);

struct Plan {
  uint64_t size;
  uint64_t records;  // per repetition
  int repetitions;
};

Plan PlanFor(const Config& c, uint64_t size) {
  if (c.quick) return {size, std::clamp<uint64_t>((64u << 20) / size, 64, 20'000), 1};
  return {size, std::clamp<uint64_t>((uint64_t{2} << 30) / size, 1'000, 5'000'000), 5};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Result Make(const std::string& subject, const Plan& p, double seconds_median) {
  Result r;
  r.scenario = "throughput";
  r.subject = subject;
  r.Param("size", static_cast<int64_t>(p.size));
  r.records_per_s = static_cast<double>(p.records) / seconds_median;
  r.bytes_per_s = static_cast<double>(p.records * p.size) / seconds_median;
  return r;
}

absl::Status ReapChild(ChildProcess& child) {
  absl::StatusOr<int> status = child.Wait(kStall);
  if (!status.ok()) return absl::DeadlineExceededError("the consumer process did not finish");
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::InternalError(absl::StrCat("the consumer process ", DescribeWaitStatus(*status)));
  }
  return absl::OkStatus();
}

double SecondsSince(uint64_t t0) { return TscClock::ToNs(TscClock::Now() - t0) / 1e9; }

absl::StatusOr<double> MemcpySeconds(const Plan& p) {
  std::vector<uint8_t> src(p.size, 0x5a), dst(p.size);
  std::vector<double> runs;
  for (int rep = 0; rep < p.repetitions; ++rep) {
    const uint64_t t0 = TscClock::Now();
    for (uint64_t i = 0; i < p.records; ++i) {
      src[0] = static_cast<uint8_t>(i);
      std::memcpy(dst.data(), src.data(), p.size);
      asm volatile("" : : "r"(dst.data()) : "memory");  // the copy is not optimized away
    }
    runs.push_back(SecondsSince(t0));
  }
  return Median(runs);
}

absl::StatusOr<double> RingSeconds(const Plan& p, const Config& c, WaitMode mode, uint64_t batch) {
  QLASTER_ASSIGN_OR_RETURN(shm::RingProducer producer, shm::RingProducer::Create({.dir = c.shm_dir, .capacity = kRingBytes}));
  QLASTER_ASSIGN_OR_RETURN(shm::RingConsumer consumer, shm::RingConsumer::Attach(UniqueFd(::dup(producer.fd()))));
  QLASTER_ASSIGN_OR_RETURN(shm::EventFd bell, shm::EventFd::Create());
  const uint64_t total = p.records * static_cast<uint64_t>(p.repetitions + 1);
  absl::StatusOr<ChildProcess> child = ChildProcess::Fork([&] {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    (void)PinToCpu(c.Cpu(1));
    std::vector<uint8_t> out(p.size);
    uint64_t expected = 0;
    int unreleased = 0;
    while (expected < total) {
      shm::RingRecord rec;
      shm::ReadResult r = consumer.TryRead(&rec);
      if (r == shm::ReadResult::kOk) {
        uint64_t seq;
        std::memcpy(&seq, rec.payload.data(), sizeof(seq));
        if (seq != expected || rec.payload.size() != p.size) return 4;
        std::memcpy(out.data(), rec.payload.data(), rec.payload.size());
        ++expected;
        if (++unreleased == kReleaseEvery) {
          consumer.Release();
          unreleased = 0;
        }
        continue;
      }
      if (r != shm::ReadResult::kEmpty) return 5;
      consumer.Release();
      unreleased = 0;
      if (consumer.Wait(bell, mode, kStall) != shm::WaitResult::kReady) return 3;
    }
    consumer.Release();
    return 0;
  });
  if (!child.ok()) return child.status();
  QLASTER_RETURN_IF_ERROR(PinToCpu(c.Cpu(0)));
  std::vector<uint8_t> src(p.size, 0x5a);
  std::vector<double> runs;
  uint64_t seq = 0;
  for (int rep = -1; rep < p.repetitions; ++rep) {  // rep -1 warms up (page faults), untimed
    const uint64_t t0 = TscClock::Now();
    uint64_t pending = 0, pending_bytes = 0;
    for (uint64_t i = 0; i < p.records; ++i, ++seq) {
      uint8_t* at;
      shm::WriteResult w;
      while ((w = producer.TryClaim(shm::kFirstUserRecordType, static_cast<uint32_t>(p.size), &at)) ==
             shm::WriteResult::kFull) {
        producer.Publish();  // claims of a batch in progress must become readable
        producer.WakeIfSleeping(bell);
        if (SecondsSince(t0) > absl::ToDoubleSeconds(kStall)) {
          return absl::DeadlineExceededError("throughput: the ring stayed full (consumer stalled)");
        }
      }
      if (w != shm::WriteResult::kOk) return absl::InternalError("throughput: the ring refused a record");
      std::memcpy(at, src.data(), p.size);
      std::memcpy(at, &seq, sizeof(seq));
      if (++pending == batch || (pending_bytes += p.size) >= kBatchBytes || i + 1 == p.records) {
        pending = 0;
        pending_bytes = 0;
        producer.Publish();
        producer.WakeIfSleeping(bell);
      }
    }
    while (producer.unread_bytes() != 0) {
      if (SecondsSince(t0) > absl::ToDoubleSeconds(kStall)) {
        return absl::DeadlineExceededError("throughput: the consumer stopped reading");
      }
    }
    if (rep >= 0) runs.push_back(SecondsSince(t0));
  }
  QLASTER_RETURN_IF_ERROR(ReapChild(*child));
  return Median(runs);
}

absl::StatusOr<double> SocketSeconds(const Plan& p, const Config& c) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  UniqueFd mine(fds[0]), theirs(fds[1]);
  absl::StatusOr<ChildProcess> child = ChildProcess::Fork([&] {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    (void)PinToCpu(c.Cpu(1));
    mine.Reset();
    const uint64_t frame = sizeof(uint32_t) + p.size;
    std::vector<uint8_t> buf(std::max<uint64_t>(256 << 10, frame));
    for (int rep = -1; rep < p.repetitions; ++rep) {
      // Parse whole frames out of the stream, as a bot's reader loop would.
      uint64_t have = 0, records = 0;
      while (records < p.records) {
        ssize_t r = ::read(theirs.get(), buf.data() + have, buf.size() - have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 4;
        have += static_cast<uint64_t>(r);
        uint64_t at = 0;
        while (have - at >= frame) {
          uint32_t len;
          std::memcpy(&len, buf.data() + at, sizeof(len));
          if (len != p.size) return 5;
          at += frame;
          ++records;
        }
        std::memmove(buf.data(), buf.data() + at, have - at);
        have -= at;
      }
      const uint8_t ack = 1;
      if (!WriteFull(theirs.get(), &ack, 1)) return 6;
    }
    return 0;
  });
  if (!child.ok()) return child.status();
  theirs.Reset();
  QLASTER_RETURN_IF_ERROR(PinToCpu(c.Cpu(0)));
  std::vector<uint8_t> frame(sizeof(uint32_t) + p.size, 0x5a);
  const uint32_t len = static_cast<uint32_t>(p.size);
  std::memcpy(frame.data(), &len, sizeof(len));
  std::vector<double> runs;
  for (int rep = -1; rep < p.repetitions; ++rep) {  // rep -1 warms up, untimed
    const uint64_t t0 = TscClock::Now();
    for (uint64_t i = 0; i < p.records; ++i) {
      if (!WriteFull(mine.get(), frame.data(), frame.size())) {
        return absl::InternalError("throughput: the socket reader went away");
      }
    }
    uint8_t ack;
    if (::read(mine.get(), &ack, 1) != 1) return absl::InternalError("throughput: no acknowledgement from the socket reader");
    if (rep >= 0) runs.push_back(SecondsSince(t0));
  }
  QLASTER_RETURN_IF_ERROR(ReapChild(*child));
  return Median(runs);
}

}  // namespace

absl::StatusOr<std::vector<Result>> RunThroughput(const Config& config) {
  std::vector<uint64_t> sizes = {32, 256, 4096, 65536, 1 << 20};
  if (config.size) {
    if (*config.size < 8 || *config.size > kRingBytes / 2) {
      return absl::InvalidArgumentError("throughput: --size must be 8 bytes .. 8 MiB");
    }
    sizes = {*config.size};
  }
  const WaitMode mode = config.mode.value_or(WaitMode::kSpin);
  std::vector<Result> results;
  for (uint64_t size : sizes) {
    const Plan plan = PlanFor(config, size);
    QLASTER_ASSIGN_OR_RETURN(double memcpy_s, MemcpySeconds(plan));
    QLASTER_ASSIGN_OR_RETURN(double socket_s, SocketSeconds(plan, config));
    for (uint64_t batch : {uint64_t{1}, kBatch}) {
      QLASTER_ASSIGN_OR_RETURN(double ring_s, RingSeconds(plan, config, mode, batch));
      Result r = Make("qlaster", plan, ring_s);
      r.Param("mode", ModeName(mode));
      r.Param("batch", static_cast<int64_t>(batch));
      r.Param("records", static_cast<int64_t>(plan.records));
      r.baseline = {Make("memcpy", plan, memcpy_s), Make("unix_socket", plan, socket_s)};
      results.push_back(std::move(r));
    }
  }
  return results;
}

}  // namespace qlaster::bench
