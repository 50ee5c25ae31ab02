#include "shim/delivery/delivery_limits.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shim/delivery/delivery_payload.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;

// A JSON object `depth` levels deep: {"a":{"a":...{"a":1}...}}.
std::string NestedObjects(int depth) {
  std::string json;
  for (int i = 0; i < depth; ++i) json += "{\"a\":";
  json += "1";
  json += std::string(depth, '}');
  return json;
}

// An object holding arrays, `depth` levels in all: {"a":[[...[1]...]]}.
std::string NestedArrays(int depth) {
  return absl::StrCat("{\"a\":", std::string(depth - 1, '['), "1",
                      std::string(depth - 1, ']'), "}");
}

SpooledDelivery WithPayload(const std::string& json) {
  SpooledDelivery delivery;
  delivery.set_source("twilio.conversations");
  absl::StatusOr<google::protobuf::Struct> payload = JsonToPayload(json);
  EXPECT_TRUE(payload.ok()) << payload.status();
  if (payload.ok())
    *delivery.mutable_enqueue_job()->mutable_payload() = *payload;
  return delivery;
}

TEST(CheckJsonNestingDepthTest, CountsObjectsAndArrays) {
  EXPECT_TRUE(CheckJsonNestingDepth("{}").ok());
  EXPECT_TRUE(CheckJsonNestingDepth(NestedObjects(20)).ok());
  EXPECT_TRUE(CheckJsonNestingDepth(NestedArrays(20)).ok());
  for (const std::string& json :
       {NestedObjects(21), NestedArrays(21), NestedObjects(200)}) {
    const absl::Status status = CheckJsonNestingDepth(json);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("at most 20 levels"));
  }
}

TEST(CheckJsonNestingDepthTest, BracketsInStringsDoNotCount) {
  const std::string brackets(100, '{');
  EXPECT_TRUE(
      CheckJsonNestingDepth(absl::StrCat(R"({"a":")", brackets, R"("})")).ok());
  EXPECT_TRUE(CheckJsonNestingDepth(
                  absl::StrCat(R"({"a":"\"", "b":")", brackets, R"("})"))
                  .ok());
  EXPECT_FALSE(CheckJsonNestingDepth(NestedObjects(10), 9).ok());
  EXPECT_TRUE(CheckJsonNestingDepth(NestedObjects(9), 9).ok());
}

TEST(CheckJsonNestingDepthTest, SiblingsDoNotAddUp) {
  std::string json = "{";
  for (int i = 0; i < 100; ++i) absl::StrAppend(&json, "\"k", i, "\":{},");
  json += "\"last\":[]}";
  EXPECT_TRUE(CheckJsonNestingDepth(json).ok());
}

// Objects and arrays alternating, `depth` levels: {"a":[{"a":[...1...]}]}.
std::string NestedMixed(int depth) {
  std::string json;
  for (int i = 0; i < depth; ++i) json += i % 2 == 0 ? "{\"a\":" : "[";
  json += "1";
  for (int i = depth - 1; i >= 0; --i) json += i % 2 == 0 ? "}" : "]";
  return json;
}

// A payload of objects nested `depth` levels deep, built without JSON (whose
// parser has limits of its own).
SpooledDelivery WithNestedStruct(int depth) {
  SpooledDelivery delivery;
  google::protobuf::Struct* level =
      delivery.mutable_enqueue_job()->mutable_payload();
  for (int i = 1; i < depth; ++i) {
    level = (*level->mutable_fields())["a"].mutable_struct_value();
  }
  (*level->mutable_fields())["a"].set_number_value(1);
  return delivery;
}

TEST(CheckReadsBackTest, EveryDepthTheLimitAcceptsReadsBackWithRoomToSpare) {
  // Each level of objects is 3 levels of messages (Struct, map entry, Value);
  // the limit leaves a third of protobuf's 100 unused.
  constexpr int kHeadroom = 10;
  for (int depth = 1; depth <= kMaxJsonNestingDepth + kHeadroom; ++depth) {
    for (const std::string& json :
         {NestedObjects(depth), NestedArrays(depth), NestedMixed(depth)}) {
      EXPECT_TRUE(CheckReadsBack(WithPayload(json)).ok()) << json;
    }
  }
}

TEST(CheckReadsBackTest, WhatProtobufCannotReadBackIsRefused) {
  EXPECT_TRUE(CheckReadsBack(WithNestedStruct(30)).ok());
  // What a JSON body nested 40 levels, or 50 levels of arrays, becomes: the
  // shim's JSON parser accepts both.
  for (const SpooledDelivery& delivery :
       {WithNestedStruct(40), WithPayload(NestedMixed(40)),
        WithPayload(NestedArrays(50))}) {
    const absl::Status status = CheckReadsBack(delivery);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("does not parse back"));
  }
}

}  // namespace
}  // namespace jobqueue::shim
