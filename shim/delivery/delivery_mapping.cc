#include "shim/delivery/delivery_mapping.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "shim/delivery/delivery_payload.h"
#include "shim/webhook/phone_number.h"

namespace jobqueue::shim {
namespace {

using ::google::protobuf::Struct;
using ::jobqueue::v1::ContentType;
using ::jobqueue::v1::EnqueueJobRequest;

ContentType ContentTypeOfMime(absl::string_view mime) {
  const std::string lower = absl::AsciiStrToLower(mime);
  if (absl::StartsWith(lower, "image/")) return v1::CONTENT_TYPE_IMAGE;
  if (absl::StartsWith(lower, "audio/")) return v1::CONTENT_TYPE_AUDIO;
  if (absl::StartsWith(lower, "video/")) return v1::CONTENT_TYPE_VIDEO;
  if (absl::StartsWith(lower, "application/")) return v1::CONTENT_TYPE_DOCUMENT;
  return v1::CONTENT_TYPE_OTHER;
}

ContentType MessageContentType(const Struct& payload) {
  if (!PayloadText(payload, "Latitude").empty() &&
      !PayloadText(payload, "Longitude").empty()) {
    return v1::CONTENT_TYPE_LOCATION;
  }
  int media_count = 0;
  if (!absl::SimpleAtoi(PayloadText(payload, "NumMedia"), &media_count) ||
      media_count <= 0) {
    return v1::CONTENT_TYPE_TEXT;
  }
  return ContentTypeOfMime(PayloadText(payload, "MediaContentType0"));
}

// `Media` arrives as a JSON array in a form field, or as an array in a JSON
// body. Media that cannot be read still counts as media: other.
ContentType ConversationContentType(const Struct& payload) {
  const auto it = payload.fields().find("Media");
  if (it == payload.fields().end()) return v1::CONTENT_TYPE_TEXT;
  google::protobuf::ListValue media;
  if (it->second.has_list_value()) {
    media = it->second.list_value();
  } else if (it->second.string_value().empty() ||
             !google::protobuf::util::JsonStringToMessage(
                  it->second.string_value(), &media)
                  .ok()) {
    return it->second.string_value().empty() ? v1::CONTENT_TYPE_TEXT
                                             : v1::CONTENT_TYPE_OTHER;
  }
  if (media.values_size() == 0) return v1::CONTENT_TYPE_TEXT;
  const google::protobuf::Value& first = media.values(0);
  return first.has_struct_value() ? ContentTypeOfMime(PayloadText(
                                        first.struct_value(), "ContentType"))
                                  : v1::CONTENT_TYPE_OTHER;
}

absl::Status Missing(absl::string_view field) {
  return absl::InvalidArgumentError(
      absl::StrCat("the delivery has no ", field));
}

}  // namespace

absl::StatusOr<EnqueueJobRequest> MapMessageDelivery(const Struct& payload) {
  const std::string from = PayloadText(payload, "From");
  if (from.empty()) return Missing("From (no sender)");
  absl::StatusOr<std::string> phone = AddressToE164(from);
  if (!phone.ok()) return phone.status();
  std::string message_sid = PayloadText(payload, "MessageSid");
  if (message_sid.empty()) message_sid = PayloadText(payload, "SmsMessageSid");
  if (message_sid.empty()) return Missing("MessageSid");

  EnqueueJobRequest request;
  request.set_user_phone(*std::move(phone));
  request.set_user_first_name(PayloadText(payload, "ProfileName"));
  request.set_source_channel_id(from);
  request.set_source_type(v1::SOURCE_TYPE_DM);
  *request.mutable_payload() = payload;
  request.set_content_type(MessageContentType(payload));
  request.set_idempotency_key(std::move(message_sid));
  return request;
}

absl::StatusOr<EnqueueJobRequest> MapConversationDelivery(
    const Struct& payload) {
  const std::string event_type = PayloadText(payload, "EventType");
  if (!event_type.empty() && event_type != "onMessageAdded") {
    return absl::InvalidArgumentError(
        absl::StrCat("EventType \"", event_type, "\" is not onMessageAdded"));
  }
  const std::string conversation_sid = PayloadText(payload, "ConversationSid");
  if (conversation_sid.empty()) return Missing("ConversationSid");
  const std::string author = PayloadText(payload, "Author");
  if (author.empty()) return Missing("Author (no sender)");
  absl::StatusOr<std::string> phone = AddressToE164(author);
  if (!phone.ok()) return phone.status();
  const std::string message_sid = PayloadText(payload, "MessageSid");
  if (message_sid.empty()) return Missing("MessageSid");

  EnqueueJobRequest request;
  request.set_user_phone(*std::move(phone));
  request.set_source_channel_id(conversation_sid);
  request.set_source_type(v1::SOURCE_TYPE_GROUP);
  *request.mutable_payload() = payload;
  request.set_content_type(ConversationContentType(payload));
  request.set_idempotency_key(message_sid);
  return request;
}

}  // namespace jobqueue::shim
