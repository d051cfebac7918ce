#include "grpc_server/event_convert.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "base/base58.h"
#include "base/status_macros.h"
#include "wire/yellowstone/transaction_convert.h"

namespace qlaster::grpc_endpoint {
namespace {

std::string Bytes(std::span<const uint8_t> b) { return std::string(b.begin(), b.end()); }
template <size_t N>
std::string Bytes(const std::array<uint8_t, N>& b) {
  return std::string(b.begin(), b.end());
}

void FillAccount(const AccountEvent& a, geyser::SubscribeUpdateAccount* out) {
  out->set_slot(a.slot);
  out->set_is_startup(false);
  geyser::SubscribeUpdateAccountInfo* info = out->mutable_account();
  info->set_pubkey(Bytes(a.pubkey));
  info->set_lamports(a.lamports);
  info->set_owner(Bytes(a.owner));
  info->set_executable(a.executable);
  info->set_rent_epoch(a.rent_epoch);
  info->set_data(Bytes(a.data));
  info->set_write_version(a.write_version);
  if (a.has_txn_signature) info->set_txn_signature(Bytes(a.txn_signature));
}

}  // namespace

void FillBlockMeta(const BlockMetaEvent& m, geyser::SubscribeUpdateBlockMeta* out) {
  out->set_slot(m.slot);
  out->set_blockhash(Base58Encode(m.blockhash));
  out->set_parent_slot(m.parent_slot);
  out->set_parent_blockhash(Base58Encode(m.parent_blockhash));
  out->set_executed_transaction_count(m.executed_transaction_count);
  out->set_entries_count(m.entries_count);
  if (m.has_block_height) out->mutable_block_height()->set_block_height(m.block_height);
  if (m.has_block_time) out->mutable_block_time()->set_timestamp(m.block_time);
  auto* rewards = out->mutable_rewards();
  for (size_t i = 0; i < m.reward_count(); ++i) {
    const RewardInfo r = m.reward(i);
    auto* o = rewards->add_rewards();
    o->set_pubkey(r.pubkey.ToBase58());
    o->set_lamports(r.lamports);
    o->set_post_balance(r.post_balance);
    o->set_reward_type(static_cast<::solana::storage::ConfirmedBlock::RewardType>(r.reward_type));
    if (r.has_commission) o->set_commission(absl::StrCat(r.commission));
  }
  if (m.has_num_partitions) rewards->mutable_num_partitions()->set_num_partitions(m.num_partitions);
}

absl::Status FillUpdate(const Event& event, const std::vector<std::string>& filters,
                        geyser::SubscribeUpdate* out) {
  for (const std::string& f : filters) out->add_filters(f);
  uint64_t ns = event.timestamp_ns;
  if (ns == 0) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    ns = static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
  }
  out->mutable_created_at()->set_seconds(static_cast<int64_t>(ns / 1'000'000'000));
  out->mutable_created_at()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  switch (event.kind) {
    case EventKind::kAccount:
      FillAccount(*event.account(), out->mutable_account());
      return absl::OkStatus();
    case EventKind::kTransaction: {
      const TransactionEvent& t = *event.transaction();
      return yellowstone::FillUpdateTransaction(
          absl::MakeConstSpan(t.data.data(), t.data.size()),
          absl::MakeConstSpan(t.status.data(), t.status.size()), t.slot, t.index,
          out->mutable_transaction());
    }
    case EventKind::kTransactionStatus: {
      const TransactionStatusEvent& s = *event.transaction_status();
      auto* o = out->mutable_transaction_status();
      o->set_slot(s.slot);
      o->set_signature(Bytes(s.signature));
      o->set_is_vote(s.is_vote);
      o->set_index(s.index);
      if (s.failed) o->mutable_err()->set_err(Bytes(s.error));
      return absl::OkStatus();
    }
    case EventKind::kSlot: {
      const SlotEvent& s = *event.slot();
      auto* o = out->mutable_slot();
      o->set_slot(s.slot);
      o->set_parent(s.parent);
      o->set_status(static_cast<geyser::SlotStatus>(s.state));
      return absl::OkStatus();
    }
    case EventKind::kBlockMeta:
      FillBlockMeta(*event.block_meta(), out->mutable_block_meta());
      return absl::OkStatus();
    case EventKind::kEntry: {
      const EntryEvent& e = *event.entry();
      auto* o = out->mutable_entry();
      o->set_slot(e.slot);
      o->set_index(e.index);
      o->set_num_hashes(e.num_hashes);
      o->set_hash(Bytes(e.hash));
      o->set_executed_transaction_count(e.executed_transaction_count);
      o->set_starting_transaction_index(e.starting_transaction_index);
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError("not an update");
  }
}

}  // namespace qlaster::grpc_endpoint
