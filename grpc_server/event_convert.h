// A consumer Event (qlaster/consumer.hpp) as the Yellowstone SubscribeUpdate a gRPC client
// expects: accounts, transactions (Transaction and TransactionStatusMeta filled by
// wire/yellowstone/transaction_convert.h), transaction statuses, slots, block meta and
// entries, with `filters` and `created_at` (the sender's publish time).
//
// Thread-safe (no shared state); allocates.
#ifndef QLASTER_GRPC_SERVER_EVENT_CONVERT_H_
#define QLASTER_GRPC_SERVER_EVENT_CONVERT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "geyser.pb.h"
#include "qlaster/consumer.hpp"

namespace qlaster::grpc_endpoint {

// Fills `out` from `event`. kDataLoss for a transaction whose bytes or status do not
// parse; kInvalidArgument for an event kind that is not an update (gap, disconnection).
absl::Status FillUpdate(const Event& event, const std::vector<std::string>& filters,
                        geyser::SubscribeUpdate* out);

void FillBlockMeta(const BlockMetaEvent& meta, geyser::SubscribeUpdateBlockMeta* out);

}  // namespace qlaster::grpc_endpoint

#endif  // QLASTER_GRPC_SERVER_EVENT_CONVERT_H_
