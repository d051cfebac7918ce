// Matcher: the facts of an update, and the level's indexes asked about them.
#include "sender/matcher.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/log.h"
#include "wire/lz4_policy.h"
#include "wire/solana/transaction.h"
#include "wire/solana/transaction_status.h"

namespace qlaster::sender {
namespace {

Signature SignatureOf(const fb::Signature& s) {
  Signature out;
  std::memcpy(out.data(), s.bytes()->data(), kSignatureSize);
  return out;
}

}  // namespace

void Matcher::Clear() {
  source_ = Source::kNone;
  unnamed_ = {};
  if (!named_.empty()) named_.Clear();
  if (!statuses_.empty()) statuses_.Clear();
  fixed_ = {};
  error_ = {};
  data_inflated_ = false;
}

void Matcher::MergeNamed() {
  for (ConsumerIndex who : unnamed_) named_.Add(who, 0);
  named_.Finish();
  source_ = Source::kNamed;
}

std::optional<uint16_t> Matcher::BitsOf(ConsumerIndex who) const {
  std::optional<uint16_t> bits;
  ForEach([&](ConsumerIndex w, uint16_t b) {
    if (w == who) bits = b;
  });
  return bits;
}

bool Matcher::Match(const EncodedUpdate& update, const RouteKey& key, const RoutingTable& table,
                    const LevelRoutes& level) {
  Clear();
  table_ = &table;
  switch (key.kind) {
    case fb::UpdateKind::Account:
      return MatchAccount(update, key, level);
    case fb::UpdateKind::Transaction:
      MatchTransaction(update, key, level);
      return !unnamed_.empty() || source_ == Source::kNamed || !statuses_.empty();
    case fb::UpdateKind::TransactionStatus: {
      // Published as a status (not derived here): its account keys are unknown, so
      // filters with account lists see a transaction that touches no account.
      if (!level.named.has_statuses()) return false;
      const auto h = ReadStruct<fb::TransactionStatusHeader>(update.fixed());
      const TransactionFacts facts{
          .is_vote = key.is_vote, .failed = key.failed, .signature = SignatureOf(h.signature())};
      level.named.MatchStatus(facts, &named_);
      named_.Finish();
      if (named_.empty()) return false;
      source_ = Source::kNamed;
      return true;
    }
    case fb::UpdateKind::BlockMeta:
      fixed_ = level.blocks_meta;
      source_ = Source::kFixed;
      return !fixed_.empty();
    case fb::UpdateKind::Entry:
      fixed_ = level.entries;
      source_ = Source::kFixed;
      return !fixed_.empty();
    case fb::UpdateKind::Slot:
      slot_status_ = static_cast<SlotStatus>(ReadStruct<fb::SlotHeader>(update.fixed()).status());
      source_ = Source::kSlot;
      return !table.all.empty();
    case fb::UpdateKind::Gap:
    case fb::UpdateKind::None:
      return false;
  }
  return false;
}

bool Matcher::MatchAccount(const EncodedUpdate& update, const RouteKey& key,
                           const LevelRoutes& level) {
  const NamedFilters& named = level.named;
  const bool maybe = level.index->MatchAccount(key.pubkey, key.owner, &unnamed_set_);
  unnamed_ = unnamed_set_.span();
  source_ = Source::kUnnamed;
  if (!((maybe && named.has_accounts()) || named.has_scan_accounts())) return !unnamed_.empty();
  const auto h = ReadStruct<fb::AccountHeader>(update.fixed());
  AccountFacts facts{.pubkey = key.pubkey,
                     .owner = key.owner,
                     .lamports = h.lamports(),
                     .has_txn_signature = (static_cast<uint8_t>(h.flags()) &
                                           static_cast<uint8_t>(fb::AccountFlags::HasTxnSignature)) != 0,
                     .data = update.variable()};
  if (update.compressed() && named.needs_account_data()) {
    data_.resize(h.data_len());
    if (Lz4Decompress(update.variable(), absl::MakeSpan(data_)).ok()) {
      data_inflated_ = true;
      facts.data = data_;
    } else {
      // Data predicates cannot hold for data that does not decompress.
      facts.data = {};
    }
  }
  named.MatchAccount(facts, &named_);
  if (!named_.empty()) MergeNamed();
  return !unnamed_.empty() || source_ == Source::kNamed;
}

void Matcher::MatchTransaction(const EncodedUpdate& update, const RouteKey& key,
                               const LevelRoutes& level) {
  const NamedFilters& named = level.named;
  unnamed_ = level.index->TransactionConsumers(key.is_vote);
  source_ = Source::kUnnamed;
  if (!named.has_transactions() && !named.has_statuses()) return;
  const auto h = ReadStruct<fb::TransactionHeader>(update.fixed());
  const absl::Span<const uint8_t> tx = update.variable().subspan(0, h.data_len());
  const absl::Span<const uint8_t> status = update.variable().subspan(h.data_len());
  TransactionFacts facts{
      .is_vote = key.is_vote, .failed = key.failed, .signature = SignatureOf(h.signature())};
  std::optional<solana::TransactionStatusSummary> summary;
  if (!status.empty()) {
    if (absl::StatusOr<solana::TransactionStatusSummary> s = solana::PeekTransactionStatus(status);
        s.ok()) {
      summary = *s;
      if (summary->error.has_value()) error_ = *summary->error;
    } else {
      ++unparsed_;
      QLASTER_LOG_RATE_LIMITED(kWarning, "the status of a transaction at slot %d does not parse: %s",
                               key.slot, s.status().message());
    }
  }
  if (named.transactions_need_keys() || named.statuses_need_keys()) {
    keys_.clear();
    if (absl::StatusOr<solana::TransactionView> view = solana::ParseTransaction(tx); view.ok()) {
      for (size_t i = 0; i < view->static_key_count(); ++i) {
        keys_.push_back(solana::ToPubkey(view->static_key(i)));
      }
      if (summary.has_value()) {
        for (absl::Span<const uint8_t> loaded : {summary->loaded_writable, summary->loaded_readonly}) {
          for (size_t i = 0; i + kPubkeySize <= loaded.size(); i += kPubkeySize) {
            keys_.push_back(solana::ToPubkey(loaded.subspan(i, kPubkeySize)));
          }
        }
      }
      std::sort(keys_.begin(), keys_.end());
    } else {
      ++unparsed_;
      QLASTER_LOG_RATE_LIMITED(kWarning, "a transaction at slot %d does not parse: %s", key.slot,
                               view.status().message());
    }
    facts.keys = keys_;
  }
  named.MatchTransaction(facts, &named_);
  if (!named_.empty()) MergeNamed();
  named.MatchStatus(facts, &statuses_);
  statuses_.Finish();
}

}  // namespace qlaster::sender
