#include "service/struct_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"

namespace jobqueue {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Doubles hold every integer up to 2^53 exactly.
constexpr double kMaxExactInteger = 9007199254740992.0;

// False at a number JSON cannot hold.
bool WriteStruct(const Struct& value, JsonWriter& out);

bool WriteValue(const Value& value, JsonWriter& out) {
  switch (value.kind_case()) {
    case Value::kNumberValue: {
      const double d = value.number_value();
      if (!std::isfinite(d)) return false;
      if (d == std::trunc(d) && std::fabs(d) <= kMaxExactInteger) {
        return out.Int64(static_cast<int64_t>(d));
      }
      return out.Double(d);
    }
    case Value::kStringValue:
      return out.String(value.string_value().data(),
                        value.string_value().size());
    case Value::kBoolValue:
      return out.Bool(value.bool_value());
    case Value::kStructValue:
      return WriteStruct(value.struct_value(), out);
    case Value::kListValue:
      out.StartArray();
      for (const Value& item : value.list_value().values()) {
        if (!WriteValue(item, out)) return false;
      }
      return out.EndArray();
    default:  // null, or no kind set
      return out.Null();
  }
}

bool WriteStruct(const Struct& value, JsonWriter& out) {
  out.StartObject();
  for (const auto& [key, item] : value.fields()) {
    out.Key(key.data(), key.size());
    if (!WriteValue(item, out)) return false;
  }
  return out.EndObject();
}

void ReadValue(const rapidjson::Value& in, Value* out);

void ReadObject(const rapidjson::Value& in, Struct* out) {
  auto& fields = *out->mutable_fields();
  for (const auto& member : in.GetObject()) {
    ReadValue(member.value,
              &fields[std::string(member.name.GetString(),
                                  member.name.GetStringLength())]);
  }
}

void ReadValue(const rapidjson::Value& in, Value* out) {
  if (in.IsObject()) {
    ReadObject(in, out->mutable_struct_value());
  } else if (in.IsArray()) {
    auto* list = out->mutable_list_value();
    for (const auto& item : in.GetArray()) ReadValue(item, list->add_values());
  } else if (in.IsString()) {
    out->set_string_value(in.GetString(), in.GetStringLength());
  } else if (in.IsNumber()) {
    out->set_number_value(in.GetDouble());
  } else if (in.IsBool()) {
    out->set_bool_value(in.GetBool());
  } else {
    out->set_null_value(google::protobuf::NULL_VALUE);
  }
}

}  // namespace

absl::StatusOr<std::string> StructToJson(absl::string_view field,
                                         const Struct& value) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  if (!WriteStruct(value, writer)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " holds a NaN or infinite number, which JSON cannot"));
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

absl::Status JsonToStruct(absl::string_view json, Struct* value) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseFullPrecisionFlag>(json.data(), json.size());
  if (document.HasParseError()) {
    return absl::InternalError(
        absl::StrCat("stored JSON does not parse: ",
                     rapidjson::GetParseError_En(document.GetParseError()),
                     " at offset ", document.GetErrorOffset()));
  }
  if (!document.IsObject()) {
    return absl::InternalError("stored JSON is not an object");
  }
  value->Clear();
  ReadObject(document, value);
  return absl::OkStatus();
}

}  // namespace jobqueue
