// OneConsumerDispatcher: a real Dispatcher routing to one real consumer channel, and a
// reader attached to that consumer's ring — what a test of a source needs to see exactly
// what the source published, without a control server.
#ifndef QLASTER_SENDER_TESTING_ONE_CONSUMER_DISPATCHER_H_
#define QLASTER_SENDER_TESTING_ONE_CONSUMER_DISPATCHER_H_

#include <unistd.h>

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "sender/dispatcher.h"
#include "sender/registry.h"
#include "base/status_macros.h"

namespace qlaster::sender::testing {

class OneConsumerDispatcher {
 public:
  static absl::StatusOr<std::unique_ptr<OneConsumerDispatcher>> Create(
      uint64_t ring_bytes, OverflowPolicy policy = OverflowPolicy::kDropAndCount,
      int64_t min_wake_interval_ns = 0) {
    auto self = std::unique_ptr<OneConsumerDispatcher>(new OneConsumerDispatcher());
    QLASTER_ASSIGN_OR_RETURN(shm::EventFd notify, shm::EventFd::Create());
    self->notify_ = std::move(notify);
    self->dispatcher_ = std::make_unique<Dispatcher>(&self->notify_);
    QLASTER_ASSIGN_OR_RETURN(uint64_t id, self->registry_.Reserve());
    self->id_ = id;
    QLASTER_ASSIGN_OR_RETURN(shm::RingProducer ring, shm::RingProducer::Create({.capacity = ring_bytes}));
    QLASTER_ASSIGN_OR_RETURN(shm::EventFd doorbell, shm::EventFd::Create());
    QLASTER_ASSIGN_OR_RETURN(shm::RingConsumer reader, shm::RingConsumer::Attach(UniqueFd(::dup(ring.fd()))));
    self->reader_.emplace(std::move(reader));
    self->doorbell_ = shm::EventFd(UniqueFd(::dup(doorbell.fd())));
    QLASTER_ASSIGN_OR_RETURN(shm::MappedRegion header, shm::MappedRegion::Map(ring.fd(), sizeof(shm::RingHeader)));
    self->header_ = std::move(header);
    self->registry_.Find(self->id_)->channel = std::make_shared<ConsumerChannel>(
        self->id_, "test", std::move(ring), std::move(doorbell), policy, min_wake_interval_ns);
    return self;
  }

  // Applies `sub` to the consumer and installs the new routing table; with `adopt`, also
  // adopts it (REQUIRES then: no other thread is publishing).
  absl::Status Subscribe(const SubscribeMsg& sub, bool adopt = true) {
    QLASTER_RETURN_IF_ERROR(registry_.ApplySubscribe(id_, sub));
    QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<RoutingTable> table, registry_.BuildTable());
    dispatcher_->Install(std::move(table));
    if (adopt) dispatcher_->Poll();
    return absl::OkStatus();
  }

  Dispatcher& dispatcher() { return *dispatcher_; }
  Registry& registry() { return registry_; }
  uint64_t consumer_id() const { return id_; }
  ConsumerChannel& channel() { return *registry_.Find(id_)->channel; }
  shm::RingConsumer& reader() { return *reader_; }
  // The consumer's doorbell, as the consumer holds it.
  const shm::EventFd& doorbell() const { return doorbell_; }
  // Says in the ring, as a consumer about to block would, that the consumer sleeps.
  void MarkConsumerSleeping() {
    reinterpret_cast<shm::RingHeader*>(header_.data())->consumer_sleeping.store(1);
  }

 private:
  OneConsumerDispatcher() = default;
  shm::EventFd notify_;
  std::unique_ptr<Dispatcher> dispatcher_;
  Registry registry_{RegistryLimits{}};
  uint64_t id_ = 0;
  std::optional<shm::RingConsumer> reader_;
  shm::EventFd doorbell_;
  shm::MappedRegion header_;
};

}  // namespace qlaster::sender::testing

#endif  // QLASTER_SENDER_TESTING_ONE_CONSUMER_DISPATCHER_H_
