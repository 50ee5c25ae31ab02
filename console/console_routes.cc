#include "console/console_routes.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "console/assets.h"
#include "console/request_guard.h"

namespace jobqueue::console {
namespace {

constexpr char kPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

void SetSafetyHeaders(httplib::Response& response) {
  response.set_header("Content-Security-Policy", kPolicy);
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_header("X-Frame-Options", "DENY");
  response.set_header("Referrer-Policy", "no-referrer");
}

void Refuse(httplib::Response& response, int http_status,
            const absl::Status& status) {
  SetSafetyHeaders(response);
  response.status = http_status;
  ConsoleApi::Reply reply = ConsoleApi::ErrorReply(status);
  response.set_content(reply.json, "application/json");
}

void ServeAsset(const httplib::Request& request, httplib::Response& response,
                const std::string& name, bool token_required) {
  if (absl::Status host =
          CheckHost(request.get_header_value("Host"), token_required);
      !host.ok()) {
    Refuse(response, 403, host);
    return;
  }
  const Asset* asset = FindAsset(name);
  SetSafetyHeaders(response);
  if (asset == nullptr) {
    response.status = 404;
    response.set_content("no such console file\n", "text/plain");
    return;
  }
  response.set_header("Cache-Control", "no-cache");
  response.set_content(asset->body, asset->content_type.c_str());
}

}  // namespace

void MountConsole(httplib::Server& server, const ConsoleOptions& options) {
  const bool token_required = options.token_required;
  ConsoleApi* api = options.api;
  server.Get("/console", [token_required](const httplib::Request& request,
                                          httplib::Response& response) {
    ServeAsset(request, response, "index.html", token_required);
  });
  server.Get("/console/",
             [](const httplib::Request&, httplib::Response& response) {
               response.set_redirect("/console");
             });
  server.Get(R"(/console/assets/([A-Za-z0-9._-]+))",
             [token_required](const httplib::Request& request,
                              httplib::Response& response) {
               ServeAsset(request, response, request.matches[1].str(),
                          token_required);
             });
  server.Post(
      R"(/console/api/([A-Za-z]+))",
      [token_required, api](const httplib::Request& request,
                            httplib::Response& response) {
        const RequestFacts facts = {
            .host = request.get_header_value("Host"),
            .origin = request.get_header_value("Origin"),
            .sec_fetch_site = request.get_header_value("Sec-Fetch-Site"),
            .content_type = request.get_header_value("Content-Type"),
            .console_header = request.get_header_value("X-Jobqueue-Console"),
        };
        if (absl::Status guard = CheckApiRequest(facts, token_required);
            !guard.ok()) {
          Refuse(response, 403, guard);
          return;
        }
        ConsoleApi::Reply reply =
            api->Call(request.matches[1].str(), request.body,
                      request.get_header_value("Authorization"));
        SetSafetyHeaders(response);
        response.set_header("Cache-Control", "no-store");
        response.status = reply.http_status;
        response.set_content(reply.json, "application/json");
      });
}

}  // namespace jobqueue::console
