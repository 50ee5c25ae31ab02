// A claim filtered by queue, source type or content type reads only the
// ready work of the kinds it asks for, and a conversation's row keeps its
// head's kind and priority whoever edits the jobs. Against a real PostgreSQL.

#include <algorithm>
#include <iostream>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"
#include "tests/support/store_fixture.h"

namespace jobqueue {
namespace {

class ClaimFiltersTest : public StoreFixture {
 protected:
  // Shared buffers a claim of 10 of the default queue touches, filtered by
  // `filter` (source type, content types: "'', '{audio}'"). The more of
  // its generic plan and of the plan made for its values.
  int64_t ClaimBuffers(const std::string& filter,
                       const char* sql = ClaimInOrderByKindSql()) {
    int64_t most = 0;
    for (const char* mode : {"force_generic_plan", "force_custom_plan"}) {
      most = std::max(
          most,
          Buffers(absl::StrCat("EXECUTE claim(10, 30000, 'w', ", filter, ")"),
                  absl::StrCat("SET LOCAL jit = off;"
                               " SET LOCAL plan_cache_mode = ",
                               mode, "; PREPARE claim AS ", sql)));
    }
    return most;
  }
  int64_t AudioClaimBuffers() {
    return ClaimBuffers("'', '{default}', '{audio}'");
  }
  // n jobs of one kind, each in its own conversation (ordered) or unordered.
  void Add(const std::string& prefix, int n, const std::string& source,
           const std::string& content, bool ordered,
           const std::string& queue = "default") {
    Sql(absl::StrCat(
        "INSERT INTO jobs (user_id, source_channel_id, source_type,"
        " user_phone, payload, content_type, ordered, queue)"
        " SELECT '+15551234567', '",
        prefix, "-' || c, '", source, "', '+15551234567', '{}', '", content,
        "', ", ordered ? "true" : "false", ", '", queue,
        "' FROM generate_series(1, ", n, ") c"));
    Sql("ANALYZE jobs; ANALYZE conversations");
  }
  // Claims up to `max` jobs of the kinds; returns how many it got.
  size_t ClaimKinds(const std::string& source,
                    const std::vector<std::string>& contents, int max) {
    ClaimRequest request{.worker_id = "w", .max_jobs = max};
    request.source_type = source;
    request.content_types = contents;
    auto r = store_->ClaimJobs(request, Deadline());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->size() : 0;
  }
  std::string Kinds(const std::string& where) {
    return Sql(
               absl::StrCat("SELECT string_agg(DISTINCT source_type || '/' ||"
                            " content_type, ',') FROM jobs WHERE ",
                            where))[0][0]
        .c_str();
  }
};

// 5,000 ready text conversations and 5,000 unordered text jobs, older than
// every audio job, cost an audio claim nothing.
TEST_F(ClaimFiltersTest, OtherKindsBacklogCostsAFilteredClaimNothing) {
  Add("audio", 20, "dm", "audio", true);
  Add("audio-u", 20, "group", "audio", false);
  const int64_t alone = AudioClaimBuffers();
  Sql("DELETE FROM jobs");
  Sql("VACUUM jobs");  // not the versions the first claim left
  Sql("VACUUM conversations");
  Add("text", 5000, "dm", "text", true);
  Add("text-u", 5000, "group", "text", false);
  Add("audio", 20, "dm", "audio", true);
  Add("audio-u", 20, "group", "audio", false);
  const int64_t beside = AudioClaimBuffers();
  std::cout << "audio claim of 10: " << alone << " buffers, " << beside
            << " beside 10,000 older text jobs\n";
  EXPECT_LE(beside, 2 * alone + 50);

  EXPECT_EQ(ClaimKinds("", {"audio"}, 100), 40u);
  EXPECT_EQ(Kinds("status = 'processing'"), "dm/audio,group/audio");
  EXPECT_EQ(ClaimKinds("group", {}, 100), 100u);
  EXPECT_EQ(Kinds("status = 'processing'"), "dm/audio,group/audio,group/text");
}

// The defect the issue names: a claim of group jobs read every older ready
// conversation of direct messages first. 5,000 of them cost it nothing now.
TEST_F(ClaimFiltersTest, OtherSourceTypesBacklogCostsAFilteredClaimNothing) {
  Add("group", 20, "group", "text", true);
  const int64_t alone = ClaimBuffers("'group', '{default}', '{}'");
  Sql("DELETE FROM jobs");
  Sql("VACUUM jobs");
  Sql("VACUUM conversations");
  Add("dm", 5000, "dm", "text", true);
  Add("group", 20, "group", "text", true);
  const int64_t beside = ClaimBuffers("'group', '{default}', '{}'");
  std::cout << "group claim of 10: " << alone << " buffers, " << beside
            << " beside 5,000 older ready dm conversations\n";
  EXPECT_LE(beside, 2 * alone + 50);
  EXPECT_EQ(ClaimKinds("group", {}, 100), 20u);
  EXPECT_EQ(Kinds("status = 'processing'"), "group/text");
}

// 5,000 ready conversations and 5,000 unordered jobs of another queue,
// older than every default job and that queue rate-limited, cost a claim
// of the default queue nothing, with or without kind filters.
TEST_F(ClaimFiltersTest, AnotherQueuesBacklogCostsAClaimNothing) {
  const auto claims = [&] {
    return std::max(ClaimBuffers("'{default}'", ClaimInOrderSql()),
                    ClaimBuffers("'', '{default}', '{}'"));
  };
  Add("mine", 20, "dm", "text", true);
  Add("mine-u", 20, "group", "text", false);
  const int64_t alone = claims();
  Sql("DELETE FROM jobs");
  Sql("VACUUM jobs");
  Sql("VACUUM conversations");
  Add("other", 5000, "dm", "text", true, "other");
  Add("other-u", 5000, "group", "text", false, "other");
  Sql("INSERT INTO queues (name, jobs_per_second, burst, tokens, refilled_at)"
      " VALUES ('other', 1, 1, 1, now())");
  Add("mine", 20, "dm", "text", true);
  Add("mine-u", 20, "group", "text", false);
  const int64_t beside = claims();
  std::cout << "default claim of 10: " << alone << " buffers, " << beside
            << " beside 10,000 older jobs of another queue\n";
  EXPECT_LE(beside, 2 * alone + 50);
  EXPECT_EQ(ClaimKinds("", {}, 100), 40u);
}

// The head decides: a conversation whose head is text gives an audio claim
// nothing, even with audio behind it, until the head is done.
TEST_F(ClaimFiltersTest, AFilterNeverSkipsAConversationsHead) {
  Sql("INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone,"
      " payload, content_type) VALUES"
      " ('+15551234567', 'c', 'dm', '+15551234567', '{}', 'text'),"
      " ('+15551234567', 'c', 'dm', '+15551234567', '{}', 'audio')");
  EXPECT_EQ(ClaimKinds("", {"audio"}, 10), 0u);
  // An operator makes the head audio: the conversation follows.
  Sql("UPDATE jobs SET content_type = 'audio' WHERE content_type = 'text'");
  EXPECT_EQ(ClaimKinds("", {"audio"}, 10), 1u);
}

// A conversation row whose head's priority or kind was edited by hand (the
// triggers off) is set right by the maintenance recount.
TEST_F(ClaimFiltersTest, TheRecountRepairsAHeadsKindAndPriority) {
  Add("c", 3, "dm", "audio", true);
  Sql("UPDATE conversations SET head_priority = 9, head_content_type = 'text',"
      " head_source_type = 'group'");
  EXPECT_EQ(ClaimKinds("", {"audio"}, 10), 0u);
  Sql("SELECT recount_conversations_after('', 100)");
  EXPECT_EQ(
      Sql("SELECT count(*) FROM conversations WHERE head_priority = 0"
          " AND head_content_type = 'audio' AND head_source_type = 'dm'")[0][0]
          .as<int>(),
      3);
  EXPECT_EQ(ClaimKinds("", {"audio"}, 10), 3u);
}

}  // namespace
}  // namespace jobqueue
