// libFuzzer target for what the Yellowstone source does with every upstream message:
// SubscribeUpdate bytes (untrusted protobuf from the network) -> FromSubscribeUpdate ->
// a frame. Any input must convert or fail with kInvalidArgument / kUnimplemented, never
// crash. A converted frame must decode as a consumer decodes it (DecodeFrame), and the
// route the source publishes it by must be the route the frame itself gives. Each input
// is also applied as an overlay onto a valid update of one of the kinds (chosen by the
// first byte), to reach the checks behind the protobuf parse without a seed corpus.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/overlay.h"
#include "wire/solana/transaction_generator.h"
#include "wire/yellowstone/transaction_convert.h"
#include "wire/yellowstone/update_convert.h"

namespace {

namespace yellowstone = qlaster::yellowstone;

void Check(const uint8_t* data, size_t size) {
  geyser::SubscribeUpdate update;
  if (!update.ParseFromArray(data, static_cast<int>(size))) return;  // not protobuf at all
  // A small threshold, so that compression of account data is reached too.
  qlaster::Lz4Policy lz4;
  lz4.threshold = 64;
  absl::StatusOr<yellowstone::UpstreamMessage> m = yellowstone::FromSubscribeUpdate(update, lz4);
  if (!m.ok()) {
    FUZZ_CHECK(m.status().code() == absl::StatusCode::kInvalidArgument ||
               m.status().code() == absl::StatusCode::kUnimplemented);
    return;
  }
  if (m->type != yellowstone::UpstreamMessage::Type::kFrame) {
    FUZZ_CHECK(m->frame == nullptr);
    return;
  }
  FUZZ_CHECK(m->frame != nullptr);
  const std::vector<uint8_t> bytes = m->frame->update().ToBytes(1, 2);
  absl::StatusOr<qlaster::FrameView> view = qlaster::DecodeFrame(bytes);
  FUZZ_CHECK(view.ok());
  const qlaster::RouteKey got = qlaster::RouteKeyOf(*view);
  const qlaster::RouteKey& want = m->frame->key();
  FUZZ_CHECK(got.kind == want.kind && got.pubkey == want.pubkey && got.owner == want.owner &&
             got.is_vote == want.is_vote && got.failed == want.failed && got.slot == want.slot);
  if (const qlaster::AccountView* a = view->account()) {
    absl::StatusOr<std::vector<uint8_t>> data = a->Data();
    FUZZ_CHECK(data.ok());
    FUZZ_CHECK(std::string(data->begin(), data->end()) == update.account().account().data());
  }
}

// A valid update of kind `k` (0-5), serialized.
std::string Sample(uint8_t k) {
  geyser::SubscribeUpdate u;
  switch (k % 6) {
    case 0: {
      auto* a = u.mutable_account();
      a->set_slot(9);
      a->mutable_account()->set_pubkey(std::string(32, 'p'));
      a->mutable_account()->set_owner(std::string(32, 'o'));
      a->mutable_account()->set_data(std::string(200, 'd'));
      a->mutable_account()->set_txn_signature(std::string(64, 's'));
      break;
    }
    case 1: {
      static const qlaster::solana::TransactionGenerator generator;
      const qlaster::solana::GeneratedTransaction g = generator.Generate(350'000'000, k >> 3);
      if (!yellowstone::FillUpdateTransaction(g.transaction, g.status, 350'000'000, k,
                                              u.mutable_transaction()).ok()) {
        std::abort();
      }
      break;
    }
    case 2:
      u.mutable_slot()->set_slot(10);
      u.mutable_slot()->set_parent(9);
      u.mutable_slot()->set_status(geyser::SLOT_CONFIRMED);
      break;
    case 3: {
      auto* b = u.mutable_block_meta();
      b->set_slot(11);
      b->set_blockhash("11111111111111111111111111111111");
      b->set_parent_blockhash("11111111111111111111111111111111");
      auto* r = b->mutable_rewards()->add_rewards();
      r->set_pubkey("11111111111111111111111111111111");
      r->set_commission("5");
      b->mutable_rewards()->mutable_num_partitions()->set_num_partitions(3);
      break;
    }
    case 4:
      u.mutable_entry()->set_slot(12);
      u.mutable_entry()->set_hash(std::string(32, 'h'));
      break;
    default:
      u.mutable_pong()->set_id(3);
      break;
  }
  return u.SerializeAsString();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(data, size);
  if (size < 2) return 0;
  const std::string sample = Sample(data[0]);
  const std::vector<uint8_t> bytes = Overlay({sample.begin(), sample.end()}, data + 1, size - 1);
  Check(bytes.data(), bytes.size());
  return 0;
}
