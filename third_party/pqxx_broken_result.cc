// Frees libpq's result of a statement whose connection broke under it, which
// Debian's libpqxx 6.4 leaks.
//
// libpqxx 6.4's connection_base::make_result asks PQclientEncoding for the
// connection's encoding before it takes ownership of the PGresult; once the
// connection is no longer CONNECTION_OK that answers -1, and libpqxx throws
// broken_connection ("Could not obtain client encoding: not connected.") with
// the result still unowned: about 2.3 KiB (the PGresult and its first data
// block) for every statement the database's crash, a pause cut off at the
// call's deadline, or a terminated backend ends. Under a database crashed
// every 10 s that was most of a server's 2 KiB/s of RSS growth (issue 19).
// libpqxx 7 takes ownership first.
//
// This file defines PQclientEncoding in every binary that links libpqxx
// (//third_party:pqxx), so the dynamic linker binds libpqxx's calls here. For
// a broken connection it answers SQL_ASCII instead of -1: make_result then
// owns the result, and check_result throws broken_connection right after, as
// before, freeing it. Any encoding would do, since that result is never read.
// Everything else gets libpq's own answer (found with dlsym(RTLD_NEXT)).
#include <dlfcn.h>
#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>

namespace {

constexpr int kSqlAscii = 0;  // PG_SQL_ASCII: every byte is one character

using ClientEncodingFn = int (*)(const PGconn*);

ClientEncodingFn RealClientEncoding() {
  static const ClientEncodingFn real = [] {
    auto fn = reinterpret_cast<ClientEncodingFn>(
        dlsym(RTLD_NEXT, "PQclientEncoding"));
    if (fn == nullptr) {
      std::fprintf(stderr,
                   "pqxx_broken_result: no PQclientEncoding in libpq\n");
      std::abort();
    }
    return fn;
  }();
  return real;
}

}  // namespace

extern "C" int PQclientEncoding(const PGconn* conn) {
  const int encoding = RealClientEncoding()(conn);
  if (encoding == -1 && conn != nullptr && PQstatus(conn) == CONNECTION_BAD) {
    return kSqlAscii;
  }
  return encoding;
}
