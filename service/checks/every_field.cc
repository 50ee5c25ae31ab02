#include "service/checks/every_field.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "service/checks/field_rules.h"

namespace jobqueue {
namespace {

using google::protobuf::Duration;
using google::protobuf::FieldDescriptor;
using google::protobuf::ListValue;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::Struct;
using google::protobuf::Timestamp;
using google::protobuf::Value;

constexpr absl::string_view kCannotStore = ", which PostgreSQL cannot store";

// Free text, where a client may choose to drop or replace the character.
bool IsFreeText(absl::string_view field) {
  const size_t dot = field.find_last_of('.');
  const absl::string_view leaf =
      dot == absl::string_view::npos ? field : field.substr(dot + 1);
  return leaf == "first_name" || leaf == "user_first_name" ||
         leaf == "reason" || leaf == "error";
}

absl::Status NulError(absl::string_view what, size_t at,
                      absl::string_view hint) {
  return absl::InvalidArgumentError(absl::StrCat(
      what, " contains U+0000 (at byte ", at, ")", kCannotStore, "; ", hint));
}

// "A (0), B (1), ..." for an error message.
std::string EnumNames(const google::protobuf::EnumDescriptor& type) {
  std::string names;
  for (int i = 0; i < type.value_count(); ++i) {
    absl::StrAppend(&names, i > 0 ? ", " : "", type.value(i)->name(), " (",
                    type.value(i)->number(), ")");
  }
  return names;
}

absl::Status CheckValueText(const std::string& path, const Value& value);

absl::Status CheckStructAt(const std::string& path, const Struct& value) {
  for (const auto& [key, item] : value.fields()) {
    if (size_t at = key.find('\0'); at != std::string::npos) {
      return NulError(
          absl::StrCat("a key of ", path, " (", JsonPathStep(path, key), ")"),
          at,
          "remove it from the key, or replace it (e.g. with "
          "U+FFFD) before sending");
    }
    if (absl::Status s = CheckValueText(JsonPathStep(path, key), item);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckValueText(const std::string& path, const Value& value) {
  switch (value.kind_case()) {
    case Value::kStringValue: {
      const std::string& text = value.string_value();
      if (size_t at = text.find('\0'); at != std::string::npos) {
        return NulError(path, at,
                        "remove it, or replace it (e.g. with U+FFFD) before "
                        "sending");
      }
      return absl::OkStatus();
    }
    case Value::kStructValue:
      return CheckStructAt(path, value.struct_value());
    case Value::kListValue: {
      const ListValue& list = value.list_value();
      for (int i = 0; i < list.values_size(); ++i) {
        if (absl::Status s =
                CheckValueText(absl::StrCat(path, "[", i, "]"), list.values(i));
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status CheckMessage(const std::string& path, const Message& message);

// One value of `field` (element `index` when repeated) of `message`, named
// `name`.
absl::Status CheckOne(const std::string& name, const Message& message,
                      const FieldDescriptor& field, int index) {
  const Reflection& r = *message.GetReflection();
  const bool repeated = field.is_repeated();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      if (field.type() == FieldDescriptor::TYPE_BYTES) return absl::OkStatus();
      std::string scratch;
      const std::string& text =
          repeated
              ? r.GetRepeatedStringReference(message, &field, index, &scratch)
              : r.GetStringReference(message, &field, &scratch);
      return CheckNoNul(name, text);
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = repeated
                             ? r.GetRepeatedEnumValue(message, &field, index)
                             : r.GetEnumValue(message, &field);
      if (field.enum_type()->FindValueByNumber(number) != nullptr) {
        return absl::OkStatus();
      }
      return absl::InvalidArgumentError(
          absl::StrCat(name, " has an unknown value ", number, "; use one of ",
                       EnumNames(*field.enum_type())));
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return CheckMessage(
          name, repeated ? r.GetRepeatedMessage(message, &field, index)
                         : r.GetMessage(message, &field));
    default:
      return absl::OkStatus();
  }
}

absl::Status CheckMessage(const std::string& path, const Message& message) {
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  // The well-known types by their rules; DynamicCastToGenerated is null for
  // a dynamic message of that type, which then reads as any other message.
  if (type == Struct::descriptor()) {
    if (const auto* s =
            google::protobuf::DynamicCastToGenerated<Struct>(&message)) {
      return CheckStructAt(path, *s);
    }
  } else if (type == Timestamp::descriptor()) {
    if (const auto* t =
            google::protobuf::DynamicCastToGenerated<Timestamp>(&message)) {
      return CheckTimestamp(path, *t);
    }
  } else if (type == Duration::descriptor()) {
    if (const auto* d =
            google::protobuf::DynamicCastToGenerated<Duration>(&message)) {
      return CheckDuration(path, *d);
    }
  }
  const Reflection& r = *message.GetReflection();
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor& field = *type->field(i);
    const std::string name =
        path.empty() ? field.name() : absl::StrCat(path, ".", field.name());
    if (field.is_repeated()) {
      for (int j = 0; j < r.FieldSize(message, &field); ++j) {
        if (absl::Status s =
                CheckOne(absl::StrCat(name, "[", j, "]"), message, field, j);
            !s.ok()) {
          return s;
        }
      }
    } else if (field.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
               r.HasField(message, &field)) {
      if (absl::Status s = CheckOne(name, message, field, -1); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEveryField(const Message& request) {
  return CheckMessage("", request);
}

absl::Status CheckNoNul(absl::string_view field, absl::string_view value) {
  const size_t at = value.find('\0');
  if (at == absl::string_view::npos) return absl::OkStatus();
  return NulError(field, at,
                  IsFreeText(field)
                      ? "remove it, or replace it (e.g. with U+FFFD) before "
                        "sending"
                      : "it is compared byte for byte, so it is stored "
                        "exactly as sent or refused: send it without U+0000");
}

absl::Status CheckStructText(absl::string_view field, const Struct& value) {
  return CheckStructAt(std::string(field), value);
}

std::string JsonPathStep(absl::string_view path, absl::string_view key) {
  bool plain = !key.empty() && !absl::ascii_isdigit(key[0]);
  for (char c : key) {
    if (!absl::ascii_isalnum(c) && c != '_') plain = false;
  }
  if (plain) return absl::StrCat(path, ".", key);
  std::string quoted = "[\"";
  for (char c : key) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      quoted.push_back('\\');
      quoted.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      absl::StrAppend(&quoted, absl::StrFormat("\\u%04x", u));
    } else {
      quoted.push_back(c);
    }
  }
  quoted += "\"]";
  return absl::StrCat(path, quoted);
}

}  // namespace jobqueue
