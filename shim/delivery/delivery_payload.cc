#include "shim/delivery/delivery_payload.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"

namespace jobqueue::shim {
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

constexpr absl::string_view kReplacementCharacter = "\xEF\xBF\xBD";

bool ReplaceNulIn(Struct* object);

// Replaces U+0000 in `value` and below; true when it did.
bool ReplaceNulIn(Value* value) {
  switch (value->kind_case()) {
    case Value::kStringValue:
      if (value->string_value().find('\0') == std::string::npos) return false;
      value->set_string_value(WithoutNul(value->string_value()));
      return true;
    case Value::kListValue: {
      bool replaced = false;
      for (Value& element : *value->mutable_list_value()->mutable_values()) {
        replaced = ReplaceNulIn(&element) || replaced;
      }
      return replaced;
    }
    case Value::kStructValue:
      return ReplaceNulIn(value->mutable_struct_value());
    default:
      return false;
  }
}

// `key` with U+0000 replaced, made unique among `fields`.
std::string CleanKey(const std::string& key,
                     const google::protobuf::Map<std::string, Value>& fields) {
  std::string clean = WithoutNul(key);
  while (fields.find(clean) != fields.end()) {
    absl::StrAppend(&clean, kReplacementCharacter);
  }
  return clean;
}

// Replaces U+0000 in the keys and values of `object`; the top-level names
// (as stored) where it did go to `names` when not null.
bool ReplaceNulIn(Struct* object, std::set<std::string>* names) {
  auto& fields = *object->mutable_fields();
  std::vector<std::string> dirty_keys;
  bool replaced = false;
  for (auto& [key, value] : fields) {
    if (key.find('\0') != std::string::npos) {
      dirty_keys.push_back(key);
    } else if (ReplaceNulIn(&value)) {
      replaced = true;
      if (names != nullptr) names->insert(key);
    }
  }
  std::sort(dirty_keys.begin(), dirty_keys.end());
  for (const std::string& key : dirty_keys) {
    Value value = std::move(fields.at(key));
    fields.erase(key);
    ReplaceNulIn(&value);
    const std::string clean = CleanKey(key, fields);
    fields[clean] = std::move(value);
    if (names != nullptr) names->insert(clean);
    replaced = true;
  }
  return replaced;
}

bool ReplaceNulIn(Struct* object) { return ReplaceNulIn(object, nullptr); }

}  // namespace

std::string WithoutNul(absl::string_view text) {
  return absl::StrReplaceAll(
      text, {{absl::string_view("\0", 1), kReplacementCharacter}});
}

bool ReplaceNulCharacters(Struct* payload) {
  std::set<std::string> names;
  if (!ReplaceNulIn(payload, &names)) return false;
  google::protobuf::ListValue* list =
      (*payload->mutable_fields())[kReplacedNulField].mutable_list_value();
  list->clear_values();
  for (const std::string& name : names) {
    list->add_values()->set_string_value(name);
  }
  return true;
}

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
  ReplaceNulCharacters(&payload);
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
  ReplaceNulCharacters(&payload);
  return payload;
}

std::string PayloadText(const Struct& payload, absl::string_view name) {
  const auto it = payload.fields().find(std::string(name));
  return it == payload.fields().end() ? "" : ValueText(it->second);
}

}  // namespace jobqueue::shim
