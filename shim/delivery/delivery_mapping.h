// Maps a verified Twilio delivery to the EnqueueJob request it becomes.
//
//   absl::StatusOr<jobqueue::v1::EnqueueJobRequest> job =
//       MapMessageDelivery(FormToPayload(params));
//   if (!job.ok()) {
//     // Not a job: record a dead letter with job.status().message().
//   }
#ifndef JOBQUEUE_SHIM_DELIVERY_DELIVERY_MAPPING_H_
#define JOBQUEUE_SHIM_DELIVERY_DELIVERY_MAPPING_H_

#include "absl/status/statusor.h"
#include "google/protobuf/struct.pb.h"
#include "jobqueue/v1/jobqueue.pb.h"

namespace jobqueue::shim {

// A delivery to POST /twilio/messages: an SMS, MMS or WhatsApp message.
//  - user_phone: `From` without its channel prefix, in E.164;
//    user_first_name: `ProfileName` (empty leaves a known name unchanged).
//  - source_type dm, source_channel_id `From` as sent ("whatsapp:+1..."), so
//    one person's SMS and WhatsApp threads stay apart.
//  - content_type: location when `Latitude` and `Longitude` are set, else the
//    major type of `MediaContentType0` when `NumMedia` > 0 (image, audio,
//    video; application/* is document; anything else other), else text.
//  - idempotency_key: `MessageSid` (or the legacy `SmsMessageSid`).
//  - payload: `payload`, whole.
// INVALID_ARGUMENT, with a reason fit for a dead letter, when `From` or the
// message id is missing or `From` holds no E.164 number.
absl::StatusOr<v1::EnqueueJobRequest> MapMessageDelivery(
    const google::protobuf::Struct& payload);

// A Twilio Conversations onMessageAdded event, to POST /twilio/conversations.
//  - user_phone: `Author` without its channel prefix, in E.164.
//  - source_type group, source_channel_id `ConversationSid`.
//  - content_type: from the ContentType of the first element of `Media` (a
//    JSON array), by the rules above; text without media.
//  - idempotency_key: `MessageSid` (IM...). payload: `payload`, whole.
// INVALID_ARGUMENT, with a reason, when `EventType` is set to anything but
// onMessageAdded, or `ConversationSid`, `MessageSid` or `Author` is missing,
// or `Author` holds no E.164 number (a chat identity, say).
absl::StatusOr<v1::EnqueueJobRequest> MapConversationDelivery(
    const google::protobuf::Struct& payload);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_DELIVERY_DELIVERY_MAPPING_H_
