#include "service/twilio/delivery_payload.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/twilio/struct_matchers.h"

namespace jobqueue::twilio {
namespace {

TEST(FormToPayloadTest, KeepsEveryParameter) {
  google::protobuf::Struct payload = FormToPayload(
      {{"Body", "hi"}, {"NumMedia", "0"}, {"ProfileName", ""}, {"Brand", "x"}});
  EXPECT_THAT(
      payload,
      EqualsJson(
          R"({"Body":"hi","Brand":"x","NumMedia":"0","ProfileName":""})"));
}

TEST(FormToPayloadTest, RepeatedNamesBecomeAnArrayInOrder) {
  google::protobuf::Struct payload =
      FormToPayload({{"Tag", "b"}, {"Body", "hi"}, {"Tag", "a"}, {"Tag", "b"}});
  EXPECT_THAT(payload, EqualsJson(R"({"Body":"hi","Tag":["b","a","b"]})"));
}

TEST(JsonToPayloadTest, KeepsAJsonObject) {
  absl::StatusOr<google::protobuf::Struct> payload =
      JsonToPayload(R"({"Body":"hi","Index":3,"Media":[{"Sid":"ME1"}]})");
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_THAT(*payload,
              EqualsJson(R"({"Body":"hi","Index":3,"Media":[{"Sid":"ME1"}]})"));
}

TEST(JsonToPayloadTest, RejectsAnythingButAnObject) {
  for (const char* body : {"", "[1,2]", "\"text\"", "{\"a\":", "Body=hi"}) {
    EXPECT_EQ(JsonToPayload(body).status().code(),
              absl::StatusCode::kInvalidArgument)
        << body;
  }
}

TEST(PayloadTextTest, ReadsEachKindOfValue) {
  absl::StatusOr<google::protobuf::Struct> payload = JsonToPayload(
      R"({"s":"x","i":12345678901,"f":1.5,"b":true,"l":["first","second"],
          "n":null,"o":{"k":"v"},"e":[]})");
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(PayloadText(*payload, "s"), "x");
  EXPECT_EQ(PayloadText(*payload, "i"), "12345678901");
  EXPECT_EQ(PayloadText(*payload, "f"), "1.5");
  EXPECT_EQ(PayloadText(*payload, "b"), "true");
  EXPECT_EQ(PayloadText(*payload, "l"), "first");
  EXPECT_EQ(PayloadText(*payload, "n"), "");
  EXPECT_EQ(PayloadText(*payload, "o"), "");
  EXPECT_EQ(PayloadText(*payload, "e"), "");
  EXPECT_EQ(PayloadText(*payload, "missing"), "");
}

}  // namespace
}  // namespace jobqueue::twilio
