#include "service/mapping/struct_json.h"

#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace jobqueue {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

Struct AllKinds() {
  Struct s;
  auto& f = *s.mutable_fields();
  f["Body"].set_string_value("héllo \"x\"\n\\ / \x01");
  f["NumMedia"].set_number_value(2);
  f["price"].set_number_value(-0.1);
  f["big"].set_number_value(1e300);
  f["ok"].set_bool_value(true);
  f["none"].set_null_value(google::protobuf::NULL_VALUE);
  auto* list = f["media"].mutable_list_value();
  list->add_values()->set_string_value("a.jpg");
  (*list->add_values()->mutable_struct_value()->mutable_fields())["n"]
      .set_number_value(1);
  f["empty"].mutable_struct_value();
  return s;
}

TEST(StructJsonTest, EveryKindRoundTrips) {
  absl::StatusOr<std::string> json = StructToJson("payload", AllKinds());
  ASSERT_TRUE(json.ok()) << json.status();
  Struct out;
  ASSERT_TRUE(JsonToStruct(*json, &out).ok()) << *json;
  EXPECT_EQ(out.DebugString(), AllKinds().DebugString()) << *json;
}

// Found by fuzz/struct_json_fuzzer.cc: equal Structs gave JSON with their keys
// in different orders (protobuf's map order), so the same payload did not
// always give the same text.
TEST(StructJsonTest, KeysAreWrittenInByteOrder) {
  Struct s;
  std::string expected = "{";
  for (char c = 'a'; c <= 't'; ++c) {
    expected += absl::StrCat(c == 'a' ? "" : ",", "\"", std::string(1, c),
                             "\":", c - 'a');
  }
  expected += "}";
  for (char c = 't'; c >= 'a'; --c) {
    (*s.mutable_fields())[std::string(1, c)].set_number_value(c - 'a');
  }
  absl::StatusOr<std::string> json = StructToJson("payload", s);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, expected);
  Struct back;
  ASSERT_TRUE(JsonToStruct(*json, &back).ok());
  EXPECT_EQ(StructToJson("payload", back).value(), expected);
}

TEST(StructJsonTest, WritesIntegersWithoutAFractionAndEscapes) {
  Struct s;
  (*s.mutable_fields())["n"].set_number_value(2);
  (*s.mutable_fields())["q"].set_string_value("say \"hi\"");
  std::string json = *StructToJson("payload", s);
  // Map order is unspecified; both members must be there as written.
  EXPECT_NE(json.find("\"n\":2"), std::string::npos) << json;
  EXPECT_EQ(json.find("2.0"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("q":"say \"hi\"")"), std::string::npos) << json;
  EXPECT_EQ(*StructToJson("payload", Struct()), "{}");
}

TEST(StructJsonTest, NumbersJsonCannotHoldAreRejectedByField) {
  for (double d : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    Struct s;
    (*s.mutable_fields())["deep"]
        .mutable_list_value()
        ->add_values()
        ->set_number_value(d);
    absl::StatusOr<std::string> json = StructToJson("raw_payload", s);
    EXPECT_EQ(json.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(json.status().message().find("raw_payload"), std::string::npos);
  }
}

// Found by fuzz/struct_json_fuzzer.cc: RapidJSON 1.1.0's full-precision number
// parsing read out of bounds (SEGV under ASan) for a long mantissa with a large
// negative exponent. Such numbers now parse, correctly rounded.
TEST(StructJsonTest, NumbersParseCorrectlyRoundedWhateverTheirDigits) {
  Struct out;
  ASSERT_TRUE(
      JsonToStruct(R"({"n": 12.4333333333333333333333333333333333333333333)"
                   R"(333333333333333356427e-338, "m": 0.1, "k": )"
                   R"(2.2250738585072011e-308, "t": 1e-400})",
                   &out)
          .ok());
  EXPECT_EQ(out.fields().at("n").number_value(), 0.0);
  EXPECT_EQ(out.fields().at("m").number_value(), 0.1);
  EXPECT_EQ(out.fields().at("k").number_value(), 2.2250738585072011e-308);
  EXPECT_EQ(out.fields().at("t").number_value(), 0.0);
  // Too large for a double: refused, as before.
  EXPECT_FALSE(JsonToStruct(R"({"n": 1e400})", &out).ok());
  // A repeated key: the last value, not a merge of both.
  ASSERT_TRUE(JsonToStruct(R"({"a": {"x": 1}, "a": {"y": 2}})", &out).ok());
  EXPECT_EQ(out.fields().at("a").struct_value().fields().size(), 1u);
}

TEST(StructJsonTest, OnlyAJsonObjectParses) {
  Struct out;
  EXPECT_FALSE(JsonToStruct("[1]", &out).ok());
  EXPECT_FALSE(JsonToStruct("{\"a\": ", &out).ok());
  EXPECT_FALSE(JsonToStruct("", &out).ok());
  EXPECT_FALSE(JsonToStruct("1", &out).ok());
  EXPECT_FALSE(JsonToStruct("\"a\"", &out).ok());
  EXPECT_FALSE(JsonToStruct("{} 1", &out).ok());
  // jsonb's own text form, with spaces and exact decimals.
  ASSERT_TRUE(JsonToStruct(R"({"a": 1.5, "b": [true, null]})", &out).ok());
  EXPECT_EQ(out.fields().at("a").number_value(), 1.5);
  EXPECT_TRUE(out.fields().at("b").list_value().values(0).bool_value());
}

// `objects` JSON objects nested in one another, the innermost holding
// `leaf` under "k" (none when empty).
std::string NestedObjects(int objects, const std::string& leaf) {
  std::string json = leaf.empty() ? "{}" : absl::StrCat(R"({"k": )", leaf, "}");
  for (int i = 1; i < objects; ++i) json = absl::StrCat(R"({"k": )", json, "}");
  return json;
}

// A payload sits one message below the Job or DeadLetter that carries it,
// and protobuf parsers stop at 100 levels: 33 levels of objects with a
// number inside is the deepest a client can read; arrays cost less.
TEST(StructJsonTest, NestingIsLimitedToWhatClientsCanParse) {
  Struct out;
  EXPECT_TRUE(JsonToStruct(NestedObjects(33, "1"), &out).ok());
  absl::StatusOr<std::string> back = StructToJson("payload", out);
  EXPECT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(JsonToStruct(NestedObjects(33, "null"), &out).ok());

  absl::Status deep = JsonToStruct(NestedObjects(34, "1"), &out);
  EXPECT_FALSE(deep.ok());
  EXPECT_NE(deep.message().find("99 levels"), absl::string_view::npos) << deep;
  EXPECT_EQ(out.fields_size(), 0);
  EXPECT_FALSE(JsonToStruct(NestedObjects(34, ""), &out).ok());
  EXPECT_FALSE(JsonToStruct(NestedObjects(33, "[]"), &out).ok());
  EXPECT_FALSE(JsonToStruct(NestedObjects(5000, "1"), &out).ok());

  std::string arrays = "1";
  for (int i = 0; i < 48; ++i) arrays = absl::StrCat("[", arrays, "]");
  EXPECT_TRUE(JsonToStruct(absl::StrCat(R"({"k": )", arrays, "}"), &out).ok());
  EXPECT_FALSE(
      JsonToStruct(absl::StrCat(R"({"k": [)", arrays, "]}"), &out).ok());

  // The same limit for a request's Struct, named by its field: 33 Structs
  // with a number in the innermost pass, 34 do not.
  Struct value;
  Struct* inner = &value;
  for (int i = 1; i < 33; ++i) {
    inner = (*inner->mutable_fields())["k"].mutable_struct_value();
  }
  (*inner->mutable_fields())["k"].set_number_value(1);
  EXPECT_TRUE(StructToJson("payload", value).ok());
  (*inner->mutable_fields())["k"].mutable_struct_value();
  absl::StatusOr<std::string> refused = StructToJson("payload", value);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(), "payload nests"))
      << refused.status();
}

TEST(StructJsonTest, ANumberBeyondADoubleIsNamed) {
  Struct out;
  absl::Status s = JsonToStruct(R"({"a": [1, -1e400]})", &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("-1e400"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("double"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace jobqueue
