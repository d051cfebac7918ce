// EventFd: notify, wait with timeout, counter reset.
#include "shm/event_fd.h"

#include <fcntl.h>

#include <thread>

#include "gtest/gtest.h"

namespace qlaster::shm {
namespace {

TEST(EventFdTest, WaitReturnsFalseOnTimeout) {
  auto e = EventFd::Create();
  ASSERT_TRUE(e.ok()) << e.status();
  auto r = e->WaitFor(absl::Milliseconds(1));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

TEST(EventFdTest, NotifyBeforeWaitIsNotLostAndIsConsumed) {
  auto e = EventFd::Create();
  ASSERT_TRUE(e.ok());
  e->Notify();
  e->Notify();
  EXPECT_TRUE(*e->WaitFor(absl::Seconds(5)));
  EXPECT_FALSE(*e->WaitFor(absl::ZeroDuration())) << "one wait drains every notification";
}

TEST(EventFdTest, NotifyFromAnotherThreadWakesWaiter) {
  auto e = EventFd::Create();
  ASSERT_TRUE(e.ok());
  std::thread t([&] { e->Notify(); });
  EXPECT_TRUE(*e->WaitFor(absl::Seconds(10)));
  t.join();
}

TEST(EventFdTest, IsCloseOnExec) {
  auto e = EventFd::Create();
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(::fcntl(e->fd(), F_GETFD) & FD_CLOEXEC);
}

}  // namespace
}  // namespace qlaster::shm
