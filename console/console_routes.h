// Mounts the web console on the server that serves /metrics:
//   GET  /console                  the page (one page; its views are #/jobs...)
//   GET  /console/assets/<name>    its scripts, styles and Chart.js
//   POST /console/api/<Method>     ConsoleApi: JSON in, JSON out
// Every answer forbids framing and inline scripts (Content-Security-Policy),
// so text from jobs can never run as code; API calls pass the request guard
// (request_guard.h) before anything is read or changed.
//
//   MountConsole(server, {.token_required = true, .api = &api});

#ifndef JOBQUEUE_CONSOLE_CONSOLE_ROUTES_H_
#define JOBQUEUE_CONSOLE_CONSOLE_ROUTES_H_

#include "console/console_api.h"
#include "httplib.h"

namespace jobqueue::console {

struct ConsoleOptions {
  // A bearer token is configured: API calls need it, any Host is answered.
  bool token_required = true;
  ConsoleApi* api = nullptr;  // must outlive the server
};

void MountConsole(httplib::Server& server, const ConsoleOptions& options);

}  // namespace jobqueue::console

#endif  // JOBQUEUE_CONSOLE_CONSOLE_ROUTES_H_
