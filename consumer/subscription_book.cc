// SubscriptionBook: splitting, applying, replaying.
#include "consumer/subscription_book.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace qlaster::consumer {

namespace {

size_t SelectorKeys(const TransactionSelector& s) {
  return s.account_include.size() + s.account_exclude.size() + s.account_required.size();
}

// Fills messages with keys, starting a new Add message whenever the current one holds
// kMaxSubscribeKeys keys.
class Packer {
 public:
  Packer(std::vector<SubscribeMsg>* out, size_t used) : out_(out), used_(used) {}

  // Appends `src` to the list `list_of(message, is_first)` names, message by message.
  template <typename ListOf>
  void Put(std::span<const Pubkey> src, ListOf list_of) {
    size_t i = 0;
    while (i < src.size()) {
      if (used_ == kMaxSubscribeKeys) {
        out_->emplace_back();
        out_->back().op = fb::SubscribeOp::Add;
        used_ = 0;
      }
      const size_t n = std::min(kMaxSubscribeKeys - used_, src.size() - i);
      std::vector<Pubkey>& dst = list_of(out_->back(), out_->size() == 1);
      dst.insert(dst.end(), src.begin() + i, src.begin() + i + n);
      i += n;
      used_ += n;
    }
  }

 private:
  std::vector<SubscribeMsg>* out_;
  size_t used_;
};

// The account filter `name`'s entry in a later message: an append, created on first use.
AccountFilter& AppendEntry(SubscribeMsg& m, const std::string& name) {
  if (m.accounts.empty() || m.accounts.back().name != name) {
    m.accounts.push_back(NamedAccountFilter{.name = name, .append = true, .filter = {}});
  }
  return m.accounts.back().filter;
}

}  // namespace

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

absl::StatusOr<std::vector<SubscribeMsg>> SubscriptionBook::SplitReplace(
    std::span<const Pubkey> pubkeys, std::span<const Pubkey> owners, TransactionFilter tx,
    const Subscription& named) {
  std::vector<SubscribeMsg> out(1);
  SubscribeMsg& first = out.front();
  first.op = fb::SubscribeOp::Replace;
  first.transactions = tx;
  first.set_transactions = true;
  if (named.commitment != Commitment::kProcessed || !named.data_slices.empty()) {
    first.options = SubscribeOptionsMsg{.commitment = named.commitment,
                                        .data_slices = named.data_slices};
  }
  first.from_slot = named.from_slot;

  // Transaction filters cannot be continued in a later message: they all ride in the
  // first one.
  size_t used = 0;
  for (const auto& [name, selector] : named.transactions) {
    used += SelectorKeys(selector);
    first.transaction_filters.push_back(NamedTransactionSelector{.name = name, .selector = selector});
  }
  for (const auto& [name, selector] : named.transaction_statuses) {
    used += SelectorKeys(selector);
    first.transaction_status_filters.push_back(
        NamedTransactionSelector{.name = name, .selector = selector});
  }
  for (const auto& [name, selector] : named.slots) {
    first.slots.push_back(NamedSlotSelector{.name = name, .selector = selector});
  }
  first.blocks_meta.assign(named.blocks_meta.begin(), named.blocks_meta.end());
  first.entries.assign(named.entries.begin(), named.entries.end());

  // Every account filter with its predicates and the first key of each non-empty list.
  for (const auto& [name, filter] : named.accounts) {
    NamedAccountFilter entry{.name = name, .append = false, .filter = filter};
    entry.filter.pubkeys.resize(std::min<size_t>(filter.pubkeys.size(), 1));
    entry.filter.owners.resize(std::min<size_t>(filter.owners.size(), 1));
    used += entry.filter.pubkeys.size() + entry.filter.owners.size();
    first.accounts.push_back(std::move(entry));
  }
  if (used > kMaxSubscribeKeys) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the subscription's transaction filters hold ", used,
        " account keys in all; at most ", kMaxSubscribeKeys, " fit one Subscribe message"));
  }

  Packer packer(&out, used);
  size_t index = 0;
  for (const auto& [name, filter] : named.accounts) {
    const size_t i = index++;
    const std::string& n = name;
    const auto rest = [](const std::vector<Pubkey>& v) {
      return std::span<const Pubkey>(v).subspan(std::min<size_t>(v.size(), 1));
    };
    packer.Put(rest(filter.pubkeys), [&](SubscribeMsg& m, bool is_first) -> std::vector<Pubkey>& {
      return is_first ? m.accounts[i].filter.pubkeys : AppendEntry(m, n).pubkeys;
    });
    packer.Put(rest(filter.owners), [&](SubscribeMsg& m, bool is_first) -> std::vector<Pubkey>& {
      return is_first ? m.accounts[i].filter.owners : AppendEntry(m, n).owners;
    });
  }
  packer.Put(pubkeys, [](SubscribeMsg& m, bool) -> std::vector<Pubkey>& { return m.pubkeys; });
  packer.Put(owners, [](SubscribeMsg& m, bool) -> std::vector<Pubkey>& { return m.owners; });

  if (out.size() > 1 && named.from_slot.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "from_slot needs the whole subscription in one Subscribe message (at most ",
        kMaxSubscribeKeys, " keys); this one takes ", out.size()));
  }
  return out;
}

void SubscriptionBook::Apply(const SubscribeMsg& msg) {
  switch (msg.op) {
    case fb::SubscribeOp::Replace:
      pubkeys_.clear();
      owners_.clear();
      transactions_ = msg.transactions;
      named_ = Subscription{};
      [[fallthrough]];
    case fb::SubscribeOp::Add:
      pubkeys_.insert(msg.pubkeys.begin(), msg.pubkeys.end());
      owners_.insert(msg.owners.begin(), msg.owners.end());
      for (const NamedAccountFilter& n : msg.accounts) {
        if (!n.append) {
          named_.accounts[n.name] = n.filter;
          continue;
        }
        AccountFilter& f = named_.accounts[n.name];
        f.pubkeys.insert(f.pubkeys.end(), n.filter.pubkeys.begin(), n.filter.pubkeys.end());
        f.owners.insert(f.owners.end(), n.filter.owners.begin(), n.filter.owners.end());
      }
      for (const NamedTransactionSelector& n : msg.transaction_filters) {
        named_.transactions[n.name] = n.selector;
      }
      for (const NamedTransactionSelector& n : msg.transaction_status_filters) {
        named_.transaction_statuses[n.name] = n.selector;
      }
      for (const NamedSlotSelector& n : msg.slots) named_.slots[n.name] = n.selector;
      named_.blocks_meta.insert(msg.blocks_meta.begin(), msg.blocks_meta.end());
      named_.entries.insert(msg.entries.begin(), msg.entries.end());
      break;
    case fb::SubscribeOp::Remove:
      for (const Pubkey& k : msg.pubkeys) pubkeys_.erase(k);
      for (const Pubkey& k : msg.owners) owners_.erase(k);
      for (const NamedAccountFilter& n : msg.accounts) named_.accounts.erase(n.name);
      for (const NamedTransactionSelector& n : msg.transaction_filters) {
        named_.transactions.erase(n.name);
      }
      for (const NamedTransactionSelector& n : msg.transaction_status_filters) {
        named_.transaction_statuses.erase(n.name);
      }
      for (const NamedSlotSelector& n : msg.slots) named_.slots.erase(n.name);
      for (const std::string& n : msg.blocks_meta) named_.blocks_meta.erase(n);
      for (const std::string& n : msg.entries) named_.entries.erase(n);
      break;
  }
  if (msg.op != fb::SubscribeOp::Replace && msg.set_transactions) transactions_ = msg.transactions;
  if (msg.options.has_value()) {
    named_.commitment = msg.options->commitment;
    named_.data_slices = msg.options->data_slices;
  }
}

std::vector<SubscribeMsg> SubscriptionBook::Replay() const {
  const std::vector<Pubkey> pks(pubkeys_.begin(), pubkeys_.end());
  const std::vector<Pubkey> ows(owners_.begin(), owners_.end());
  absl::StatusOr<std::vector<SubscribeMsg>> msgs = SplitReplace(pks, ows, transactions_, named_);
  // Only what the sender acknowledged is recorded, and every acknowledged subscription
  // splits (from_slot is never recorded).
  return msgs.ok() ? *std::move(msgs) : Split(fb::SubscribeOp::Replace, pks, ows, transactions_);
}

}  // namespace qlaster::consumer
