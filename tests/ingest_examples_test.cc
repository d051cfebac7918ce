// The ingest writer examples (examples/ingest/ingest_writer.c and ingest_writer.py) end to
// end: each example, run as its own process, feeds the real qlaster-sender through its
// ingest ring, and a real consumer process (qlaster_e2e_consumer) logs what arrives. Every
// case runs once per language. Good updates must arrive exactly, fields intact; a lapping
// writer and each kind of corrupt frame must be counted and survived, with the good frame
// after them delivered; a shared-memory object that is not a ring must be refused.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e_bot.h"
#include "tests/sender_process.h"
#include "tests/stress_records.h"
#include "base/base58.h"
#include "wire/types.h"

namespace qlaster {
namespace {

using testing::SenderProcess;

constexpr uint64_t kSentinel = 999'999;
// The examples' misbehaving frames are all accounts of this key (see their opening
// comments), 100 data bytes, lamports = write_version.
constexpr uint8_t kMischiefByte = 0x4c;
constexpr uint8_t kMischiefOwnerByte = 0x4f;
constexpr size_t kLapDataLen = 100;

Pubkey Key(uint8_t tag, uint8_t n = 0) {
  Pubkey k{};
  k[0] = tag;
  k[1] = n;
  k[31] = 0x5a;
  return k;
}

Pubkey Filled(uint8_t b) {
  Pubkey k;
  k.fill(b);
  return k;
}

std::string Hex(absl::Span<const uint8_t> bytes) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}
std::string B58(absl::Span<const uint8_t> bytes) { return Base58Encode(bytes); }

// What the examples put in an account's data: byte i = (write_version + i) mod 256.
std::vector<uint8_t> AccountData(uint64_t write_version, size_t len) {
  std::vector<uint8_t> data(len);
  for (size_t i = 0; i < len; ++i) data[i] = static_cast<uint8_t>(write_version + i);
  return data;
}

struct Account {
  Pubkey pubkey;
  Pubkey owner;
  uint64_t lamports;
  uint64_t write_version;
  size_t data_len;

  std::vector<std::string> Args() const {
    return {"account", Hex(pubkey), Hex(owner), std::to_string(lamports),
            std::to_string(write_version), std::to_string(data_len)};
  }
  // The consumer's line without its sequence number and compressed flag.
  std::string Line() const {
    const std::vector<uint8_t> data = AccountData(write_version, data_len);
    std::ostringstream s;
    s << "A " << B58(pubkey) << " " << B58(owner) << " " << lamports << " " << write_version
      << " " << data_len << " " << std::hex << testing::StressChecksum(data.data(), data.size());
    return s.str();
  }
};

Account Mischief(uint64_t write_version) {
  return {Filled(kMischiefByte), Filled(kMischiefOwnerByte), write_version, write_version,
          kLapDataLen};
}

struct Transaction {
  Signature signature;
  uint64_t slot;
  uint32_t index;
  bool is_vote;
  size_t data_len;

  std::vector<std::string> Args() const {
    return {"transaction", Hex(signature), std::to_string(slot), std::to_string(index),
            is_vote ? "1" : "0", std::to_string(data_len)};
  }
  std::string Line() const { return absl::StrCat("T ", B58(signature), " ", is_vote ? 1 : 0); }
};

std::vector<std::string> SlotArgs(uint64_t slot, uint64_t parent, int status) {
  return {"slot", std::to_string(slot), std::to_string(parent), std::to_string(status)};
}
std::string SlotLine(uint64_t slot, int status) { return absl::StrCat("S ", slot, " ", status); }

void Append(std::vector<std::string>& to, const std::vector<std::string>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

// A consumer process and its event log, read as the writer examples need.
struct Bot : testing::E2eBot {

  // Each logged line without its sequence number ("A 7 x y" -> "A x y"), and for accounts
  // without the trailing compressed flag (the sender chooses it).
  std::vector<std::string> Events() const {
    std::ifstream in(out);
    std::vector<std::string> events;
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f[0] == "A" || f[0] == "T" || f[0] == "S") {
        f.erase(f.begin() + 1);
        if (f[0] == "A") f.pop_back();
      }
      events.push_back(absl::StrJoin(f, " "));
    }
    return events;
  }
  // Sequence numbers of the data records, in order.
  std::vector<uint64_t> Sequences() const {
    std::ifstream in(out);
    std::vector<uint64_t> seqs;
    for (std::string line; std::getline(in, line);) {
      if (line[0] == 'A' || line[0] == 'T' || line[0] == 'S') {
        seqs.push_back(std::strtoull(line.c_str() + 2, nullptr, 10));
      }
    }
    return seqs;
  }
};

class IngestExamplesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // The sender's stderr goes to a file, so a case can check what it counted: the
    // sender inherits fd 2 as it is when it starts.
    stderr_path_ = dir_.path() + "/sender.err";
    const int saved = ::dup(2);
    const int file = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(file, 2);
    // A small ring (64 slots of 256 bytes) so the examples wrap, write skip frames and
    // wait for room, and a lap is cheap.
    auto sender = SenderProcess::Start(
        QLASTER_SENDER_BINARY, dir_.path(),
        {"--ingest_capacity=16384", "--ingest_frame_size=256", "--ping_interval=200ms",
         "--idle_timeout=10s"});
    ::dup2(saved, 2);
    ::close(saved);
    ::close(file);
    ASSERT_TRUE(sender.ok()) << sender.status();
    sender_ = *std::move(sender);
  }

  // Starts a bot and waits for its READY line (it has subscribed).
  Bot StartBot(const std::string& name, std::vector<std::string> args) {
    // The default end mark first, so that a case's own --until_slot wins.
    args.insert(args.begin(), absl::StrCat("--until_slot=", kSentinel));
    return Bot{testing::StartE2eBot(QLASTER_E2E_CONSUMER, sender_->socket_path(), dir_.path(),
                                    name, args)};
  }

  void ExpectFinished(Bot& bot) { testing::ExpectE2eBotFinished(bot); }

  // Runs the example of this case's language as `options NAME updates`, NAME being the
  // sender's ring unless `ring` is given; returns its wait status as text ("exited 0").
  std::string RunWriter(std::vector<std::string> options, std::vector<std::string> updates,
                        std::string ring = "") {
    std::vector<std::string> argv;
    if (GetParam() == "c") {
      argv = {QLASTER_INGEST_WRITER_C};
    } else {
      argv = {QLASTER_PYTHON3, QLASTER_INGEST_WRITER_PY};
    }
    Append(argv, options);
    argv.push_back(ring.empty() ? sender_->ingest_name() : ring);
    Append(argv, updates);
    auto child = ChildProcess::Spawn(argv);
    if (!child.ok()) return child.status().ToString();
    auto status = child->Wait(absl::Seconds(60));
    if (!status.ok()) return status.status().ToString();
    return DescribeWaitStatus(*status);
  }

  std::string SenderStderr() const {
    std::ifstream in(stderr_path_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Every resynchronization the sender logged went forward. A write_pos behind the
  // sender's own position can only be a torn read of it: the writer's store of write_pos
  // was not a single store.
  void ExpectResyncsOnlyForward() {
    std::istringstream log(SenderStderr());
    for (std::string line; std::getline(log, line);) {
      unsigned long long at, to;
      const size_t pos = line.find(" at position ");
      if (pos == std::string::npos ||
          std::sscanf(line.c_str() + pos, " at position %llu; resynchronizing at %llu", &at,
                      &to) != 2) {
        continue;
      }
      EXPECT_GE(to, at) << line;
    }
  }

  // The sender is still running and still accepts consumers.
  void ExpectSenderAlive() {
    int status;
    EXPECT_EQ(::waitpid(sender_->child().pid(), &status, WNOHANG), 0) << "the sender exited";
    EXPECT_TRUE(testing::ConnectUnix(sender_->socket_path()).valid());
  }

  TempDir dir_;
  std::string stderr_path_;
  std::unique_ptr<SenderProcess> sender_;
};

TEST_P(IngestExamplesTest, DeliversAccountsTransactionsAndSlotsExactly) {
  const Pubkey p1 = Key(1), p2 = Key(2), o1 = Key(9);
  Bot bot = StartBot("bot", {"--account=" + B58(p1) + "," + B58(p2), "--owner=" + B58(o1),
                             "--transactions=all"});
  std::vector<std::string> args;
  std::vector<std::string> expected;
  auto account = [&](int i) {
    const int pick = i % 4;
    Account a{pick == 0 ? p1 : pick == 1 ? p2 : Key(3, static_cast<uint8_t>(i)),
              i % 3 == 0 ? o1 : Key(4), 1000 + static_cast<uint64_t>(i) * 7,
              static_cast<uint64_t>(i + 1), static_cast<size_t>(i * 397 % 3000)};
    Append(args, a.Args());
    if (a.pubkey == p1 || a.pubkey == p2 || a.owner == o1) expected.push_back(a.Line());
  };
  // 40 accounts of 0 to 3000 bytes fill the 64-slot ring several times over: the writer
  // waits for room, and frames that would straddle the end leave skip frames.
  for (int i = 0; i < 20; ++i) account(i);
  Transaction vote{{}, 41, 3, true, 250};
  vote.signature.fill(0x71);
  Append(args, vote.Args());
  expected.push_back(vote.Line());
  for (int i = 20; i < 40; ++i) account(i);
  Transaction plain{{}, 42, 9, false, 1200};
  for (size_t i = 0; i < plain.signature.size(); ++i) plain.signature[i] = static_cast<uint8_t>(i);
  Append(args, plain.Args());
  expected.push_back(plain.Line());
  Append(args, SlotArgs(42, 41, 1));
  expected.push_back(SlotLine(42, 1));
  Append(args, SlotArgs(kSentinel, 42, 2));
  expected.push_back(SlotLine(kSentinel, 2));

  ASSERT_EQ(RunWriter({}, args), "exited 0");
  ExpectFinished(bot);
  EXPECT_EQ(bot.Events(), expected);
  const std::vector<uint64_t> seqs = bot.Sequences();
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
  EXPECT_EQ(SenderStderr().find("qlaster-sender: ingest"), std::string::npos) << SenderStderr();
}

TEST_P(IngestExamplesTest, DemoSetArrives) {
  Bot bot = StartBot("bot", {"--account=" + B58(Filled(0x11)), "--transactions=all",
                             "--until_slot=1"});
  ASSERT_EQ(RunWriter({}, {}), "exited 0");
  ExpectFinished(bot);
  Signature sig;
  sig.fill(0x33);
  EXPECT_EQ(bot.Events(), (std::vector<std::string>{
                              Account{Filled(0x11), Filled(0x22), 1000000, 1, 0}.Line(),
                              Account{Filled(0x11), Filled(0x22), 1000001, 2, 165}.Line(),
                              Account{Filled(0x11), Filled(0x22), 1000002, 3, 3000}.Line(),
                              Transaction{sig, 1, 0, false, 300}.Line(),
                              SlotLine(1, 1),
                          }));
}

// The sender stopped while the writer laps it: it finds write_pos more than a ring ahead,
// counts the lap, resynchronizes, and reads what is written next; none of the overwritten
// frames reaches the consumer.
TEST_P(IngestExamplesTest, ResynchronizesAfterALap) {
  const Account good{Key(1), Key(9), 7, 77, 500};
  Bot bot = StartBot("bot", {"--account=" + B58(Filled(kMischiefByte)) + "," + B58(good.pubkey)});
  const pid_t pid = sender_->child().pid();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WUNTRACED), pid);  // every thread has stopped
  ASSERT_TRUE(WIFSTOPPED(status));
  const std::string lapped = RunWriter({"--lap", "200"}, {});  // 200 frames, 64 slots
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  ASSERT_EQ(lapped, "exited 0");

  std::vector<std::string> args = good.Args();
  Append(args, SlotArgs(kSentinel, 0, 0));
  ASSERT_EQ(RunWriter({}, args), "exited 0");
  ExpectFinished(bot);
  EXPECT_EQ(bot.Events(), (std::vector<std::string>{good.Line(), SlotLine(kSentinel, 0)}));
  EXPECT_NE(SenderStderr().find("writer lapped the sender"), std::string::npos)
      << SenderStderr();
  ExpectSenderAlive();
}

// The sender running while the writer ignores read_pos: whatever the timing, every frame
// that reaches the consumer is intact and in order, and the good frame after the lap
// arrives. (Whether the sender was lapped or caught a frame being overwritten depends on
// the timing; ResynchronizesAfterALap forces the lap.)
TEST_P(IngestExamplesTest, SurvivesAFreeRunningLappingWriter) {
  const Account good{Key(1), Key(9), 7, 77, 500};
  Bot bot = StartBot("bot", {"--account=" + B58(Filled(kMischiefByte)) + "," + B58(good.pubkey)});
  constexpr uint64_t kLaps = 3000;
  std::vector<std::string> args = good.Args();
  Append(args, SlotArgs(kSentinel, 0, 0));
  ASSERT_EQ(RunWriter({"--lap", std::to_string(kLaps)}, args), "exited 0");
  ExpectFinished(bot);

  std::vector<std::string> events = bot.Events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2], good.Line());
  EXPECT_EQ(events.back(), SlotLine(kSentinel, 0));
  uint64_t last = 0;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(events[i], ' ');
    ASSERT_EQ(f.size(), 7u) << events[i];
    const uint64_t version = std::strtoull(f[4].c_str(), nullptr, 10);
    EXPECT_GT(version, last) << events[i];
    EXPECT_LE(version, kLaps) << events[i];
    EXPECT_EQ(events[i], Mischief(version).Line());
    last = version;
  }
  std::printf("%zu of %llu lapping frames arrived intact\n", events.size() - 2,
              static_cast<unsigned long long>(kLaps));
  ExpectResyncsOnlyForward();
  ExpectSenderAlive();
}

// One bad frame of each kind, each followed by a good account: the sender counts and logs
// each, publishes nothing of it, and delivers the good frame after it.
TEST_P(IngestExamplesTest, CountsEachKindOfCorruptFrameAndDeliversTheNextGoodOne) {
  Bot bot = StartBot("bot", {"--account=" + B58(Filled(kMischiefByte)) + "," + B58(Key(1))});
  const std::vector<std::pair<std::string, std::string>> kinds = {
      {"torn", "torn frame"},
      {"length", "frame length past the written data"},
      {"schema", "unknown schema 77"},
      {"payload", "rejected"},
  };
  std::vector<std::string> expected;
  for (size_t k = 0; k < kinds.size(); ++k) {
    const Account good{Key(1), Key(9), 100 + k, k + 1, 40 * k};
    ASSERT_EQ(RunWriter({"--corrupt", kinds[k].first}, good.Args()), "exited 0") << kinds[k].first;
    expected.push_back(good.Line());
  }
  ASSERT_EQ(RunWriter({}, SlotArgs(kSentinel, 0, 0)), "exited 0");
  expected.push_back(SlotLine(kSentinel, 0));
  ExpectFinished(bot);
  EXPECT_EQ(bot.Events(), expected);
  const std::string log = SenderStderr();
  for (const auto& [kind, message] : kinds) {
    EXPECT_NE(log.find(message), std::string::npos) << kind << " not reported:\n" << log;
  }
  ExpectSenderAlive();
}

// A name that does not exist, and objects that are not version-1 rings, are refused with
// exit status 2 and left as they were.
TEST_P(IngestExamplesTest, RefusesWhatIsNotAnIngestRing) {
  EXPECT_EQ(RunWriter({}, {}, sender_->ingest_name() + "_missing"), "exited 2");

  const std::string name = absl::StrCat("qlaster_not_a_ring_", ::getpid());
  ::shm_unlink(("/" + name).c_str());  // left over from a crashed run
  UniqueFd fd(::shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(::ftruncate(fd.get(), 4096 + 16384), 0);
  void* mem = ::mmap(nullptr, 4096 + 16384, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* bytes = static_cast<uint8_t*>(mem);
  // All zeros: no magic.
  EXPECT_EQ(RunWriter({}, {}, name), "exited 2");
  // A ring in every respect but its version.
  const uint64_t magic = 0x315453474e494c51ULL, capacity = 16384, frame_size = 256;
  const uint32_t version = 2, header_bytes = 4096;
  std::memcpy(bytes, &magic, 8);
  std::memcpy(bytes + 8, &version, 4);
  std::memcpy(bytes + 12, &header_bytes, 4);
  std::memcpy(bytes + 16, &capacity, 8);
  std::memcpy(bytes + 24, &frame_size, 8);
  EXPECT_EQ(RunWriter({}, {}, name), "exited 2");
  // Version 1, but a capacity larger than the object.
  const uint32_t version1 = 1;
  const uint64_t too_big = 1 << 20;
  std::memcpy(bytes + 8, &version1, 4);
  std::memcpy(bytes + 16, &too_big, 8);
  EXPECT_EQ(RunWriter({}, {}, name), "exited 2");
  for (size_t i = 32; i < 4096 + 16384; ++i) ASSERT_EQ(bytes[i], 0) << "byte " << i;
  ::munmap(mem, 4096 + 16384);
  ::shm_unlink(("/" + name).c_str());

  // Bad arguments are refused before anything is written, even the good update before
  // the bad one.
  UniqueFd ring_fd(::shm_open(("/" + sender_->ingest_name()).c_str(), O_RDONLY | O_CLOEXEC, 0));
  ASSERT_TRUE(ring_fd.valid());
  void* header = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, ring_fd.get(), 0);
  ASSERT_NE(header, MAP_FAILED);
  const auto* write_pos = reinterpret_cast<const volatile uint64_t*>(
      static_cast<const uint8_t*>(header) + 128);
  EXPECT_EQ(RunWriter({"--corrupt", "bogus"}, {}), "exited 1");
  EXPECT_EQ(RunWriter({"--lap", "3", "--corrupt", "bogus"}, {}), "exited 1");
  std::vector<std::string> args = SlotArgs(5, 4, 0);
  Append(args, {"account", "zz"});
  EXPECT_EQ(RunWriter({}, args), "exited 1");
  EXPECT_EQ(RunWriter({}, SlotArgs(5, 4, 7)), "exited 1");  // no status 7
  EXPECT_EQ(*write_pos, 0u);
  ::munmap(header, 4096);
}

INSTANTIATE_TEST_SUITE_P(Languages, IngestExamplesTest, ::testing::Values("c", "python"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param == "c" ? std::string("C") : std::string("Python");
                         });

}  // namespace
}  // namespace qlaster
