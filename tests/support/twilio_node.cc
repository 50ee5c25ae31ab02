#include "tests/support/twilio_node.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/support/child_process.h"

namespace jobqueue::shim {
namespace {

using ::google::protobuf::ListValue;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;

absl::StatusOr<std::string> FindNode() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path == nullptr ? "" : path, ':')) {
    const std::string candidate = absl::StrCat(dir, "/node");
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::FailedPreconditionError(
      "node is not on $PATH (tools/test passes --test_env=PATH)");
}

// The request as twilio_signatures.js reads it: repeated names as arrays.
Value ToJson(const TwilioNodeRequest& request) {
  Value value;
  auto& fields = *value.mutable_struct_value()->mutable_fields();
  fields["url"].set_string_value(request.url);
  if (request.json_body.has_value()) {
    fields["body"].set_string_value(*request.json_body);
  } else {
    std::map<std::string, std::vector<std::string>> grouped;
    for (const auto& [name, param] : request.params) {
      grouped[name].push_back(param);
    }
    auto& params = *fields["params"].mutable_struct_value()->mutable_fields();
    for (const auto& [name, values] : grouped) {
      if (values.size() == 1) {
        params[name].set_string_value(values[0]);
        continue;
      }
      for (const std::string& one : values) {
        params[name].mutable_list_value()->add_values()->set_string_value(one);
      }
    }
  }
  if (request.signature.has_value()) {
    fields["signature"].set_string_value(*request.signature);
  }
  return value;
}

}  // namespace

absl::StatusOr<std::vector<TwilioNodeResult>> RunTwilioNode(
    absl::string_view auth_token,
    const std::vector<TwilioNodeRequest>& requests) {
  if (std::getenv("NODE_PATH") == nullptr) {
    return absl::FailedPreconditionError(
        "NODE_PATH is not set; run with "
        "--test_env=NODE_PATH=<repo>/tools/npm/node_modules (tools/test does)");
  }
  absl::StatusOr<std::string> node = FindNode();
  if (!node.ok()) return node.status();

  ListValue input;
  for (const TwilioNodeRequest& request : requests) {
    *input.add_values() = ToJson(request);
  }
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(input, &json).ok()) {
    return absl::InternalError("cannot write the requests as JSON");
  }
  static int calls = 0;
  const std::string file =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/twilio_node_", getpid(), "_",
                   ++calls, ".json");
  std::ofstream(file) << json;

  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Start(*node, {RunfilePath("tools/npm/twilio_signatures.js"),
                                  std::string(auth_token), file});
  if (!process.ok()) return process.status();
  absl::StatusOr<int> exit_code = (*process)->Wait(absl::Seconds(60));
  if (!exit_code.ok() || *exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("twilio_signatures.js failed: ", (*process)->output()));
  }
  const std::string output = (*process)->output();
  const size_t start = output.find("[{");
  ListValue parsed;
  if (start == std::string::npos ||
      !google::protobuf::util::JsonStringToMessage(output.substr(start),
                                                   &parsed)
           .ok() ||
      parsed.values_size() != static_cast<int>(requests.size())) {
    return absl::InternalError(
        absl::StrCat("unexpected output of twilio_signatures.js: ", output));
  }
  std::vector<TwilioNodeResult> results;
  for (const Value& value : parsed.values()) {
    const auto& fields = value.struct_value().fields();
    TwilioNodeResult result;
    result.url = fields.at("url").string_value();
    result.signature = fields.at("signature").string_value();
    if (fields.at("valid").has_bool_value()) {
      result.valid = fields.at("valid").bool_value();
    }
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace jobqueue::shim
