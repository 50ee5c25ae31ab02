// GetUser and ListUsers end to end: a real gRPC server and channel on
// loopback over a fresh, migrated PostgreSQL database. Users come from
// CreateUser and from EnqueueJob; pages are walked by their tokens.

#include <grpcpp/grpcpp.h>

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/client_calls.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

class UsersE2eTest : public ServerTest {
 protected:
  v1::User MustCreate(const std::string& phone, const std::string& name) {
    v1::CreateUserRequest r;
    r.set_phone_number(phone);
    r.set_first_name(name);
    v1::CreateUserResponse response;
    grpc::Status s = stub_->CreateUser(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.user();
  }

  grpc::Status Get(const std::string& phone, v1::User* user) {
    v1::GetUserRequest r;
    r.set_phone_number(phone);
    return stub_->GetUser(CallContext().get(), r, user);
  }

  grpc::Status List(const v1::ListUsersRequest& r,
                    v1::ListUsersResponse* response) {
    return stub_->ListUsers(CallContext().get(), r, response);
  }

  // Every page of `r`, following next_page_token; each page but the last
  // holds page_size users.
  std::vector<v1::User> AllPages(v1::ListUsersRequest r) {
    std::vector<v1::User> users;
    for (int page = 0; page < 100; ++page) {
      v1::ListUsersResponse response;
      grpc::Status s = List(r, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      users.insert(users.end(), response.users().begin(),
                   response.users().end());
      if (response.next_page_token().empty()) break;
      EXPECT_EQ(response.users_size(), r.page_size());
      r.set_page_token(response.next_page_token());
    }
    return users;
  }

  static std::vector<std::string> Phones(const std::vector<v1::User>& users) {
    std::vector<std::string> phones;
    for (const v1::User& u : users) phones.push_back(u.phone_number());
    return phones;
  }
};

TEST_F(UsersE2eTest, GetUserFindsCreatedAndEnqueuedUsers) {
  const v1::User created = MustCreate("+15550000001", "Ada");
  v1::User user;
  grpc::Status s = Get("+15550000001", &user);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(user.phone_number(), "+15550000001");
  EXPECT_EQ(user.first_name(), "Ada");
  EXPECT_EQ(user.created_at().seconds(), created.created_at().seconds());
  EXPECT_EQ(user.created_at().nanos(), created.created_at().nanos());

  // EnqueueJob creates its sender, named by user_first_name.
  v1::EnqueueJobRequest enqueue = EnqueueRequest("whatsapp:+15550000002");
  enqueue.set_user_phone("+15550000002");
  enqueue.set_user_first_name("Grace");
  v1::EnqueueJobResponse enqueued;
  s = stub_->EnqueueJob(CallContext().get(), enqueue, &enqueued);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = Get("+15550000002", &user);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(user.first_name(), "Grace");
  EXPECT_GT(user.created_at().seconds(), 0);
  // ... and its worker reads the name by the job's user_id.
  s = Get(enqueued.job().user_id(), &user);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(user.first_name(), "Grace");
}

TEST_F(UsersE2eTest, AnUnknownUserIsNotFoundAndABadNumberInvalid) {
  v1::User user;
  grpc::Status s = Get("+15559999999", &user);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_NE(s.error_message().find("+15559999999"), std::string::npos)
      << s.error_message();
  for (const std::string bad : {"", "15559999999", "+1555", "+1 5559999999"}) {
    s = Get(bad, &user);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_NE(s.error_message().find("phone_number"), std::string::npos)
        << s.error_message();
  }
  EXPECT_EQ(db_->Rows("users"), 0);
}

TEST_F(UsersE2eTest, ListUsersPagesNewestFirstWithoutGapsOrRepeats) {
  // Seven users: five created one by one, two by enqueues; two of them then
  // share a creation time (as the users of one enqueue batch do).
  std::set<std::string> all;
  for (int i = 0; i < 5; ++i) {
    const std::string phone = absl::StrCat("+1555000010", i);
    MustCreate(phone, absl::StrCat("user ", i));
    all.insert(phone);
  }
  for (int i = 5; i < 7; ++i) {
    v1::EnqueueJobRequest enqueue = EnqueueRequest(absl::StrCat("c-", i));
    enqueue.set_user_phone(absl::StrCat("+1555000010", i));
    v1::EnqueueJobResponse enqueued;
    ASSERT_TRUE(
        stub_->EnqueueJob(CallContext().get(), enqueue, &enqueued).ok());
    all.insert(enqueue.user_phone());
  }
  Sql("UPDATE users SET created_at = (SELECT created_at FROM users"
      " WHERE phone_number = '+15550000102')"
      " WHERE phone_number = '+15550000103'");

  for (int page_size : {1, 2, 3, 7, 0}) {
    SCOPED_TRACE(page_size);
    v1::ListUsersRequest r;
    r.set_page_size(page_size);
    const std::vector<v1::User> users = AllPages(r);
    const std::vector<std::string> phones = Phones(users);
    EXPECT_EQ(std::set<std::string>(phones.begin(), phones.end()), all);
    ASSERT_EQ(users.size(), all.size());
    for (size_t i = 1; i < users.size(); ++i) {
      const auto& a = users[i - 1].created_at();
      const auto& b = users[i].created_at();
      EXPECT_TRUE(
          std::make_tuple(a.seconds(), a.nanos(), users[i - 1].phone_number()) >
          std::make_tuple(b.seconds(), b.nanos(), users[i].phone_number()))
          << i;
    }
  }

  // created_after is inclusive: from the fourth newest on.
  v1::ListUsersRequest newest;
  newest.set_page_size(7);
  const std::vector<v1::User> everyone = AllPages(newest);
  ASSERT_EQ(everyone.size(), 7u);
  v1::ListUsersRequest since;
  *since.mutable_created_after() = everyone[2].created_at();
  since.set_page_size(1);
  const std::vector<v1::User> recent = AllPages(since);
  EXPECT_EQ(Phones(recent), Phones({everyone.begin(), everyone.begin() + 3}));
  // created_before is exclusive.
  v1::ListUsersRequest before;
  *before.mutable_created_before() = everyone[4].created_at();
  before.set_page_size(2);
  EXPECT_EQ(Phones(AllPages(before)),
            Phones({everyone.begin() + 5, everyone.end()}));
}

TEST_F(UsersE2eTest, PageTokensServeOnlyTheirListAndFilters) {
  for (int i = 0; i < 3; ++i) MustCreate(absl::StrCat("+1555000020", i), "");
  v1::EnqueueJobResponse enqueued;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        stub_->EnqueueJob(CallContext().get(), EnqueueRequest("c"), &enqueued)
            .ok());
  }
  v1::ListUsersRequest users;
  users.set_page_size(1);
  v1::ListUsersResponse user_page;
  ASSERT_TRUE(List(users, &user_page).ok());
  ASSERT_FALSE(user_page.next_page_token().empty());
  v1::ListJobsRequest jobs;
  jobs.set_page_size(1);
  v1::ListJobsResponse job_page;
  ASSERT_TRUE(stub_->ListJobs(CallContext().get(), jobs, &job_page).ok());
  ASSERT_FALSE(job_page.next_page_token().empty());

  // A ListJobs token to ListUsers, and the other way round.
  v1::ListUsersRequest crossed = users;
  crossed.set_page_token(job_page.next_page_token());
  v1::ListUsersResponse refused;
  grpc::Status s = List(crossed, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("page_token"), std::string::npos)
      << s.error_message();
  jobs.set_page_token(user_page.next_page_token());
  s = stub_->ListJobs(CallContext().get(), jobs, &job_page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("page_token"), std::string::npos)
      << s.error_message();

  // Reused with another filter, or forged.
  v1::ListUsersRequest other = users;
  other.set_page_token(user_page.next_page_token());
  other.mutable_created_before()->set_seconds(4102444800);
  s = List(other, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("page_token"), std::string::npos);
  other.clear_created_before();
  other.set_page_token(user_page.next_page_token() + "A");
  EXPECT_EQ(List(other, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // page_size is not a filter, and is bounded.
  other.set_page_token(user_page.next_page_token());
  other.set_page_size(1000);
  v1::ListUsersResponse rest;
  ASSERT_TRUE(List(other, &rest).ok());
  EXPECT_EQ(rest.users_size(), 3);  // of four users in all
  EXPECT_TRUE(rest.next_page_token().empty());
  for (int bad : {1001, -1}) {
    other.set_page_size(bad);
    s = List(other, &refused);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_NE(s.error_message().find("page_size"), std::string::npos);
  }
}

}  // namespace
}  // namespace jobqueue
