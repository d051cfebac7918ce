// Filter limits with the meanings of Yellowstone's (its plugin config's grpc.filters), set
// by qlaster-grpc's --limit_* flags: how many named filters of each kind a Subscribe
// request may hold, how many keys a filter may list, keys it may not name, and whether a
// filter that selects everything (`any`) is allowed.
//
// A request over a limit is refused with kInvalidArgument and a message naming the limit
// by its flag, as Yellowstone refuses with INVALID_ARGUMENT ("failed to create filter:
// ..."). Checked on the converted Subscription (its keys already decoded), before it
// reaches the sender; the sender's own limits (keys per consumer) still apply after.
//
// Thread-safe (pure).
#ifndef QLASTER_GRPC_SERVER_FILTER_LIMITS_H_
#define QLASTER_GRPC_SERVER_FILTER_LIMITS_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "qlaster/subscription.hpp"

namespace qlaster::grpc_endpoint {

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

struct AccountLimits {
  uint64_t max = kNoLimit;          // named account filters
  bool any = true;                  // false: a filter must name an account or an owner
  uint64_t account_max = kNoLimit;  // `account` keys per filter
  std::vector<Pubkey> account_reject;
  uint64_t owner_max = kNoLimit;    // `owner` keys per filter
  std::vector<Pubkey> owner_reject;
  uint64_t data_slice_max = kNoLimit;  // accounts_data_slice entries of the request
};

// For transactions and, separately, transactions_status.
struct TransactionLimits {
  uint64_t max = kNoLimit;
  bool any = true;  // false: a filter must list account_include, _exclude or _required keys
  uint64_t account_include_max = kNoLimit;
  std::vector<Pubkey> account_include_reject;
  uint64_t account_exclude_max = kNoLimit;
  uint64_t account_required_max = kNoLimit;
};

struct FilterLimits {
  AccountLimits accounts;
  uint64_t slots_max = kNoLimit;
  TransactionLimits transactions;
  TransactionLimits transactions_status;
  uint64_t blocks_meta_max = kNoLimit;
  uint64_t entry_max = kNoLimit;
};

// OK, or kInvalidArgument naming the filter and the --limit_* flag it is over.
absl::Status CheckFilterLimits(const Subscription& sub, const FilterLimits& limits);

}  // namespace qlaster::grpc_endpoint

#endif  // QLASTER_GRPC_SERVER_FILTER_LIMITS_H_
