// The status macros: early return of the error, the value moved out otherwise.
#include "base/status_macros.h"

#include <memory>

#include "gtest/gtest.h"

namespace qlaster {
namespace {

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool ok, int v) {
  if (!ok) return absl::DataLossError("no int");
  return std::make_unique<int>(v);
}

absl::StatusOr<int> AddTwo(bool first_ok, bool second_ok) {
  QLASTER_ASSIGN_OR_RETURN(std::unique_ptr<int> a, MakeInt(first_ok, 1));
  QLASTER_ASSIGN_OR_RETURN(auto b, MakeInt(second_ok, 2));
  return *a + *b;
}

absl::Status Check(bool ok) {
  QLASTER_RETURN_IF_ERROR(ok ? absl::OkStatus() : absl::UnavailableError("down"));
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturnMovesTheValueOut) {
  absl::StatusOr<int> sum = AddTwo(true, true);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, 3);
}

TEST(StatusMacrosTest, AssignOrReturnReturnsTheFirstError) {
  EXPECT_EQ(AddTwo(false, true).status(), absl::DataLossError("no int"));
  EXPECT_EQ(AddTwo(true, false).status(), absl::DataLossError("no int"));
}

TEST(StatusMacrosTest, AssignOrReturnAssignsToAnExistingVariable) {
  auto f = []() -> absl::Status {
    std::unique_ptr<int> p;
    QLASTER_ASSIGN_OR_RETURN(p, MakeInt(true, 7));
    return *p == 7 ? absl::OkStatus() : absl::InternalError("wrong value");
  };
  EXPECT_TRUE(f().ok());
}

TEST(StatusMacrosTest, ReturnIfErrorPassesOkThrough) {
  EXPECT_TRUE(Check(true).ok());
  EXPECT_EQ(Check(false), absl::UnavailableError("down"));
}

TEST(StatusMacrosTest, ErrnoStatusChoosesActionableCodes) {
  EXPECT_TRUE(absl::IsUnavailable(ErrnoStatus(ECONNREFUSED, "connect")));
  EXPECT_TRUE(absl::IsResourceExhausted(ErrnoStatus(EMFILE, "accept")));
  EXPECT_TRUE(absl::IsPermissionDenied(ErrnoStatus(EACCES, "open")));
  EXPECT_EQ(ErrnoStatus(ENOENT, "open x").message(), "open x: No such file or directory");
}

}  // namespace
}  // namespace qlaster
