#include "shim/delivery/delivery_payload.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shim/struct_matchers.h"

namespace jobqueue::shim {
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

TEST(FormToPayloadTest, ReplacesNulAndSaysWhere) {
  const std::string nul_abc("\0abc", 4);
  google::protobuf::Struct payload =
      FormToPayload({{"Body", nul_abc},
                     {"From", "+14155550123"},
                     {"Tag", "x"},
                     {"Tag", std::string(1, '\0')}});
  EXPECT_THAT(payload,
              EqualsJson(R"({"Body":"\ufffdabc","From":"+14155550123",)"
                         R"("Tag":["x","\ufffd"],)"
                         R"("_jobqueue_replaced_nul":["Body","Tag"]})"));
}

TEST(FormToPayloadTest, WithoutNulNoFieldIsAdded) {
  EXPECT_THAT(FormToPayload({{"Body", "hi"}}), EqualsJson(R"({"Body":"hi"})"));
}

TEST(FormToPayloadTest, ReplacesNulInNamesKeepingThemApart) {
  google::protobuf::Struct payload =
      FormToPayload({{std::string("A\0", 2), "1"}, {"A\xEF\xBF\xBD", "2"}});
  EXPECT_THAT(payload,
              EqualsJson(R"({"A\ufffd":"2","A\ufffd\ufffd":"1",)"
                         R"("_jobqueue_replaced_nul":["A\ufffd\ufffd"]})"));
}

TEST(JsonToPayloadTest, ReplacesNulAtAnyDepth) {
  absl::StatusOr<google::protobuf::Struct> payload =
      JsonToPayload(R"({"Body":"a\u0000b","Media":[{"Filename":"\u0000.ogg"}],)"
                    R"("Clean":"c","Attributes":{"k\u0000":"v"}})");
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_THAT(
      *payload,
      EqualsJson(R"({"Body":"a\ufffdb","Media":[{"Filename":"\ufffd.ogg"}],)"
                 R"("Clean":"c","Attributes":{"k\ufffd":"v"},)"
                 R"("_jobqueue_replaced_nul":["Attributes","Body","Media"]})"));
}

TEST(ReplaceNulCharactersTest, OverwritesAForgedMarkerOnlyWhenItReplaces) {
  absl::StatusOr<google::protobuf::Struct> payload =
      JsonToPayload(R"({"_jobqueue_replaced_nul":"sent","Body":"b"})");
  ASSERT_TRUE(payload.ok());
  EXPECT_FALSE(ReplaceNulCharacters(&*payload));
  EXPECT_EQ(PayloadText(*payload, kReplacedNulField), "sent");
  (*payload->mutable_fields())["Body"].set_string_value(std::string(1, '\0'));
  EXPECT_TRUE(ReplaceNulCharacters(&*payload));
  EXPECT_THAT(*payload, EqualsJson(R"({"Body":"\ufffd",)"
                                   R"("_jobqueue_replaced_nul":["Body"]})"));
  EXPECT_EQ(WithoutNul(std::string("\0x\0", 3)), "\xEF\xBF\xBDx\xEF\xBF\xBD");
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
}  // namespace jobqueue::shim
