// ConsumerFilter: counting a subscription's keys.
#include "sender/consumer_filter.h"

namespace qlaster::sender {

size_t NamedFilterSet::KeyCount() const {
  size_t n = 0;
  for (const auto& [name, f] : accounts) n += f.pubkeys.size() + f.owners.size();
  for (const auto* selectors : {&transactions, &statuses}) {
    for (const auto& [name, t] : *selectors) {
      n += t.account_include.size() + t.account_exclude.size() + t.account_required.size();
    }
  }
  return n;
}

}  // namespace qlaster::sender
