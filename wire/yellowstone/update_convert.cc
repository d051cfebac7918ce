// SubscribeUpdate -> frame (update_convert.h).
#include "wire/yellowstone/update_convert.h"

#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/base58.h"
#include "base/status_macros.h"
#include "wire/yellowstone/transaction_convert.h"

namespace qlaster::yellowstone {

// Builds UpstreamFrames (the one friend of their constructor).
class UpstreamFrameBuilder {
 public:
  static absl::StatusOr<std::unique_ptr<UpstreamFrame>> Account(AccountUpdate account,
                                                                const Lz4Policy& lz4) {
    std::unique_ptr<UpstreamFrame> f(new UpstreamFrame());
    f->account_ = std::move(account);
    QLASTER_ASSIGN_OR_RETURN(EncodedUpdate update, EncodedUpdate::Account(f->account_, lz4));
    f->update_.emplace(std::move(update));
    f->key_ = RouteKey{.kind = fb::UpdateKind::Account,
                       .pubkey = f->account_.pubkey,
                       .owner = f->account_.owner,
                       .slot = f->account_.slot};
    return f;
  }
  // For kinds whose frame owns or copies everything it carries.
  static std::unique_ptr<UpstreamFrame> Owned(EncodedUpdate update, RouteKey key) {
    std::unique_ptr<UpstreamFrame> f(new UpstreamFrame());
    f->update_.emplace(std::move(update));
    f->key_ = key;
    return f;
  }
};

namespace {

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("yellowstone update: ", what));
}

template <typename T>
absl::StatusOr<T> FixedBytes(absl::string_view field, const std::string& bytes) {
  T out;
  if (bytes.size() != out.size()) {
    return Invalid(absl::StrCat(field, " is ", bytes.size(), " bytes, not ", out.size()));
  }
  std::memcpy(out.data(), bytes.data(), out.size());
  return out;
}

absl::StatusOr<Hash> Base58Hash(absl::string_view field, const std::string& text) {
  absl::StatusOr<Pubkey> hash = DecodePubkey(text);
  if (!hash.ok()) return Invalid(absl::StrCat(field, ": ", hash.status().message()));
  return *hash;
}

absl::StatusOr<uint8_t> Commission(const std::string& text) {
  const auto bad = [&] { return Invalid(absl::StrCat("reward commission \"", text, "\" is not 0-255")); };
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) return bad();
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 255) return bad();
  return static_cast<uint8_t>(v);
}

}  // namespace

absl::StatusOr<AccountUpdate> ToAccountUpdate(const geyser::SubscribeUpdateAccount& update) {
  if (!update.has_account()) return Invalid("account update without account info");
  const geyser::SubscribeUpdateAccountInfo& info = update.account();
  AccountUpdate out;
  QLASTER_ASSIGN_OR_RETURN(out.pubkey, FixedBytes<Pubkey>("account pubkey", info.pubkey()));
  QLASTER_ASSIGN_OR_RETURN(out.owner, FixedBytes<Pubkey>("account owner", info.owner()));
  if (info.data().size() > kMaxAccountDataSize) {
    return Invalid(absl::StrCat("account data of ", info.data().size(), " bytes, over ",
                                kMaxAccountDataSize));
  }
  if (info.has_txn_signature()) {
    QLASTER_ASSIGN_OR_RETURN(out.txn_signature,
                             FixedBytes<Signature>("account txn_signature", info.txn_signature()));
  }
  out.lamports = info.lamports();
  out.executable = info.executable();
  out.rent_epoch = info.rent_epoch();
  out.slot = update.slot();
  out.write_version = info.write_version();
  out.data.assign(info.data().begin(), info.data().end());
  return out;
}

absl::StatusOr<SlotUpdate> ToSlotUpdate(const geyser::SubscribeUpdateSlot& update) {
  const int status = static_cast<int>(update.status());
  if (status < 0 || status > kMaxSlotStatus) {
    return Invalid(absl::StrCat("slot ", update.slot(), " has unknown status ", status));
  }
  return SlotUpdate{.slot = update.slot(),
                    .parent = update.has_parent() ? update.parent() : 0,
                    .status = static_cast<SlotStatus>(status)};
}

absl::StatusOr<BlockMetaUpdate> ToBlockMetaUpdate(const geyser::SubscribeUpdateBlockMeta& update) {
  BlockMetaUpdate out;
  out.slot = update.slot();
  out.parent_slot = update.parent_slot();
  QLASTER_ASSIGN_OR_RETURN(out.blockhash, Base58Hash("block meta blockhash", update.blockhash()));
  QLASTER_ASSIGN_OR_RETURN(out.parent_blockhash,
                           Base58Hash("block meta parent_blockhash", update.parent_blockhash()));
  if (update.has_block_height()) out.block_height = update.block_height().block_height();
  if (update.has_block_time()) out.block_time = update.block_time().timestamp();
  out.executed_transaction_count = update.executed_transaction_count();
  out.entries_count = update.entries_count();
  if (update.has_rewards()) {
    const auto& rewards = update.rewards();
    if (static_cast<size_t>(rewards.rewards_size()) > kMaxBlockRewards) {
      return Invalid(absl::StrCat(rewards.rewards_size(), " rewards, over ", kMaxBlockRewards));
    }
    if (rewards.has_num_partitions()) {
      const uint64_t n = rewards.num_partitions().num_partitions();
      if (n > std::numeric_limits<uint32_t>::max()) {
        return Invalid(absl::StrCat("num_partitions ", n, " is over 2^32 - 1"));
      }
      out.num_partitions = static_cast<uint32_t>(n);
    }
    out.rewards.reserve(static_cast<size_t>(rewards.rewards_size()));
    for (const storage::Reward& r : rewards.rewards()) {
      Reward reward;
      absl::StatusOr<Pubkey> key = DecodePubkey(r.pubkey());
      if (!key.ok()) return Invalid(absl::StrCat("reward pubkey: ", key.status().message()));
      reward.pubkey = *key;
      reward.lamports = r.lamports();
      reward.post_balance = r.post_balance();
      const int type = static_cast<int>(r.reward_type());
      // qlaster's RewardType (proto/qlaster.fbs) stops at Voting; DeactivatedStake (5)
      // has no frame encoding yet.
      if (type < 0 || type > static_cast<int>(fb::RewardType::MAX)) {
        return Invalid(absl::StrCat("reward type ", type, " is not carried"));
      }
      reward.reward_type = static_cast<uint8_t>(type);
      if (!r.commission().empty()) {
        QLASTER_ASSIGN_OR_RETURN(reward.commission, Commission(r.commission()));
      }
      out.rewards.push_back(reward);
    }
  }
  return out;
}

absl::StatusOr<EntryUpdate> ToEntryUpdate(const geyser::SubscribeUpdateEntry& update) {
  EntryUpdate out;
  out.slot = update.slot();
  out.index = update.index();
  out.num_hashes = update.num_hashes();
  QLASTER_ASSIGN_OR_RETURN(out.hash, FixedBytes<Hash>("entry hash", update.hash()));
  out.executed_transaction_count = update.executed_transaction_count();
  out.starting_transaction_index = update.starting_transaction_index();
  return out;
}

absl::StatusOr<TransactionUpdate> ToTransactionUpdate(
    const geyser::SubscribeUpdateTransaction& update) {
  QLASTER_ASSIGN_OR_RETURN(SlotTransactionRecord tx, FromUpdateTransaction(update));
  if (tx.record.index > std::numeric_limits<uint32_t>::max()) {
    return Invalid(absl::StrCat("transaction index ", tx.record.index, " is over 2^32 - 1"));
  }
  return TransactionUpdate{.slot = tx.slot,
                           .index = static_cast<uint32_t>(tx.record.index),
                           .signature = tx.record.signature,
                           .is_vote = tx.record.is_vote,
                           .failed = tx.record.failed,
                           .data = std::move(tx.record.transaction),
                           .status = std::move(tx.record.status)};
}

absl::StatusOr<UpstreamMessage> FromSubscribeUpdate(const geyser::SubscribeUpdate& update,
                                                    const Lz4Policy& lz4) {
  UpstreamMessage out;
  out.type = UpstreamMessage::Type::kFrame;
  switch (update.update_oneof_case()) {
    case geyser::SubscribeUpdate::kAccount: {
      QLASTER_ASSIGN_OR_RETURN(AccountUpdate account, ToAccountUpdate(update.account()));
      QLASTER_ASSIGN_OR_RETURN(out.frame, UpstreamFrameBuilder::Account(std::move(account), lz4));
      return out;
    }
    case geyser::SubscribeUpdate::kTransaction: {
      QLASTER_ASSIGN_OR_RETURN(TransactionUpdate tx, ToTransactionUpdate(update.transaction()));
      // With a status, the frame owns a copy of both (frame.h).
      QLASTER_ASSIGN_OR_RETURN(EncodedUpdate encoded, EncodedUpdate::Transaction(tx));
      out.frame = UpstreamFrameBuilder::Owned(
          std::move(encoded), RouteKey{.kind = fb::UpdateKind::Transaction,
                                       .is_vote = tx.is_vote,
                                       .failed = tx.failed,
                                       .slot = tx.slot});
      return out;
    }
    case geyser::SubscribeUpdate::kSlot: {
      QLASTER_ASSIGN_OR_RETURN(SlotUpdate slot, ToSlotUpdate(update.slot()));
      QLASTER_ASSIGN_OR_RETURN(EncodedUpdate encoded, EncodedUpdate::Slot(slot));
      out.frame = UpstreamFrameBuilder::Owned(
          std::move(encoded), RouteKey{.kind = fb::UpdateKind::Slot, .slot = slot.slot});
      return out;
    }
    case geyser::SubscribeUpdate::kBlockMeta: {
      QLASTER_ASSIGN_OR_RETURN(BlockMetaUpdate meta, ToBlockMetaUpdate(update.block_meta()));
      QLASTER_ASSIGN_OR_RETURN(EncodedUpdate encoded, EncodedUpdate::BlockMeta(meta));
      out.frame = UpstreamFrameBuilder::Owned(
          std::move(encoded), RouteKey{.kind = fb::UpdateKind::BlockMeta, .slot = meta.slot});
      return out;
    }
    case geyser::SubscribeUpdate::kEntry: {
      QLASTER_ASSIGN_OR_RETURN(EntryUpdate entry, ToEntryUpdate(update.entry()));
      out.frame = UpstreamFrameBuilder::Owned(
          EncodedUpdate::Entry(entry), RouteKey{.kind = fb::UpdateKind::Entry, .slot = entry.slot});
      return out;
    }
    case geyser::SubscribeUpdate::kPing:
      out.type = UpstreamMessage::Type::kPing;
      return out;
    case geyser::SubscribeUpdate::kPong:
      out.type = UpstreamMessage::Type::kPong;
      out.pong_id = update.pong().id();
      return out;
    case geyser::SubscribeUpdate::kTransactionStatus:
    case geyser::SubscribeUpdate::kBlock:
      out.type = UpstreamMessage::Type::kIgnored;
      return out;
    case geyser::SubscribeUpdate::UPDATE_ONEOF_NOT_SET:
      break;
  }
  return Invalid("message carries no update");
}

}  // namespace qlaster::yellowstone
