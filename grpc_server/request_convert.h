// A Yellowstone SubscribeRequest as a qlaster Subscription (qlaster/subscription.hpp),
// which the sender then filters by: what qlaster-grpc does with every request a client
// sends on a Subscribe stream.
//
// The request is untrusted. Keys and signatures must be base58 of exactly 32 or 64
// bytes, memcmp data one of bytes / base58 / base64, enum values known. Anything qlaster
// does not serve (the `blocks` filter, cuckoo filters) is refused rather than ignored,
// so a client never believes it filters by something it does not.
//
// Thread-safe (no shared state); allocates.
#ifndef QLASTER_GRPC_SERVER_REQUEST_CONVERT_H_
#define QLASTER_GRPC_SERVER_REQUEST_CONVERT_H_

#include "absl/status/statusor.h"
#include "geyser.pb.h"
#include "qlaster/subscription.hpp"

namespace qlaster::grpc_endpoint {

// Errors: kInvalidArgument naming the filter and field; kUnimplemented for `blocks`
// filters and cuckoo filters.
absl::StatusOr<Subscription> ToSubscription(const geyser::SubscribeRequest& request);

// True when the request carries nothing but a ping: it answers the ping and leaves the
// subscription as it is (Yellowstone's rule).
bool IsPingOnly(const geyser::SubscribeRequest& request);

}  // namespace qlaster::grpc_endpoint

#endif  // QLASTER_GRPC_SERVER_REQUEST_CONVERT_H_
