// libFuzzer target: google.protobuf.Struct <-> JSON
// (service/mapping/struct_json). Input: one byte choosing the direction, then
// either JSON text (as stored rows are read back) or a serialized Struct (as a
// client's payload arrives). What converts one way must convert back to the
// same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "service/mapping/struct_json.h"

namespace {

using google::protobuf::Struct;
using google::protobuf::util::MessageDifferencer;

// JSON -> Struct -> JSON -> Struct: both Structs equal.
void FromJson(absl::string_view json) {
  Struct first;
  if (!jobqueue::JsonToStruct(json, &first).ok()) return;
  // What parsed is finite and within the nesting limit both ways share.
  absl::StatusOr<std::string> text = jobqueue::StructToJson("payload", first);
  if (!text.ok()) std::abort();
  Struct second;
  if (!jobqueue::JsonToStruct(*text, &second).ok()) std::abort();
  if (!MessageDifferencer::Equals(first, second)) std::abort();
}

// Struct -> JSON -> Struct: equal but for what JSON cannot tell apart.
void FromProto(absl::string_view bytes) {
  Struct first;
  if (!first.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return;
  absl::StatusOr<std::string> text = jobqueue::StructToJson("payload", first);
  if (!text.ok()) return;  // NaN or infinity, refused
  Struct second;
  if (!jobqueue::JsonToStruct(*text, &second).ok()) std::abort();
  absl::StatusOr<std::string> again = jobqueue::StructToJson("payload", second);
  if (!again.ok() || *again != *text) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    FromProto(rest);
  } else {
    FromJson(rest);
  }
  return 0;
}
