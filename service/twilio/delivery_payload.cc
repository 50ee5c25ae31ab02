#include "service/twilio/delivery_payload.h"

#include <cmath>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace jobqueue::twilio {
namespace {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;

std::string ValueText(const Value& value) {
  switch (value.kind_case()) {
    case Value::kStringValue:
      return value.string_value();
    case Value::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case Value::kNumberValue: {
      const double number = value.number_value();
      if (std::trunc(number) == number &&
          std::fabs(number) < 9007199254740992.0) {
        return absl::StrCat(static_cast<int64_t>(number));
      }
      return absl::StrFormat("%.17g", number);
    }
    case Value::kListValue:
      return value.list_value().values_size() == 0
                 ? ""
                 : ValueText(value.list_value().values(0));
    default:
      return "";
  }
}

}  // namespace

Struct FormToPayload(const FormParams& params) {
  Struct payload;
  auto& fields = *payload.mutable_fields();
  for (const auto& [name, value] : params) {
    auto [it, inserted] = fields.try_emplace(name);
    Value& field = it->second;
    if (inserted) {
      field.set_string_value(value);
      continue;
    }
    if (field.has_string_value()) {
      std::string first = field.string_value();
      field.mutable_list_value()->add_values()->set_string_value(
          std::move(first));
    }
    field.mutable_list_value()->add_values()->set_string_value(value);
  }
  return payload;
}

absl::StatusOr<Struct> JsonToPayload(absl::string_view body) {
  Struct payload;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &payload);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JSON body: not a JSON object (", status.message().as_string(), ")"));
  }
  return payload;
}

std::string PayloadText(const Struct& payload, absl::string_view name) {
  const auto it = payload.fields().find(std::string(name));
  return it == payload.fields().end() ? "" : ValueText(it->second);
}

}  // namespace jobqueue::twilio
