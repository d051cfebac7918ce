// End to end: the real qlaster-inspect binary against the real qlaster-sender fed through
// its ingest ring. Checks the JSON lines field by field with exact values, the exits
// (no sender: 2; bad base58: 64; --count and SIGINT: 0), --sender-stats --json, and that
// a --record file replayed by a second sender (in process, through ReplaySource) gives
// the same updates.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "sender/replay_source.h"
#include "sender/sender.h"
#include "tests/ingest_writer.h"
#include "tests/sender_process.h"
#include "base/base58.h"
#include "wire/record_file.h"

namespace qlaster {
namespace {

using testing::SenderProcess;

// ----------------------------------------------------------------- a small JSON reader
// Enough JSON for inspect's output: objects, arrays, strings (with escapes), literals;
// numbers are kept as their text so that 64-bit values compare exactly.
struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool boolean = false;
  std::string text = {};  // number text or string value
  std::vector<Json> items = {};
  std::map<std::string, Json> fields = {};

  const Json& operator[](const std::string& key) const {
    static const Json missing{.type = kNull, .text = "<missing>"};
    auto it = fields.find(key);
    return it == fields.end() ? missing : it->second;
  }
  bool has(const std::string& key) const { return fields.count(key) != 0; }
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}
  std::optional<Json> Parse() {
    std::optional<Json> v = Value();
    Skip();
    if (!v || i_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  void Skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n')) ++i_;
  }
  bool Eat(char c) {
    Skip();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  std::optional<std::string> String() {
    if (!Eat('"')) return std::nullopt;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;  // must be escaped
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) return std::nullopt;
      c = s_[i_++];
      switch (c) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case '"': case '\\': case '/': out += c; break;
        case 'u': {
          if (i_ + 4 > s_.size()) return std::nullopt;
          const unsigned cp = std::stoul(std::string(s_.substr(i_, 4)), nullptr, 16);
          i_ += 4;
          if (cp < 0x80) {
            out += static_cast<char>(cp);
          } else {
            out += "?";  // inspect escapes only control characters and U+FFFD
          }
          break;
        }
        default:
          return std::nullopt;
      }
    }
    if (i_ >= s_.size()) return std::nullopt;
    ++i_;
    return out;
  }
  std::optional<Json> Value() {
    Skip();
    if (i_ >= s_.size()) return std::nullopt;
    Json v;
    const char c = s_[i_];
    if (c == '{') {
      ++i_;
      v.type = Json::kObject;
      if (Eat('}')) return v;
      do {
        std::optional<std::string> key = String();
        if (!key || !Eat(':')) return std::nullopt;
        std::optional<Json> value = Value();
        if (!value || v.fields.count(*key) != 0) return std::nullopt;  // no duplicate keys
        v.fields[*key] = *std::move(value);
      } while (Eat(','));
      if (!Eat('}')) return std::nullopt;
    } else if (c == '[') {
      ++i_;
      v.type = Json::kArray;
      if (Eat(']')) return v;
      do {
        std::optional<Json> item = Value();
        if (!item) return std::nullopt;
        v.items.push_back(*std::move(item));
      } while (Eat(','));
      if (!Eat(']')) return std::nullopt;
    } else if (c == '"') {
      std::optional<std::string> str = String();
      if (!str) return std::nullopt;
      v.type = Json::kString;
      v.text = *str;
    } else if (s_.substr(i_, 4) == "null") {
      i_ += 4;
    } else if (s_.substr(i_, 4) == "true" || s_.substr(i_, 5) == "false") {
      v.type = Json::kBool;
      v.boolean = s_[i_] == 't';
      i_ += v.boolean ? 4 : 5;
    } else {
      size_t j = i_;
      while (j < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[j])) || s_[j] == '-' ||
                               s_[j] == '.' || s_[j] == 'e' || s_[j] == 'E' || s_[j] == '+')) {
        ++j;
      }
      if (j == i_) return std::nullopt;
      v.type = Json::kNumber;
      v.text = std::string(s_.substr(i_, j - i_));
      i_ = j;
    }
    return v;
  }

  std::string_view s_;
  size_t i_ = 0;
};

std::string Base64(const std::vector<uint8_t>& b) {
  static constexpr char kA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < b.size(); i += 3) {
    uint32_t v = uint32_t{b[i]} << 16;
    if (i + 1 < b.size()) v |= uint32_t{b[i + 1]} << 8;
    if (i + 2 < b.size()) v |= b[i + 2];
    out += kA[v >> 18];
    out += kA[(v >> 12) & 63];
    out += i + 1 < b.size() ? kA[(v >> 6) & 63] : '=';
    out += i + 2 < b.size() ? kA[v & 63] : '=';
  }
  return out;
}

// ----------------------------------------------------------------- the fixture

Pubkey Key(uint8_t tag, uint8_t n = 0) {
  Pubkey k{};
  k[0] = tag;
  k[1] = n;
  k[31] = 0x5a;
  return k;
}
std::string B58(const Pubkey& k) { return Base58Encode(k); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Inspect {
  std::unique_ptr<ChildProcess> process;
  std::string out;
  std::string err;

  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    for (absl::string_view l : absl::StrSplit(ReadFile(out), '\n', absl::SkipEmpty())) {
      lines.emplace_back(l);
    }
    return lines;
  }
  std::vector<Json> JsonLines() const {
    std::vector<Json> out_json;
    for (const std::string& l : Lines()) {
      std::optional<Json> j = JsonParser(l).Parse();
      EXPECT_TRUE(j.has_value()) << "not JSON: " << l;
      if (j) out_json.push_back(*j);
    }
    return out_json;
  }
  // Waits for the child to exit; its wait status as text ("exited 0").
  std::string Finish(absl::Duration timeout = absl::Seconds(60)) {
    auto status = process->Wait(timeout);
    if (!status.ok()) return status.status().ToString();
    return DescribeWaitStatus(*status);
  }
};

class InspectTest : public ::testing::Test {
 protected:
  void StartSender() {
    auto sender = SenderProcess::Start(QLASTER_SENDER_BINARY, dir_.path(),
                                       {"--ping_interval=200ms", "--idle_timeout=10s", "--quiet"});
    ASSERT_TRUE(sender.ok()) << sender.status();
    sender_ = *std::move(sender);
    auto writer = testing::IngestWriter::Attach(sender_->ingest_name());
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_.emplace(*std::move(writer));
  }

  // Runs qlaster-inspect with `args`, stdout and stderr to files.
  Inspect Run(const std::string& name, std::vector<std::string> args) {
    Inspect in;
    in.out = dir_.path() + "/" + name + ".out";
    in.err = dir_.path() + "/" + name + ".err";
    UniqueFd out(::open(in.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    UniqueFd err(::open(in.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    std::vector<std::string> argv = {QLASTER_INSPECT_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    auto child = ChildProcess::Spawn(argv, {{null.get(), 0}, {out.get(), 1}, {err.get(), 2}});
    EXPECT_TRUE(child.ok()) << child.status();
    if (child.ok()) in.process = std::make_unique<ChildProcess>(*std::move(child));
    return in;
  }

  // Runs it and waits until it has subscribed (its "subscribed:" line on stderr).
  Inspect Watch(const std::string& name, std::vector<std::string> args,
                const std::string& socket = "") {
    args.push_back("--socket=" + (socket.empty() ? sender_->socket_path() : socket));
    Inspect in = Run(name, args);
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!absl::StrContains(ReadFile(in.err), "subscribed:") && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    EXPECT_TRUE(absl::StrContains(ReadFile(in.err), "subscribed:")) << ReadFile(in.err);
    return in;
  }

  void Write(const absl::StatusOr<EncodedUpdate>& e) {
    ASSERT_TRUE(e.ok()) << e.status();
    ASSERT_TRUE(writer_->Write(*e).ok());
  }

  // A known mix for one subscription (--account=Key(1) --owner=Key(9) --transactions=all):
  // two accounts it wants (one signed and executable, one large and compressible), one
  // it does not, a vote and a failed non-vote transaction, a rooted slot.
  struct Feed {
    AccountUpdate signed_account;
    AccountUpdate big_account;
    AccountUpdate unwanted;
    TransactionUpdate vote;
    TransactionUpdate failed;
    SlotUpdate slot{.slot = 250'000'002, .parent = 250'000'001, .status = SlotStatus::kRooted};
  };
  static Feed MakeFeed() {
    Feed f;
    f.signed_account.pubkey = Key(1);
    f.signed_account.owner = Key(4);
    f.signed_account.lamports = 2'039'280;
    f.signed_account.executable = true;
    f.signed_account.rent_epoch = UINT64_MAX;
    f.signed_account.slot = 250'000'001;
    f.signed_account.write_version = 77;
    f.signed_account.txn_signature.emplace();
    f.signed_account.txn_signature->fill(0x42);
    f.signed_account.data = {0, 1, 2, 250, 251, 252, 253};
    f.big_account.pubkey = Key(2);
    f.big_account.owner = Key(9);
    f.big_account.lamports = 1;
    f.big_account.rent_epoch = 361;
    f.big_account.slot = 250'000'001;
    f.big_account.write_version = 78;
    f.big_account.data.assign(1 << 20, 0);  // compressed by the sender
    f.big_account.data[1000] = 7;
    f.unwanted = f.signed_account;
    f.unwanted.pubkey = Key(3);
    f.vote.slot = 250'000'001;
    f.vote.index = 0;
    f.vote.signature.fill(0x11);
    f.vote.is_vote = true;
    f.vote.data = {9, 8, 7};
    f.failed.slot = 250'000'001;
    f.failed.index = 1;
    f.failed.signature.fill(0x22);
    f.failed.failed = true;
    f.failed.data.assign(1232, 0x33);
    return f;
  }
  static std::vector<std::string> FeedArgs() {
    return {"--account=" + B58(Key(1)), "--owner", B58(Key(9)), "--transactions=all",
            "--slots", "--json", "--count=5"};
  }
  void WriteFeed(const Feed& f) {
    Write(EncodedUpdate::Account(f.signed_account));
    Write(EncodedUpdate::Account(f.unwanted));
    Write(EncodedUpdate::Account(f.big_account));
    Write(EncodedUpdate::Transaction(f.vote));
    Write(EncodedUpdate::Transaction(f.failed));
    Write(EncodedUpdate::Slot(f.slot));
  }

  TempDir dir_;
  std::unique_ptr<SenderProcess> sender_;
  std::optional<testing::IngestWriter> writer_;
};

void ExpectLatency(const Json& j) {
  ASSERT_EQ(j["latency_ns"].type, Json::kNumber);
  const double latency = std::stod(j["latency_ns"].text);
  EXPECT_GE(latency, 0);
  EXPECT_LT(latency, 60e9);
}

// Checks the five lines of the feed, exactly; `data` when --data was given.
void ExpectFeedLines(const std::vector<Json>& lines, bool data) {
  ASSERT_EQ(lines.size(), 5u);
  const Json& a = lines[0];
  EXPECT_EQ(a["kind"].text, "account");
  EXPECT_EQ(a["seq"].text, "1");
  EXPECT_EQ(a["slot"].text, "250000001");
  ExpectLatency(a);
  EXPECT_EQ(a["pubkey"].text, B58(Key(1)));
  EXPECT_EQ(a["owner"].text, B58(Key(4)));
  EXPECT_EQ(a["lamports"].text, "2039280");
  EXPECT_TRUE(a["executable"].type == Json::kBool && a["executable"].boolean);
  EXPECT_EQ(a["rent_epoch"].text, "18446744073709551615");
  EXPECT_EQ(a["write_version"].text, "77");
  EXPECT_EQ(a["data_len"].text, "7");
  EXPECT_TRUE(a["compressed"].type == Json::kBool && !a["compressed"].boolean);
  Signature sig;
  sig.fill(0x42);
  EXPECT_EQ(a["txn_signature"].text, Base58Encode(sig));
  if (data) {
    EXPECT_EQ(a["data"].text, Base64({0, 1, 2, 250, 251, 252, 253}));
  } else {
    EXPECT_FALSE(a.has("data"));
  }

  const Json& big = lines[1];
  EXPECT_EQ(big["kind"].text, "account");
  EXPECT_EQ(big["seq"].text, "2");
  EXPECT_EQ(big["pubkey"].text, B58(Key(2)));
  EXPECT_EQ(big["owner"].text, B58(Key(9)));
  EXPECT_EQ(big["lamports"].text, "1");
  EXPECT_FALSE(big["executable"].boolean);
  EXPECT_EQ(big["rent_epoch"].text, "361");
  EXPECT_EQ(big["write_version"].text, "78");
  EXPECT_EQ(big["data_len"].text, "1048576");
  EXPECT_TRUE(big["compressed"].boolean);
  EXPECT_EQ(big["txn_signature"].type, Json::kNull);
  if (data) {
    std::vector<uint8_t> bytes(1 << 20, 0);
    bytes[1000] = 7;
    EXPECT_EQ(big["data"].text, Base64(bytes));
  }

  const Json& vote = lines[2];
  EXPECT_EQ(vote["kind"].text, "transaction");
  EXPECT_EQ(vote["seq"].text, "3");
  EXPECT_EQ(vote["slot"].text, "250000001");
  ExpectLatency(vote);
  Signature s1;
  s1.fill(0x11);
  EXPECT_EQ(vote["signature"].text, Base58Encode(s1));
  EXPECT_EQ(vote["index"].text, "0");
  EXPECT_TRUE(vote["is_vote"].boolean);
  EXPECT_FALSE(vote["failed"].boolean);
  EXPECT_EQ(vote["data_len"].text, "3");
  if (data) {
    EXPECT_EQ(vote["data"].text, Base64({9, 8, 7}));
  }

  const Json& failed = lines[3];
  EXPECT_EQ(failed["kind"].text, "transaction");
  EXPECT_EQ(failed["seq"].text, "4");
  Signature s2;
  s2.fill(0x22);
  EXPECT_EQ(failed["signature"].text, Base58Encode(s2));
  EXPECT_EQ(failed["index"].text, "1");
  EXPECT_FALSE(failed["is_vote"].boolean);
  EXPECT_TRUE(failed["failed"].boolean);
  EXPECT_EQ(failed["data_len"].text, "1232");

  const Json& slot = lines[4];
  EXPECT_EQ(slot["kind"].text, "slot");
  EXPECT_EQ(slot["seq"].text, "5");
  EXPECT_EQ(slot["slot"].text, "250000002");
  ExpectLatency(slot);
  EXPECT_EQ(slot["parent"].text, "250000001");
  EXPECT_EQ(slot["status"].text, "rooted");
}

TEST_F(InspectTest, JsonLinesCarryEveryFieldExactly) {
  StartSender();
  std::vector<std::string> args = FeedArgs();
  args.push_back("--data");
  Inspect in = Watch("json", args);
  WriteFeed(MakeFeed());
  EXPECT_EQ(in.Finish(), "exited 0") << ReadFile(in.err);
  ExpectFeedLines(in.JsonLines(), /*data=*/true);
}

TEST_F(InspectTest, HumanLinesAndSlotsHiddenByDefault) {
  StartSender();
  Inspect in = Watch("human", {"--account=" + B58(Key(1)), "--count=1"});
  Write(EncodedUpdate::Slot({.slot = 5, .parent = 4, .status = SlotStatus::kProcessed}));
  Feed f = MakeFeed();
  Write(EncodedUpdate::Account(f.signed_account));
  EXPECT_EQ(in.Finish(), "exited 0") << ReadFile(in.err);
  const std::vector<std::string> lines = in.Lines();
  ASSERT_EQ(lines.size(), 1u) << ReadFile(in.out);
  // Aligned columns: kind, seq, slot, latency, then the pubkey padded to 44 characters.
  EXPECT_EQ(lines[0].rfind(absl::StrFormat("%-12s %10d %11d ", "account", 2, 250000001), 0), 0u)
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], absl::StrFormat("%-44s owner %-44s", B58(Key(1)),
                                                          B58(Key(4)))))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "lamports 2039280 data 7 wv 77 executable txn "))
      << lines[0];
}

TEST_F(InspectTest, NamedFilterFlagsSelectSliceAndNameWhatMatched) {
  StartSender();
  const std::vector<uint8_t> mint_bytes = {0, 1, 2};
  const std::string mint = Base58Encode(mint_bytes);
  Inspect in = Watch("named", {"--owner=" + B58(Key(4)), "--memcmp=0:" + mint, "--datasize=7",
                               "--lamports_gt=1000", "--data_slice=1:2", "--json", "--count=1"});
  Feed f = MakeFeed();
  AccountUpdate other_mint = f.signed_account;
  other_mint.pubkey = Key(5);
  other_mint.data[1] = 9;  // the memcmp fails
  AccountUpdate poor = f.signed_account;
  poor.pubkey = Key(6);
  poor.lamports = 1000;  // not > 1000
  Write(EncodedUpdate::Account(other_mint));
  Write(EncodedUpdate::Account(poor));
  Write(EncodedUpdate::Account(f.signed_account));
  EXPECT_EQ(in.Finish(), "exited 0") << ReadFile(in.err);
  const std::vector<Json> lines = in.JsonLines();
  ASSERT_EQ(lines.size(), 1u) << ReadFile(in.out);
  const Json& a = lines[0];
  EXPECT_EQ(a["pubkey"].text, B58(Key(1))) << ReadFile(in.out) << ReadFile(in.err);
  ASSERT_EQ(a["filters"].type, Json::kArray) << ReadFile(in.out);
  ASSERT_EQ(a["filters"].items.size(), 1u);
  EXPECT_EQ(a["filters"].items[0].text, "inspect");
  EXPECT_EQ(a["data_len"].text, "2");  // the slice: bytes 1 and 2
  EXPECT_EQ(a["account_data_len"].text, "7");
}

TEST_F(InspectTest, ConfirmedCommitmentShowsTheLatestWriteOnceTheSlotIsConfirmed) {
  StartSender();
  Inspect in = Watch("confirmed", {"--owner=" + B58(Key(4)), "--commitment=confirmed", "--json",
                                   "--count=1"});
  Feed f = MakeFeed();
  const uint64_t slot = f.signed_account.slot;
  Write(EncodedUpdate::Slot({.slot = slot, .parent = slot - 1, .status = SlotStatus::kProcessed}));
  Write(EncodedUpdate::Account(f.signed_account));
  AccountUpdate later = f.signed_account;
  later.write_version = 99;
  Write(EncodedUpdate::Account(later));
  Write(EncodedUpdate::Slot({.slot = slot, .parent = slot - 1, .status = SlotStatus::kConfirmed}));
  EXPECT_EQ(in.Finish(), "exited 0") << ReadFile(in.err);
  const std::vector<Json> lines = in.JsonLines();
  ASSERT_EQ(lines.size(), 1u) << ReadFile(in.out);
  EXPECT_EQ(lines[0]["write_version"].text, "99");
}

TEST_F(InspectTest, FromSlotReplaysWhatTheSenderKeptOrNamesTheOldestSlot) {
  StartSender();
  Feed f = MakeFeed();
  AccountUpdate first = f.signed_account, second = f.signed_account;
  first.slot = 500;
  second.slot = 501;
  second.write_version = 88;
  Write(EncodedUpdate::Slot({.slot = 500, .parent = 499, .status = SlotStatus::kProcessed}));
  Write(EncodedUpdate::Account(first));
  Write(EncodedUpdate::Slot({.slot = 501, .parent = 500, .status = SlotStatus::kProcessed}));
  Write(EncodedUpdate::Account(second));
  // Nothing is published after the subscription: what arrives came from the log. The
  // sender may still be ingesting, so wait for the replay to have slot 501.
  std::vector<Json> lines;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    Inspect in = Run("replay", {"--socket=" + sender_->socket_path(), "--owner=" + B58(Key(4)),
                                "--from_slot=501", "--json", "--count=1", "--duration=2"});
    EXPECT_EQ(in.Finish(), "exited 0") << ReadFile(in.err);
    lines = in.JsonLines();
    if (!lines.empty()) break;
  }
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["slot"].text, "501");
  EXPECT_EQ(lines[0]["write_version"].text, "88");

  Inspect old = Run("too_old", {"--socket=" + sender_->socket_path(), "--owner=" + B58(Key(4)),
                                "--from_slot=7", "--count=1"});
  EXPECT_EQ(old.Finish(), "exited 1");
  const std::string err = ReadFile(old.err);
  EXPECT_TRUE(absl::StrContains(err, "OUT_OF_RANGE")) << err;
  EXPECT_TRUE(absl::StrContains(err, "500")) << err;
}

TEST_F(InspectTest, BadSubscriptionFlagsAreUsageErrors) {
  const std::string socket = dir_.path() + "/nobody.sock";
  for (const std::string& flag : {std::string("--memcmp=abc"), std::string("--memcmp=x:2"),
                                  std::string("--commitment=soon"), std::string("--vote=maybe"),
                                  std::string("--data_slice=1"), std::string("--from_slot=-3"),
                                  std::string("--lamports_lt=many")}) {
    Inspect in = Run("bad_flag", {"--socket=" + socket, flag});
    EXPECT_EQ(in.Finish(), "exited 64") << flag;
    const std::string err = ReadFile(in.err);
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << flag << ": " << err;
  }
}

TEST_F(InspectTest, MissingSenderExits2WithOneLine) {
  const std::string socket = dir_.path() + "/nobody.sock";
  Inspect in = Run("missing", {"--socket=" + socket, "--json"});
  EXPECT_EQ(in.Finish(), "exited 2");
  EXPECT_EQ(ReadFile(in.err),
            "qlaster-inspect: no qlaster-sender at " + socket + " (No such file or directory)\n");
  Inspect stats = Run("missing_stats", {"--socket=" + socket, "--sender-stats"});
  EXPECT_EQ(stats.Finish(), "exited 2");
  EXPECT_TRUE(absl::StrContains(ReadFile(stats.err), "no qlaster-sender at " + socket));
}

TEST_F(InspectTest, BadBase58IsAUsageErrorNamingFlagAndValue) {
  const std::string socket = dir_.path() + "/nobody.sock";
  Inspect in = Run("bad_account", {"--socket=" + socket, "--account=" + B58(Key(1)),
                                   "--account=not0valid"});
  EXPECT_EQ(in.Finish(), "exited 64");
  const std::string err = ReadFile(in.err);
  EXPECT_EQ(err.rfind("qlaster-inspect: --account: 'not0valid' is not a base58 pubkey", 0), 0u)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1);
  Inspect owner = Run("bad_owner", {"--socket=" + socket, "--owner=abc"});  // 2 bytes, not 32
  EXPECT_EQ(owner.Finish(), "exited 64");
  EXPECT_TRUE(absl::StrContains(ReadFile(owner.err), "--owner: 'abc'")) << ReadFile(owner.err);
  Inspect tx = Run("bad_tx", {"--socket=" + socket, "--transactions=some"});
  EXPECT_EQ(tx.Finish(), "exited 64");
}

TEST_F(InspectTest, SenderStatsListsTheInspectConsumerAndSigintRecordsCleanly) {
  StartSender();
  const std::string record = dir_.path() + "/watch.qlrec";
  Inspect watcher = Watch("watcher", {"--name=watcher", "--account=" + B58(Key(1)), "--json",
                                      "--record=" + record});
  Feed f = MakeFeed();
  for (int i = 0; i < 3; ++i) {
    f.signed_account.lamports = 100 + i;
    Write(EncodedUpdate::Account(f.signed_account));
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (watcher.Lines().size() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(2));
  ASSERT_EQ(watcher.Lines().size(), 3u);

  Inspect stats = Run("stats", {"--socket=" + sender_->socket_path(), "--sender-stats", "--json"});
  EXPECT_EQ(stats.Finish(), "exited 0") << ReadFile(stats.err);
  const std::vector<Json> lines = stats.JsonLines();
  ASSERT_EQ(lines.size(), 1u);
  const Json& s = lines[0];
  for (const char* field : {"published", "delivered", "dropped", "evicted"}) {
    EXPECT_EQ(s[field].type, Json::kNumber) << field;
  }
  EXPECT_EQ(s["published"].text, "3");
  ASSERT_EQ(s["consumers"].type, Json::kArray);
  const Json* mine = nullptr;
  for (const Json& c : s["consumers"].items) {
    if (c["name"].text == "watcher") mine = &c;
  }
  ASSERT_NE(mine, nullptr) << ReadFile(stats.out);
  EXPECT_EQ((*mine)["delivered"].text, "3");
  EXPECT_EQ((*mine)["dropped"].text, "0");
  for (const char* field : {"id", "ring_bytes", "ring_fill", "lag_records"}) {
    EXPECT_EQ((*mine)[field].type, Json::kNumber) << field;
  }
  // The table form too.
  Inspect table = Run("table", {"--socket=" + sender_->socket_path(), "--sender-stats"});
  EXPECT_EQ(table.Finish(), "exited 0");
  EXPECT_TRUE(absl::StrContains(ReadFile(table.out), "watcher")) << ReadFile(table.out);

  ::kill(watcher.process->pid(), SIGINT);
  EXPECT_EQ(watcher.Finish(), "exited 0") << ReadFile(watcher.err);
  auto reader = RecordReader::Open(record);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<uint64_t> lamports;
  for (;;) {
    auto next = reader->Next();
    ASSERT_TRUE(next.ok()) << next.status();
    if (!next->has_value()) break;
    auto view = DecodeFrame(**next);
    ASSERT_TRUE(view.ok());
    if (view->account()) lamports.push_back(view->account()->lamports);
  }
  EXPECT_EQ(lamports, (std::vector<uint64_t>{100, 101, 102}));
  EXPECT_FALSE(reader->truncated_tail());
}

TEST_F(InspectTest, DurationEndsWithExit0AndStatsPrintPlainLines) {
  StartSender();
  Inspect in = Watch("stats_view", {"--stats", "--duration=1.5"});
  EXPECT_EQ(in.Finish(), "exited 0") << ReadFile(in.err);
  const std::vector<std::string> lines = in.Lines();
  ASSERT_GE(lines.size(), 1u);  // stdout is a file: one plain line a second, no escapes
  EXPECT_TRUE(absl::StrContains(lines[0], "acct 0/s")) << lines[0];
  EXPECT_EQ(ReadFile(in.out).find('\x1b'), std::string::npos);
}

TEST_F(InspectTest, RecordThenReplayGivesTheSameUpdates) {
  StartSender();
  const std::string record = dir_.path() + "/feed.qlrec";
  std::vector<std::string> args = FeedArgs();
  args.push_back("--record=" + record);
  Inspect first = Watch("record", args);
  WriteFeed(MakeFeed());
  EXPECT_EQ(first.Finish(), "exited 0") << ReadFile(first.err);
  EXPECT_TRUE(absl::StrContains(ReadFile(first.err), "recorded 5 frames to " + record))
      << ReadFile(first.err);

  // A second sender, in process, replaying the recording as fast as it can once a
  // consumer has subscribed.
  sender::SenderOptions options;
  options.control.socket_path = dir_.path() + "/replay.sock";
  options.control.verbose = false;
  options.handle_signals = false;
  auto replay_sender = sender::Sender::Create(std::move(options));
  ASSERT_TRUE(replay_sender.ok()) << replay_sender.status();
  auto source = sender::ReplaySource::Open(
      {.path = record, .speed = 0, .loop = false, .wait_for_consumers = 1});
  ASSERT_TRUE(source.ok()) << source.status();
  absl::Status run_status;
  std::thread runner([&] { run_status = (*replay_sender)->Run(source->get()); });

  Inspect second = Watch("replayed", FeedArgs(), dir_.path() + "/replay.sock");
  EXPECT_EQ(second.Finish(), "exited 0") << ReadFile(second.err);
  (*replay_sender)->Stop();
  runner.join();
  EXPECT_TRUE(run_status.ok()) << run_status;

  std::vector<Json> recorded = first.JsonLines();
  std::vector<Json> replayed = second.JsonLines();
  ExpectFeedLines(replayed, /*data=*/false);
  ASSERT_EQ(recorded.size(), replayed.size());
  for (size_t i = 0; i < recorded.size(); ++i) {
    recorded[i].fields.erase("latency_ns");
    replayed[i].fields.erase("latency_ns");
    ASSERT_EQ(recorded[i].fields.size(), replayed[i].fields.size());
    for (const auto& [key, value] : recorded[i].fields) {
      EXPECT_EQ(value.type, replayed[i][key].type) << i << " " << key;
      EXPECT_EQ(value.text, replayed[i][key].text) << i << " " << key;
      EXPECT_EQ(value.boolean, replayed[i][key].boolean) << i << " " << key;
    }
  }
}

}  // namespace
}  // namespace qlaster
