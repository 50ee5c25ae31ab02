// A statement whose connection breaks under it must not leak libpq's result
// (see pqxx_broken_result.cc): 200 of them, each ended by its backend's
// termination as a database crash ends it, leave the heap where it was.

#include <malloc.h>

#include <cstdlib>
#include <pqxx/pqxx>
#include <string>

#include "gtest/gtest.h"

namespace {

// Bytes malloc has handed out and not yet taken back, in every arena.
size_t HeapInUse() { return mallinfo2().uordblks; }

// One statement on a fresh connection that the server ends while running
// it; true when it failed with broken_connection, as under a crash.
bool StatementWhoseConnectionBreaks(const std::string& url) {
  pqxx::connection c(url);
  try {
    pqxx::nontransaction(c).exec(
        "SELECT pg_terminate_backend(pg_backend_pid())");
  } catch (const pqxx::broken_connection&) {
    return true;
  }
  return false;
}

TEST(PqxxBrokenResultTest, StatementsOnBrokenConnectionsLeaveTheHeapAsItWas) {
  const char* url = std::getenv("DATABASE_URL");
  ASSERT_NE(url, nullptr) << "DATABASE_URL must name a PostgreSQL server";
  // The first round loads what libpq and libpqxx keep for good.
  ASSERT_TRUE(StatementWhoseConnectionBreaks(url));
  const size_t before = HeapInUse();
  int broken = 0;
  for (int i = 0; i < 200; ++i) broken += StatementWhoseConnectionBreaks(url);
  const size_t after = HeapInUse();
  EXPECT_EQ(broken, 200);
  // Each leaked result held about 2.3 KiB (450 KiB in all here); a round
  // frees everything else it allocates. (Under ASan or TSan mallinfo2 does
  // not see their heap, and LeakSanitizer reports the leak instead.)
  EXPECT_LT(after, before + 64 * 1024)
      << "the heap grew by " << (after - before) / 200
      << " bytes per broken statement";
}

}  // namespace
