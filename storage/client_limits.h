// libpq settings that keep a connection from waiting forever on a database
// that stops answering: a connect timeout, TCP keepalives and
// tcp_user_timeout. Added to a PostgreSQL URL (postgresql://... or
// key=value form) unless the URL sets them itself.
//
//   pqxx::connection c(WithClientLimits("postgresql://db.example.com/app"));

#ifndef JOBQUEUE_STORAGE_CLIENT_LIMITS_H_
#define JOBQUEUE_STORAGE_CLIENT_LIMITS_H_

#include <string>

namespace jobqueue {

std::string WithClientLimits(const std::string& url);

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_CLIENT_LIMITS_H_
