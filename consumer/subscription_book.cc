// SubscriptionBook: splitting, applying, replaying.
#include "consumer/subscription_book.h"

#include <algorithm>

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

void SubscriptionBook::Apply(const SubscribeMsg& msg) {
  switch (msg.op) {
    case fb::SubscribeOp::Replace:
      pubkeys_.clear();
      owners_.clear();
      transactions_ = msg.transactions;
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
  return Split(fb::SubscribeOp::Replace, pks, ows, transactions_);
}

}  // namespace qlaster::consumer
