#include "shim/webhook/form_parser.h"

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace jobqueue::shim {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
}

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or values
// past U+10FFFF), which protobuf requires of string fields.
bool IsUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t lead = static_cast<uint8_t>(text[i]);
    size_t length;
    uint32_t code_point;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const uint8_t next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kSmallest[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

// Decodes one name or value that starts at `offset` in the body.
absl::StatusOr<std::string> Decode(absl::string_view encoded, size_t offset) {
  std::string decoded;
  decoded.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '+') {
      decoded.push_back(' ');
    } else if (c != '%') {
      decoded.push_back(c);
    } else if (i + 2 < encoded.size() &&
               absl::ascii_isxdigit(
                   static_cast<unsigned char>(encoded[i + 1])) &&
               absl::ascii_isxdigit(
                   static_cast<unsigned char>(encoded[i + 2]))) {
      decoded.push_back(static_cast<char>(HexValue(encoded[i + 1]) * 16 +
                                          HexValue(encoded[i + 2])));
      i += 2;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("form body: '%' at offset ", offset + i,
                       " is not followed by two hex digits"));
    }
  }
  if (!IsUtf8(decoded)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "form body: the text at offset ", offset, " does not decode to UTF-8"));
  }
  return decoded;
}

}  // namespace

absl::StatusOr<FormParams> ParseFormUrlEncoded(absl::string_view body) {
  FormParams params;
  size_t start = 0;
  while (start <= body.size()) {
    size_t end = body.find('&', start);
    if (end == absl::string_view::npos) end = body.size();
    const absl::string_view part = body.substr(start, end - start);
    if (!part.empty()) {
      const size_t equals = part.find('=');
      const absl::string_view name = part.substr(0, equals);
      if (name.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("form body: empty parameter name at offset ", start));
      }
      absl::StatusOr<std::string> decoded_name = Decode(name, start);
      if (!decoded_name.ok()) return decoded_name.status();
      std::string value;
      if (equals != absl::string_view::npos) {
        absl::StatusOr<std::string> decoded_value =
            Decode(part.substr(equals + 1), start + equals + 1);
        if (!decoded_value.ok()) return decoded_value.status();
        value = *std::move(decoded_value);
      }
      params.emplace_back(*std::move(decoded_name), std::move(value));
    }
    start = end + 1;
  }
  return params;
}

}  // namespace jobqueue::shim
