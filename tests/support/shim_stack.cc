#include "tests/support/shim_stack.h"

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace jobqueue::shim {
namespace {

// The bearer token jobqueue_server requires and the shim sends.
constexpr char kBearerToken[] = "e2e-backend-token";
constexpr absl::Duration kStartTimeout = absl::Seconds(30);

absl::Status StopProcess(std::unique_ptr<ChildProcess>& process,
                         std::string* output, int sig = SIGTERM) {
  if (process == nullptr) return absl::OkStatus();
  if (absl::Status signalled = process->Signal(sig); !signalled.ok()) {
    return signalled;
  }
  absl::StatusOr<int> exit_code = process->Wait(absl::Seconds(30));
  absl::StrAppend(output, process->output());
  process.reset();
  if (!exit_code.ok()) return exit_code.status();
  if (*exit_code != 0 && !(sig == SIGKILL && *exit_code == 128 + SIGKILL)) {
    return absl::InternalError(absl::StrCat("exited with ", *exit_code));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShimStack>> ShimStack::Start() {
  return Start(Options());
}

absl::StatusOr<std::unique_ptr<ShimStack>> ShimStack::Start(Options options) {
  std::unique_ptr<ShimStack> stack(new ShimStack());
  stack->options_ = std::move(options);
  if (stack->options_.database_url.empty()) {
    absl::StatusOr<std::unique_ptr<TestDatabase>> database =
        TestDatabase::Create();
    if (!database.ok()) return database.status();
    stack->database_ = *std::move(database);
  }
  stack->service_port_ = UnusedTcpPort();
  stack->shim_port_ = UnusedTcpPort();
  stack->spool_dir_ =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/spool-", stack->shim_port_);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!stack->options_.service_tls_cert_file.empty()) {
    std::ifstream cert(stack->options_.service_tls_cert_file);
    std::stringstream pem;
    pem << cert.rdbuf();
    grpc::SslCredentialsOptions trust;
    trust.pem_root_certs = pem.str();
    credentials = grpc::SslCredentials(trust);
  }
  stack->stub_ = v1::JobQueue::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", stack->service_port_), credentials));
  if (absl::Status started = stack->StartService(); !started.ok()) {
    return started;
  }
  if (absl::Status started = stack->StartShim(); !started.ok()) return started;
  return stack;
}

absl::Status ShimStack::StartService() {
  const std::string listen = absl::StrCat("127.0.0.1:", service_port_);
  std::vector<std::string> args = {"serve", "--database_url=" + database_url(),
                                   "--listen=" + listen};
  if (!options_.service_tls_cert_file.empty()) {
    args.push_back("--tls_cert_file=" + options_.service_tls_cert_file);
    args.push_back("--tls_key_file=" + options_.service_tls_key_file);
  }
  absl::StatusOr<std::unique_ptr<ChildProcess>> service =
      ChildProcess::Start(RunfilePath("service/jobqueue_server"), args,
                          {{"JOBQUEUE_BEARER_TOKEN", kBearerToken}});
  if (!service.ok()) return service.status();
  service_ = *std::move(service);
  if (!service_->WaitForOutput("jobqueue: serving on " + listen,
                               kStartTimeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("jobqueue_server did not start: ", service_->output()));
  }
  return absl::OkStatus();
}

absl::Status ShimStack::StopService() {
  return StopProcess(service_, &earlier_output_);
}

absl::Status ShimStack::StartShim() {
  const std::string listen = absl::StrCat("127.0.0.1:", shim_port_);
  std::vector<std::string> args = {
      "--listen=" + listen,
      absl::StrCat("--backend=127.0.0.1:", service_port_),
      absl::StrCat("--public_base_url=", kPublicBaseUrl),
      "--spool_dir=" + spool_dir_,
      "--replay_max_backoff=1s",
      "--metrics_listen=127.0.0.1:0"};
  args.insert(args.end(), options_.shim_flags.begin(),
              options_.shim_flags.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> shim =
      ChildProcess::Start(RunfilePath("shim/twilio_shim"), args,
                          {{"TWILIO_AUTH_TOKEN", kAuthToken},
                           {"JOBQUEUE_BEARER_TOKEN", kBearerToken}});
  if (!shim.ok()) return shim.status();
  shim_ = *std::move(shim);
  if (!shim_->WaitForOutput("twilio_shim: listening on http://" + listen,
                            kStartTimeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("twilio_shim did not start: ", shim_->output()));
  }
  // Printed before the listening line.
  const std::string metrics =
      TextAfter(shim_->output(), "twilio_shim: metrics on ");
  if (!absl::EndsWith(metrics, "/metrics")) {
    return absl::InternalError(absl::StrCat(
        "twilio_shim printed no metrics address: ", shim_->output()));
  }
  shim_metrics_url_ = metrics.substr(0, metrics.size() - strlen("/metrics"));
  return absl::OkStatus();
}

absl::Status ShimStack::StopShim() {
  return StopProcess(shim_, &earlier_output_);
}

absl::Status ShimStack::KillService() {
  return StopProcess(service_, &earlier_output_, SIGKILL);
}

absl::Status ShimStack::KillShim() {
  return StopProcess(shim_, &earlier_output_, SIGKILL);
}

std::string ShimStack::PublicUrl(absl::string_view target) const {
  return absl::StrCat(kPublicBaseUrl, target);
}

httplib::Result ShimStack::Post(absl::string_view target,
                                const std::string& body,
                                const std::string& signature,
                                const std::string& content_type) {
  httplib::Client client("127.0.0.1", shim_port_);
  client.set_read_timeout(std::chrono::seconds(20));
  httplib::Headers headers;
  if (!signature.empty()) headers.emplace("X-Twilio-Signature", signature);
  return client.Post(std::string(target).c_str(), headers, body,
                     content_type.c_str());
}

httplib::Result ShimStack::Get(absl::string_view target) {
  httplib::Client client("127.0.0.1", shim_port_);
  client.set_read_timeout(std::chrono::seconds(20));
  return client.Get(std::string(target).c_str());
}

httplib::Result ShimStack::GetMetrics() {
  httplib::Client client(shim_metrics_url_);
  client.set_read_timeout(std::chrono::seconds(20));
  return client.Get("/metrics");
}

std::unique_ptr<grpc::ClientContext> ShimStack::CallContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
  context->AddMetadata("authorization", absl::StrCat("Bearer ", kBearerToken));
  return context;
}

absl::StatusOr<std::vector<v1::Job>> ShimStack::ListAllJobs() {
  std::vector<v1::Job> jobs;
  v1::ListJobsRequest request;
  request.set_page_size(1000);
  // Bounded: far more pages than any test creates.
  for (int page = 0; page < 100; ++page) {
    v1::ListJobsResponse response;
    const grpc::Status status =
        stub_->ListJobs(CallContext().get(), request, &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    jobs.insert(jobs.end(), response.jobs().begin(), response.jobs().end());
    if (response.next_page_token().empty()) return jobs;
    request.set_page_token(response.next_page_token());
  }
  return absl::InternalError("ListJobs kept returning pages");
}

std::string ShimStack::Outputs() {
  return absl::StrCat(earlier_output_, "\n--- jobqueue_server:\n",
                      service_ == nullptr ? "(stopped)" : service_->output(),
                      "\n--- twilio_shim:\n",
                      shim_ == nullptr ? "(stopped)" : shim_->output());
}

std::string FormEncode(
    const std::vector<std::pair<std::string, std::string>>& params) {
  const auto encode = [](absl::string_view text) {
    std::string encoded;
    for (const char c : text) {
      if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
          c == '_' || c == '.' || c == '~') {
        encoded.push_back(c);
      } else if (c == ' ') {
        encoded.push_back('+');
      } else {
        absl::StrAppendFormat(&encoded, "%%%02X",
                              static_cast<unsigned char>(c));
      }
    }
    return encoded;
  };
  std::string body;
  for (const auto& [name, value] : params) {
    absl::StrAppend(&body, body.empty() ? "" : "&", encode(name), "=",
                    encode(value));
  }
  return body;
}

}  // namespace jobqueue::shim
