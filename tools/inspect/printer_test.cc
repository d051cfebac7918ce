// qlaster-inspect's formatting and recording, without a sender: the exact JSON of every
// event kind, escaping (control characters, invalid UTF-8), base64, slot status names,
// the text line, the sender-stats table and JSON, the live-stats percentiles and screen,
// and the re-encoding of events into the very frames they were decoded from.
#include "tools/inspect/printer.h"

#include "gtest/gtest.h"
#include "tools/inspect/live_stats.h"
#include "base/base58.h"
#include "wire/frame.h"

namespace qlaster::inspect {
namespace {

Pubkey Key(uint8_t b) {
  Pubkey k{};
  k.fill(b);
  return k;
}

constexpr int64_t kNow = 1'700'000'000'000'050'000;
constexpr uint64_t kStamp = 1'700'000'000'000'000'000;  // 50 us before kNow

Event AccountEventOf(std::span<const uint8_t> data) {
  AccountEvent a{.pubkey = Key(7),
                 .owner = Pubkey{},
                 .lamports = 2039280,
                 .executable = true,
                 .rent_epoch = UINT64_MAX,
                 .slot = 250000001,
                 .write_version = 9,
                 .has_txn_signature = false,
                 .txn_signature = {},
                 .data = data,
                 .was_compressed = false};
  return Event{.kind = EventKind::kAccount, .sequence = 12, .timestamp_ns = kStamp, .body = a};
}

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(JsonString(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(JsonString(std::string("nul\0in", 6)), "\"nul\\u0000in\"");
}

TEST(JsonStringTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonString("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(JsonString("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(JsonString("\xc3"), "\"\\ufffd\"");              // cut short
  EXPECT_EQ(JsonString("\xc0\xaf"), "\"\\ufffd\\ufffd\"");    // overlong
  EXPECT_EQ(JsonString("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  EXPECT_EQ(JsonString("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
}

TEST(Base64Test, MatchesRfc4648Vectors) {
  auto b64 = [](std::string s) {
    return Base64Encode(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  };
  EXPECT_EQ(b64(""), "");
  EXPECT_EQ(b64("f"), "Zg==");
  EXPECT_EQ(b64("fo"), "Zm8=");
  EXPECT_EQ(b64("foo"), "Zm9v");
  EXPECT_EQ(b64("foob"), "Zm9vYg==");
  EXPECT_EQ(b64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(b64("foobar"), "Zm9vYmFy");
  const uint8_t high[] = {0xfb, 0xff};
  EXPECT_EQ(Base64Encode(high), "+/8=");
}

TEST(FormatTest, NanosAndBytes) {
  EXPECT_EQ(FormatNanos(850), "850ns");
  EXPECT_EQ(FormatNanos(14'250), "14.2us");
  EXPECT_EQ(FormatNanos(3'050'000), "3.05ms");
  EXPECT_EQ(FormatNanos(1'200'000'000), "1.20s");
  EXPECT_EQ(FormatNanos(-2'000), "-2.0us");
  EXPECT_EQ(FormatNanos(INT64_MIN).substr(0, 1), "-");
  EXPECT_EQ(FormatBytes(512), "512B");
  EXPECT_EQ(FormatBytes(64 * 1024), "64.0KiB");
  EXPECT_EQ(FormatBytes(1.5 * 1024 * 1024), "1.50MiB");
}

TEST(FormatJsonTest, Account) {
  const uint8_t data[] = {1, 2, 3};
  Event e = AccountEventOf(data);
  const std::string pubkey = Base58Encode(Key(7));
  EXPECT_EQ(FormatJson(e, kNow),
            "{\"kind\":\"account\",\"seq\":12,\"slot\":250000001,\"latency_ns\":50000,"
            "\"pubkey\":\"" + pubkey + "\",\"owner\":\"11111111111111111111111111111111\","
            "\"lamports\":2039280,\"executable\":true,\"rent_epoch\":18446744073709551615,"
            "\"write_version\":9,\"data_len\":3,\"account_data_len\":0,\"sliced\":false,"
            "\"compressed\":false,\"txn_signature\":null}");
  std::get<AccountEvent>(e.body).has_txn_signature = true;
  std::get<AccountEvent>(e.body).txn_signature = Signature{5};
  const std::string json = FormatJson(e, kNow, {.data = true});
  EXPECT_NE(json.find("\"txn_signature\":\"" + Base58Encode(Signature{5}) + "\""),
            std::string::npos) << json;
  EXPECT_NE(json.find(",\"data\":\"AQID\"}"), std::string::npos) << json;
}

TEST(FormatJsonTest, Transaction) {
  const uint8_t data[] = {0xff};
  TransactionEvent t{.slot = 77, .index = 3, .signature = Signature{9}, .is_vote = true,
                     .failed = false, .data = data};
  Event e{.kind = EventKind::kTransaction, .sequence = 5, .timestamp_ns = kStamp, .body = t};
  EXPECT_EQ(FormatJson(e, kNow, {.data = true}),
            "{\"kind\":\"transaction\",\"seq\":5,\"slot\":77,\"latency_ns\":50000,"
            "\"signature\":\"" + Base58Encode(Signature{9}) + "\",\"index\":3,\"is_vote\":true,"
            "\"failed\":false,\"data_len\":1,\"status_len\":0,\"data\":\"/w==\",\"status\":\"\"}");
}

TEST(FormatJsonTest, SlotWithEveryStatusName) {
  const std::pair<SlotStatus, const char*> names[] = {
      {SlotStatus::kProcessed, "processed"},   {SlotStatus::kConfirmed, "confirmed"},
      {SlotStatus::kRooted, "rooted"},         {SlotStatus::kFirstShredReceived, "first_shred_received"},
      {SlotStatus::kCompleted, "completed"},   {SlotStatus::kCreatedBank, "created_bank"},
      {SlotStatus::kDead, "dead"}};
  for (const auto& [state, name] : names) {
    Event e{.kind = EventKind::kSlot, .sequence = 6, .timestamp_ns = kStamp,
            .body = SlotEvent{.slot = 77, .parent = 76, .state = state}};
    EXPECT_EQ(FormatJson(e, kNow), std::string("{\"kind\":\"slot\",\"seq\":6,\"slot\":77,"
                                               "\"latency_ns\":50000,\"parent\":76,\"status\":\"") +
                                       name + "\"}");
  }
}

TEST(FormatJsonTest, GapDisconnectedReconnected) {
  Event gap{.kind = EventKind::kGap, .sequence = 10, .timestamp_ns = kStamp,
            .body = GapEvent{.dropped = 3, .first_missing = 8, .last_missing = 10,
                             .reported_by_sender = true}};
  EXPECT_EQ(FormatJson(gap, kNow),
            "{\"kind\":\"gap\",\"seq\":10,\"slot\":null,\"latency_ns\":50000,\"dropped\":3,"
            "\"first_missing\":8,\"last_missing\":10,\"reported_by_sender\":true}");
  Event d{.kind = EventKind::kDisconnected, .sequence = 0, .timestamp_ns = 0,
          .body = DisconnectedEvent{.reason = "evicted: \"slow\"\n", .will_reconnect = true}};
  EXPECT_EQ(FormatJson(d, kNow),
            "{\"kind\":\"disconnected\",\"seq\":0,\"slot\":null,\"latency_ns\":null,"
            "\"reason\":\"evicted: \\\"slow\\\"\\n\",\"will_reconnect\":true}");
  Event r{.kind = EventKind::kReconnected, .sequence = 0, .timestamp_ns = 0,
          .body = ReconnectedEvent{.consumer_id = 4, .effective_sequence = 0}};
  EXPECT_EQ(FormatJson(r, kNow),
            "{\"kind\":\"reconnected\",\"seq\":0,\"slot\":null,\"latency_ns\":null,"
            "\"consumer_id\":4,\"effective_sequence\":0}");
}

TEST(FormatHumanTest, AlignedColumns) {
  const uint8_t data[] = {1, 2, 3};
  const std::string line = FormatHuman(AccountEventOf(data), kNow);
  const std::string pubkey = Base58Encode(Key(7));
  EXPECT_EQ(line.substr(0, 47), "account              12   250000001    50.0us  ");
  EXPECT_NE(line.find(pubkey), std::string::npos);
  EXPECT_NE(line.find("lamports 2039280 data 3 wv 9 executable"), std::string::npos) << line;
  Event slot{.kind = EventKind::kSlot, .sequence = 6, .timestamp_ns = kStamp,
             .body = SlotEvent{.slot = 77, .parent = 76, .state = SlotStatus::kRooted}};
  EXPECT_EQ(FormatHuman(slot, kNow),
            "slot                  6          77    50.0us  parent 76 rooted");
  Event d{.kind = EventKind::kDisconnected,
          .body = DisconnectedEvent{.reason = "bye\x1b[2J", .will_reconnect = false}};
  EXPECT_EQ(FormatHuman(d, kNow).find('\x1b'), std::string::npos);  // no terminal escapes
}

TEST(SenderStatsTest, TableAndJson) {
  StatsMsg s{.published = 100, .delivered = 90, .dropped = 3, .evicted = 1,
             .consumers = {{.consumer_id = 4, .name = "bot \"a\"", .delivered = 90,
                            .dropped = 3, .ring_bytes = 1 << 20, .ring_fill = 1 << 19,
                            .lag_records = 7}},
             .source_counters = {{.source = "yellowstone:http://h:1", .name = "malformed", .value = 2}},
             .oldest_replay_slot = 380'000'000};
  EXPECT_EQ(FormatSenderStatsJson(s),
            "{\"published\":100,\"delivered\":90,\"dropped\":3,\"evicted\":1,\"consumers\":[{"
            "\"id\":4,\"name\":\"bot \\\"a\\\"\",\"delivered\":90,\"dropped\":3,"
            "\"ring_bytes\":1048576,\"ring_fill\":524288,\"lag_records\":7}],"
            "\"source_counters\":[{\"source\":\"yellowstone:http://h:1\",\"name\":\"malformed\","
            "\"value\":2}],\"oldest_replay_slot\":380000000}");
  const std::string table = FormatSenderStatsTable(s);
  EXPECT_NE(table.find("sender: published 100  delivered 90  dropped 3  evicted 1  consumers 1"
                       "  replay from slot 380000000\n"),
            std::string::npos) << table;
  s.oldest_replay_slot.reset();  // no update log
  EXPECT_NE(FormatSenderStatsJson(s).find(",\"oldest_replay_slot\":null}"), std::string::npos);
  EXPECT_NE(FormatSenderStatsTable(s).find("consumers 1\n"), std::string::npos);
  EXPECT_NE(table.find("50.0%"), std::string::npos) << table;
  EXPECT_NE(table.find("bot \\\"a\\\""), std::string::npos) << table;
  EXPECT_NE(table.find("source yellowstone:http://h:1 malformed 2"), std::string::npos) << table;
}

TEST(LiveStatsTest, RatesPercentilesAndReset) {
  LiveStats live;
  for (int i = 1; i <= 100; ++i) {
    Event e{.kind = EventKind::kSlot, .sequence = static_cast<uint64_t>(i),
            .timestamp_ns = kStamp, .body = SlotEvent{}};
    live.Add(e, static_cast<int64_t>(kStamp) + i * 1000);  // latencies 1..100 us
  }
  live.Add(Event{.kind = EventKind::kGap, .sequence = 101, .timestamp_ns = kStamp,
                 .body = GapEvent{.dropped = 5}},
           kNow);
  StatsSnapshot s = live.TakeInterval(2.0, 2.0, 512, 1024);
  EXPECT_EQ(s.slots, 100u);
  EXPECT_EQ(s.bytes, 100u * 48);
  EXPECT_EQ(s.gaps, 1u);
  EXPECT_EQ(s.dropped, 5u);
  EXPECT_EQ(s.latency_p50_ns, 51'000);
  EXPECT_EQ(s.latency_p99_ns, 100'000);
  EXPECT_EQ(s.latency_max_ns, 100'000);
  const std::string line = FormatStatsLine(s);
  EXPECT_NE(line.find("slot 50/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ring 50.0% lag 512B"), std::string::npos) << line;
  EXPECT_NE(FormatStatsJson(s).find("\"slots_per_s\":50.0"), std::string::npos);
  s = live.TakeInterval(1.0, 3.0, 0, 1024);
  EXPECT_EQ(s.slots, 0u);
  EXPECT_EQ(s.total_updates, 100u);
  EXPECT_NE(FormatStatsJson(s).find("\"latency_p50_ns\":null"), std::string::npos);
}

TEST(LiveStatsTest, ScreenRedrawsInPlace) {
  StatsScreen screen;
  EXPECT_EQ(screen.Frame("a\nb\n"), "a\nb\n");
  EXPECT_EQ(screen.Frame("c\nd\ne\n"), "\x1b[2F\x1b[Jc\nd\ne\n");
  EXPECT_EQ(screen.Frame("f\n"), "\x1b[3F\x1b[Jf\n");
}

}  // namespace
}  // namespace qlaster::inspect
