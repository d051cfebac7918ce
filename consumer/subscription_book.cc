// SubscriptionBook: splitting, applying, replaying.
#include "consumer/subscription_book.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qlaster::consumer {

std::vector<SubscribeMsg> SubscriptionBook::Split(fb::SubscribeOp op,
                                                  std::span<const Pubkey> pubkeys,
                                                  std::span<const Pubkey> owners,
                                                  std::optional<TransactionFilter> tx) {
  std::vector<SubscribeMsg> out;
  size_t p = 0, o = 0;
  do {
    SubscribeMsg m;
    m.op = (op == fb::SubscribeOp::Replace && !out.empty()) ? fb::SubscribeOp::Add : op;
    size_t room = kMaxSubscribeKeys;
    const size_t np = std::min(room, pubkeys.size() - p);
    m.pubkeys.assign(pubkeys.begin() + p, pubkeys.begin() + p + np);
    p += np;
    room -= np;
    const size_t no = std::min(room, owners.size() - o);
    m.owners.assign(owners.begin() + o, owners.begin() + o + no);
    o += no;
    if (out.empty()) {
      if (tx.has_value()) {
        m.transactions = *tx;
        m.set_transactions = true;
      } else if (op == fb::SubscribeOp::Replace) {
        m.set_transactions = true;  // a Replace replaces the filter too: with kNone
      }
    }
    out.push_back(std::move(m));
  } while (p < pubkeys.size() || o < owners.size());
  return out;
}

namespace {

bool HasNamedPart(const SubscribeMsg& m) {
  return !m.accounts.empty() || !m.transaction_filters.empty() ||
         !m.transaction_status_filters.empty() || !m.slots.empty() || !m.blocks_meta.empty() ||
         !m.entries.empty() || m.options.has_value();
}

}  // namespace

absl::StatusOr<SubscribeMsg> SubscriptionBook::FromSubscription(const Subscription& s) {
  SubscribeMsg m;
  m.op = fb::SubscribeOp::Replace;
  m.set_transactions = true;  // kNone: the named filters say which transactions
  for (const auto& [name, filter] : s.accounts) m.accounts.push_back({name, false, filter});
  for (const auto& [name, sel] : s.transactions) m.transaction_filters.push_back({name, sel});
  for (const auto& [name, sel] : s.transaction_statuses) {
    m.transaction_status_filters.push_back({name, sel});
  }
  for (const auto& [name, sel] : s.slots) m.slots.push_back({name, sel});
  m.blocks_meta.assign(s.blocks_meta.begin(), s.blocks_meta.end());
  m.entries.assign(s.entries.begin(), s.entries.end());
  if (s.commitment != Commitment::kProcessed || !s.data_slices.empty()) {
    m.options = SubscribeOptionsMsg{.commitment = s.commitment, .data_slices = s.data_slices};
  }
  m.from_slot = s.from_slot;
  const size_t keys = SubscribeKeyCount(m);
  if (keys > kMaxSubscribeKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("subscription has ", keys, " keys; one subscription carries at most ",
                     kMaxSubscribeKeys, " (add more pubkeys and owners with Subscribe)"));
  }
  return m;
}

void SubscriptionBook::Apply(const SubscribeMsg& msg) {
  switch (msg.op) {
    case fb::SubscribeOp::Replace:
      pubkeys_.clear();
      owners_.clear();
      transactions_ = msg.transactions;
      named_.reset();
      if (HasNamedPart(msg)) {
        named_ = msg;
        named_->pubkeys.clear();
        named_->owners.clear();
        named_->from_slot.reset();
      }
      [[fallthrough]];
    case fb::SubscribeOp::Add:
      pubkeys_.insert(msg.pubkeys.begin(), msg.pubkeys.end());
      owners_.insert(msg.owners.begin(), msg.owners.end());
      break;
    case fb::SubscribeOp::Remove:
      for (const Pubkey& k : msg.pubkeys) pubkeys_.erase(k);
      for (const Pubkey& k : msg.owners) owners_.erase(k);
      break;
  }
  if (msg.op != fb::SubscribeOp::Replace && msg.set_transactions) transactions_ = msg.transactions;
}

std::vector<SubscribeMsg> SubscriptionBook::Replay() const {
  const std::vector<Pubkey> pks(pubkeys_.begin(), pubkeys_.end());
  const std::vector<Pubkey> ows(owners_.begin(), owners_.end());
  std::vector<SubscribeMsg> out = Split(fb::SubscribeOp::Replace, pks, ows, transactions_);
  if (named_.has_value()) {
    SubscribeMsg& first = out.front();
    first.accounts = named_->accounts;
    first.transaction_filters = named_->transaction_filters;
    first.transaction_status_filters = named_->transaction_status_filters;
    first.slots = named_->slots;
    first.blocks_meta = named_->blocks_meta;
    first.entries = named_->entries;
    first.options = named_->options;
  }
  return out;
}

}  // namespace qlaster::consumer
