// A real sender engine in the test process for consumer tests: an in-process Sender per
// test (socket in a fresh temporary directory), fed by a QueueSource on its dispatch
// thread, and helpers to collect a consumer's events with deadlines (no fixed sleeps).
#ifndef QLASTER_CONSUMER_TESTING_SENDER_FIXTURE_H_
#define QLASTER_CONSUMER_TESTING_SENDER_FIXTURE_H_

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "base/temp_dir.h"
#include "consumer/testing/queue_source.h"
#include "gtest/gtest.h"
#include "qlaster/consumer.hpp"
#include "sender/sender.h"

namespace qlaster::testing {

constexpr absl::Duration kDeadline = absl::Seconds(20);

Pubkey Key(uint8_t b) {
  Pubkey k;
  k.fill(b);
  return k;
}

// An owning copy of an event, kept after the callback returns.
struct Got {
  EventKind kind = EventKind::kSlot;
  uint64_t sequence = 0;
  AccountUpdate account = {};
  bool was_compressed = false;
  TransactionUpdate tx = {};
  SlotUpdate slot = {};
  GapEvent gap = {};
  std::string reason = {};
  ReconnectedEvent reconnected = {};
  uint16_t filters = 0;           // Event::filters
  uint64_t account_data_len = 0;  // AccountEvent::account_data_len (before slicing)
  uint64_t meta_slot = 0;         // block meta, entry and transaction status: their slot
};

Got Copy(const Event& e) {
  Got g{.kind = e.kind, .sequence = e.sequence};
  g.filters = e.filters;
  if (const BlockMetaEvent* b = e.block_meta()) g.meta_slot = b->slot;
  if (const EntryEvent* en = e.entry()) g.meta_slot = en->slot;
  if (const TransactionStatusEvent* st = e.transaction_status()) g.meta_slot = st->slot;
  if (const AccountEvent* a = e.account()) {
    g.account.pubkey = a->pubkey;
    g.account.owner = a->owner;
    g.account.lamports = a->lamports;
    g.account.executable = a->executable;
    g.account.rent_epoch = a->rent_epoch;
    g.account.slot = a->slot;
    g.account.write_version = a->write_version;
    if (a->has_txn_signature) g.account.txn_signature = a->txn_signature;
    g.account.data.assign(a->data.begin(), a->data.end());
    g.was_compressed = a->was_compressed;
    g.account_data_len = a->account_data_len;
  } else if (const TransactionEvent* t = e.transaction()) {
    g.tx = TransactionUpdate{.slot = t->slot,
                             .index = t->index,
                             .signature = t->signature,
                             .is_vote = t->is_vote,
                             .failed = t->failed,
                             .data = std::vector<uint8_t>(t->data.begin(), t->data.end())};
  } else if (const SlotEvent* s = e.slot()) {
    g.slot = SlotUpdate{
        .slot = s->slot, .parent = s->parent, .status = static_cast<SlotStatus>(s->state)};
  } else if (const GapEvent* gap = e.gap()) {
    g.gap = *gap;
  } else if (const DisconnectedEvent* d = e.disconnected()) {
    g.reason = std::string(d->reason);
  } else if (const ReconnectedEvent* r = e.reconnected()) {
    g.reconnected = *r;
  }
  return g;
}

// Collects events from a consumer.
struct Events {
  std::vector<Got> all;

  // Polls until `done(all)` holds or the deadline passes; returns whether it held.
  bool PollUntil(Consumer& c, const std::function<bool(const std::vector<Got>&)>& done,
                 absl::Duration deadline = kDeadline) {
    const absl::Time end = absl::Now() + deadline;
    while (!done(all)) {
      if (absl::Now() > end) return false;
      absl::Status w = c.Wait(absl::Milliseconds(20));
      if (!w.ok() && !absl::IsDeadlineExceeded(w)) return done(all);
      absl::StatusOr<int> n = c.Poll([this](const Event& e) { all.push_back(Copy(e)); }, 256);
      if (!n.ok()) return done(all);
    }
    return true;
  }

  // Polls until there are `n` events of `kind`.
  bool PollForKind(Consumer& c, EventKind kind, size_t n = 1) {
    return PollUntil(c, [&](const std::vector<Got>&) { return Count(kind) >= n; });
  }

  size_t Count(EventKind kind) const {
    return std::count_if(all.begin(), all.end(), [&](const Got& g) { return g.kind == kind; });
  }
  std::vector<Got> OfKind(EventKind kind) const {
    std::vector<Got> out;
    for (const Got& g : all) {
      if (g.kind == kind) out.push_back(g);
    }
    return out;
  }
};

AccountUpdate Account(const Pubkey& pubkey, const Pubkey& owner, uint64_t lamports,
                      std::vector<uint8_t> data = {1, 2, 3}) {
  AccountUpdate a;
  a.pubkey = pubkey;
  a.owner = owner;
  a.lamports = lamports;
  a.rent_epoch = 7;
  a.slot = 100 + lamports;
  a.write_version = lamports;
  a.data = std::move(data);
  return a;
}

// ------------------------------------------------------------------ real sender

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    ASSERT_FALSE(dir_.empty());
    path_ = dir_ + "/sender.sock";
  }

  void TearDown() override { StopSender(); }

  void StartSender(sender::ControlOptions control = {}) {
    sender::SenderOptions options;
    options.control = std::move(control);
    options.control.socket_path = path_;
    options.control.verbose = false;
    options.handle_signals = false;
    absl::StatusOr<std::unique_ptr<sender::Sender>> s = sender::Sender::Create(options);
    ASSERT_TRUE(s.ok()) << s.status();
    sender_ = *std::move(s);
    source_ = std::make_unique<testing::QueueSource>();
    runner_ = std::thread([this] { ASSERT_TRUE(sender_->Run(source_.get()).ok()); });
  }

  void StopSender() {
    if (!sender_) return;
    sender_->Stop();
    runner_.join();
    sender_.reset();
    source_.reset();
  }

  // Runs `job` on the dispatch thread; returns once it has run.
  void Publish(const testing::QueueSource::Job& job) { ASSERT_TRUE(source_->Do(job)); }
  void PublishAccount(const AccountUpdate& a) {
    Publish([&](sender::Dispatcher& d) { ASSERT_TRUE(d.PublishAccount(a).ok()); });
  }
  void PublishSlot(uint64_t slot) {
    Publish([&](sender::Dispatcher& d) {
      ASSERT_TRUE(d.PublishSlot({.slot = slot, .parent = slot - 1, .status = SlotStatus::kConfirmed}).ok());
    });
  }

  absl::StatusOr<Consumer> Connect(ConsumerOptions options = {}) {
    if (options.ring_bytes == 0) options.ring_bytes = 1 << 20;
    return Consumer::Connect(path_, std::move(options));
  }

  qlaster::TempDir tmp_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<sender::Sender> sender_;
  std::unique_ptr<testing::QueueSource> source_;
  std::thread runner_;
};

}  // namespace qlaster::testing

#endif  // QLASTER_CONSUMER_TESTING_SENDER_FIXTURE_H_
