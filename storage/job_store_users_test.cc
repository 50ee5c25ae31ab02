// JobStore's users, for every store (see job_store_suite.h): GetUser, and
// ListUsers' keyset pages, newest first by (created_at, phone_number).

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/fake_job_store.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

class UsersSuite : public JobStoreSuite {
 protected:
  void CreateUser(const std::string& phone, const std::string& name = "") {
    auto r = store_->UpsertUser(phone, name, Deadline());
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Sets the user's created_at, as plain SQL can: how several users come to
  // share one creation time (the users of one enqueue batch do).
  void SetCreatedAt(const std::string& phone, absl::Time t) {
    if (GetParam() == StoreKind::kPg) {
      Sql(absl::StrCat(
          "UPDATE users SET created_at = '",
          absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone()),
          "' WHERE phone_number = '", phone, "'"));
    } else {
      ASSERT_TRUE(
          dynamic_cast<FakeJobStore&>(*store_).SetUserCreatedAt(phone, t));
    }
  }

  // Every page of `filter`, `limit` at a time; each page but the last full
  // and with a cursor.
  std::vector<User> AllPages(const UserFilter& filter, int limit) {
    std::vector<User> seen;
    std::optional<UserCursor> after;
    for (int page = 0; page < 100; ++page) {
      auto r = store_->ListUsers(filter, after, limit, Deadline());
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      EXPECT_LE(r->users.size(), static_cast<size_t>(limit));
      if (r->next.has_value()) {
        EXPECT_EQ(r->users.size(), static_cast<size_t>(limit));
      }
      seen.insert(seen.end(), r->users.begin(), r->users.end());
      if (!r->next.has_value()) break;
      after = r->next;
    }
    return seen;
  }

  static std::vector<std::string> Phones(const std::vector<User>& users) {
    std::vector<std::string> phones;
    for (const User& u : users) phones.push_back(u.phone_number);
    return phones;
  }
};

TEST_P(UsersSuite, GetUserReadsAUserAndNamesAnUnknownNumber) {
  CreateUser("+15557654321", "Ada");
  auto created = store_->UpsertUser("+15557654321", "", Deadline());
  ASSERT_TRUE(created.ok()) << created.status();
  auto user = store_->GetUser("+15557654321", Deadline());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->phone_number, "+15557654321");
  EXPECT_EQ(user->first_name, "Ada");
  EXPECT_EQ(user->created_at, created->user.created_at);

  // An enqueue's user, without a name.
  Enqueue("c");
  user = store_->GetUser(kPhone, Deadline());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->phone_number, kPhone);
  EXPECT_EQ(user->first_name, "");

  for (const std::string phone : {"+15550000000", "not a number", ""}) {
    auto missing = store_->GetUser(phone, Deadline());
    EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << phone;
    EXPECT_NE(missing.status().message().find(absl::StrCat("user ", phone)),
              std::string::npos)
        << missing.status();
  }
}

TEST_P(UsersSuite, ListUsersPagesNewestFirstThroughEqualTimes) {
  // Nine users in three creation times: several share one, so the phone
  // number orders them and a page boundary falls inside a time.
  const absl::Time t0 = absl::FromUnixMicros(1795557617127713);
  std::vector<std::string> phones;
  for (int i = 0; i < 9; ++i) {
    const std::string phone = absl::StrCat("+1555000000", i);
    CreateUser(phone);
    SetCreatedAt(phone, t0 + absl::Seconds(i % 3));
    phones.push_back(phone);
  }
  for (int limit : {1, 2, 4, 8, 9, 10, 1000}) {
    SCOPED_TRACE(limit);
    const std::vector<User> seen = AllPages({}, limit);
    ASSERT_EQ(seen.size(), phones.size());
    const std::vector<std::string> found = Phones(seen);
    EXPECT_EQ(std::set<std::string>(found.begin(), found.end()),
              std::set<std::string>(phones.begin(), phones.end()));
    for (size_t i = 1; i < seen.size(); ++i) {
      EXPECT_GT(std::tie(seen[i - 1].created_at, seen[i - 1].phone_number),
                std::tie(seen[i].created_at, seen[i].phone_number));
    }
  }
  // The newest time first, its largest number first.
  const std::vector<User> first = AllPages({}, 9);
  ASSERT_EQ(first.size(), 9u);
  EXPECT_EQ(first[0].phone_number, "+15550000008");
  EXPECT_EQ(first[0].created_at, t0 + absl::Seconds(2));
  EXPECT_EQ(first[8].phone_number, "+15550000000");
  EXPECT_EQ(first[8].created_at, t0);

  // A page exactly as long as what is left has no cursor.
  auto all = store_->ListUsers({}, std::nullopt, 9, Deadline());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->users.size(), 9u);
  EXPECT_FALSE(all->next.has_value());
  // The cursor of the last user reads nothing more.
  auto after_last =
      store_->ListUsers({}, UserCursor{t0, "+15550000000"}, 5, Deadline());
  ASSERT_TRUE(after_last.ok()) << after_last.status();
  EXPECT_TRUE(after_last->users.empty());
  EXPECT_FALSE(after_last->next.has_value());
}

TEST_P(UsersSuite, ListUsersFiltersByCreationTime) {
  const absl::Time t0 = absl::FromUnixMicros(1795557617127713);
  for (int i = 0; i < 6; ++i) {
    const std::string phone = absl::StrCat("+1555000001", i);
    CreateUser(phone);
    SetCreatedAt(phone, t0 + absl::Seconds(i / 2));  // two at each time
  }
  using Phones_ = std::vector<std::string>;
  auto listed = [&](const UserFilter& filter, int limit) {
    return Phones(AllPages(filter, limit));
  };
  for (int limit : {1, 2, 50}) {
    SCOPED_TRACE(limit);
    // created_after is inclusive, created_before exclusive.
    EXPECT_EQ(listed({.created_after = t0 + absl::Seconds(1)}, limit),
              Phones_({"+15550000015", "+15550000014", "+15550000013",
                       "+15550000012"}));
    EXPECT_EQ(listed({.created_before = t0 + absl::Seconds(1)}, limit),
              Phones_({"+15550000011", "+15550000010"}));
    EXPECT_EQ(listed({.created_after = t0 + absl::Seconds(1),
                      .created_before = t0 + absl::Seconds(2)},
                     limit),
              Phones_({"+15550000013", "+15550000012"}));
    EXPECT_EQ(listed({.created_after = t0 + absl::Microseconds(1),
                      .created_before = t0 + absl::Seconds(1)},
                     limit),
              Phones_());
    EXPECT_EQ(listed({.created_after = t0 + absl::Seconds(2),
                      .created_before = t0 + absl::Seconds(2)},
                     limit),
              Phones_());
  }
  EXPECT_EQ(listed({}, 50).size(), 6u);
}

TEST_P(UsersSuite, ListUsersRefusesAPageOfNoUsers) {
  auto empty = store_->ListUsers({}, std::nullopt, 1, Deadline());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->users.empty());
  EXPECT_FALSE(empty->next.has_value());
  CreateUser("+15557654321");
  for (int limit : {0, -1}) {
    auto r = store_->ListUsers({}, std::nullopt, limit, Deadline());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << limit;
  }
  // The API's largest page.
  auto r = store_->ListUsers({}, std::nullopt, 1000, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->users.size(), 1u);
  EXPECT_FALSE(r->next.has_value());
}

std::string StoreName(const ::testing::TestParamInfo<StoreKind>& info) {
  return info.param == StoreKind::kPg ? "Pg" : "Fake";
}

INSTANTIATE_TEST_SUITE_P(Stores, UsersSuite,
                         ::testing::Values(StoreKind::kFake, StoreKind::kPg),
                         StoreName);

}  // namespace
}  // namespace jobqueue
