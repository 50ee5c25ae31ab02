#include "service/mapping/struct_json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace jobqueue {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Doubles hold every integer up to 2^53 exactly.
constexpr double kMaxExactInteger = 9007199254740992.0;

// Protobuf parsers stop at 100 levels of nested messages. A payload is one
// level below the message that carries it (Job, DeadLetter), so it may use
// 99: its Struct is level 1, and a JSON object inside one adds 3 (map entry,
// Value, Struct), an array 3 as a field (entry, Value, ListValue) or 2 as
// an element, a number, string, bool or null 2 as a field or 1 as an element.
constexpr int kMaxDepth = 99;
constexpr char kTooDeep[] =
    "nests deeper than the 99 levels of protobuf messages a client can parse "
    "(33 levels of JSON objects)";

int StructDepth(const Struct& value);

// The level of the deepest message in `value`, which sits at level `at`.
int ValueDepth(const Value& value, int at) {
  switch (value.kind_case()) {
    case Value::kStructValue:
      return StructDepth(value.struct_value()) + at;
    case Value::kListValue: {
      int deepest = at + 1;
      for (const Value& item : value.list_value().values()) {
        deepest = std::max(deepest, ValueDepth(item, at + 2));
      }
      return deepest;
    }
    default:
      return at;
  }
}

// Levels of messages in `value`, counting itself as 1.
int StructDepth(const Struct& value) {
  int deepest = 1;
  for (const auto& field : value.fields()) {
    deepest = std::max(deepest, ValueDepth(field.second, 3));
  }
  return deepest;
}

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

// Keys in byte order: protobuf's map iterates in an order that differs between
// two equal maps, and the same Struct must always give the same text.
bool WriteStruct(const Struct& value, JsonWriter& out) {
  std::vector<const google::protobuf::MapPair<std::string, Value>*> fields;
  fields.reserve(value.fields().size());
  for (const auto& field : value.fields()) fields.push_back(&field);
  std::sort(fields.begin(), fields.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  out.StartObject();
  for (const auto* field : fields) {
    out.Key(field->first.data(), field->first.size());
    if (!WriteValue(field->second, out)) return false;
  }
  return out.EndObject();
}

// Builds a Struct from RapidJSON's SAX events. Numbers arrive as their text
// (kParseNumbersAsStringsFlag) and are converted here, correctly rounded:
// RapidJSON 1.1.0's own full-precision conversion (StrtodDiyFp) reads out of
// bounds for a long mantissa with a large negative exponent, e.g.
// 12.4333333333333333333333333333333333356427e-338 (found by
// fuzz/struct_json_fuzzer.cc).
class StructBuilder
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, StructBuilder> {
 public:
  explicit StructBuilder(Struct* root) : root_(root) {}

  bool Null() {
    return Set(
        [](Value* v) { v->set_null_value(google::protobuf::NULL_VALUE); });
  }
  bool Bool(bool b) {
    return Set([b](Value* v) { v->set_bool_value(b); });
  }
  bool RawNumber(const char* text, rapidjson::SizeType length, bool) {
    double d;
    if (!absl::SimpleAtod(absl::string_view(text, length), &d) ||
        !std::isfinite(d)) {
      error_ = absl::StrCat("a number (",
                            absl::string_view(text, std::min(length, 40u)),
                            ") is beyond the range of a double");
      return false;
    }
    return Set([d](Value* v) { v->set_number_value(d); });
  }
  bool String(const char* text, rapidjson::SizeType length, bool) {
    return Set([&](Value* v) { v->set_string_value(text, length); });
  }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    key_.assign(text, length);
    return true;
  }
  bool StartObject() {
    if (open_.empty() && !started_) {
      started_ = true;
      open_.push_back({root_, nullptr, 1});
      return true;
    }
    const int level = NextLevel() + 1;
    Value* v = Next();
    if (v == nullptr || !Fits(level)) return false;
    open_.push_back({v->mutable_struct_value(), nullptr, level});
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    open_.pop_back();
    return true;
  }
  bool StartArray() {
    const int level = NextLevel() + 1;
    Value* v = Next();
    if (v == nullptr || !Fits(level)) return false;  // the top: an object
    open_.push_back({nullptr, v->mutable_list_value(), level});
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    open_.pop_back();
    return true;
  }
  // Anything else is a number: RawNumber covers them all.
  bool Default() { return false; }

  bool started() const { return started_; }
  // Why the builder stopped the parse, or empty.
  const std::string& error() const { return error_; }

 private:
  struct Open {
    Struct* object;
    google::protobuf::ListValue* array;
    int level;  // of this Struct or ListValue message, the root's being 1
  };

  // The level of the Value the next event fills.
  int NextLevel() const {
    if (open_.empty()) return 0;
    return open_.back().level + (open_.back().array != nullptr ? 1 : 2);
  }

  bool Fits(int level) {
    if (level <= kMaxDepth) return true;
    error_ = absl::StrCat("it ", kTooDeep);
    return false;
  }

  // The value the next event fills: the current key's (a repeated key's
  // last value wins) or the current array's next element. Null at the top
  // level, which must be an object.
  template <typename Fill>
  bool Set(Fill fill) {
    const int level = NextLevel();
    Value* v = Next();
    if (v == nullptr || !Fits(level)) return false;
    fill(v);
    return true;
  }

  Value* Next() {
    if (open_.empty()) return nullptr;
    Open& top = open_.back();
    if (top.array != nullptr) return top.array->add_values();
    Value& v = (*top.object->mutable_fields())[key_];
    v.Clear();
    return &v;
  }

  Struct* const root_;
  std::vector<Open> open_;
  std::string key_;
  std::string error_;
  bool started_ = false;
};

}  // namespace

absl::StatusOr<std::string> StructToJson(absl::string_view field,
                                         const Struct& value) {
  const int depth = StructDepth(value);
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " ", kTooDeep, "; it has ", depth, " levels"));
  }
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  if (!WriteStruct(value, writer)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " holds a NaN or infinite number, which JSON cannot"));
  }
  return std::string(buffer.GetString(), buffer.GetSize());
}

absl::Status JsonToStruct(absl::string_view json, Struct* value) {
  value->Clear();
  StructBuilder builder(value);
  rapidjson::Reader reader;
  rapidjson::MemoryStream bytes(json.data(), json.size());
  rapidjson::ParseResult parsed =
      reader.Parse<rapidjson::kParseNumbersAsStringsFlag>(bytes, builder);
  if (!builder.started() &&
      (parsed || parsed.Code() == rapidjson::kParseErrorTermination)) {
    value->Clear();
    return absl::InternalError("stored JSON is not an object");
  }
  if (!parsed) {
    value->Clear();
    std::string why = builder.error();
    if (parsed.Code() == rapidjson::kParseErrorNumberTooBig) {
      // RapidJSON's own range check; the number starts at the offset.
      const size_t end =
          json.find_first_not_of("+-.0123456789eE", parsed.Offset());
      why =
          absl::StrCat("a number (",
                       json.substr(parsed.Offset(),
                                   std::min<size_t>(40, end - parsed.Offset())),
                       ") is beyond the range of a double");
    }
    if (!why.empty()) {
      return absl::InternalError(
          absl::StrCat("stored JSON cannot be given as a Struct: ", why));
    }
    return absl::InternalError(
        absl::StrCat("stored JSON does not parse: ",
                     rapidjson::GetParseError_En(parsed.Code()), " at offset ",
                     parsed.Offset()));
  }
  return absl::OkStatus();
}

}  // namespace jobqueue
