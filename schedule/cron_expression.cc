#include "schedule/cron_expression.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace jobqueue {
namespace {

constexpr size_t kMaxTextBytes = 256;

struct FieldSpec {
  const char* name;
  int min;
  int max;
  // Names for min, min + 1, ... (months and days of the week), or none.
  std::vector<const char*> names;
};

const FieldSpec kFields[5] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day-of-month", 1, 31, {}},
    {"month",
     1,
     12,
     {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
      "NOV", "DEC"}},
    // 7 is Sunday too.
    {"day-of-week", 0, 7, {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
};

absl::Status FieldError(const FieldSpec& spec, absl::string_view text,
                        absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("cron field ", spec.name, " \"", text, "\": ", what));
}

// A number or a name of `spec`, within its range.
absl::StatusOr<int> Value(const FieldSpec& spec, absl::string_view field,
                          absl::string_view text) {
  int v = 0;
  if (!absl::SimpleAtoi(text, &v) || text.empty() ||
      !absl::ascii_isdigit(text[0])) {
    const std::string upper = absl::AsciiStrToUpper(text);
    for (size_t i = 0; i < spec.names.size(); ++i) {
      if (upper == spec.names[i]) return spec.min + static_cast<int>(i);
    }
    return FieldError(spec, field,
                      absl::StrCat("\"", text, "\" is not a number",
                                   spec.names.empty() ? "" : " or a name"));
  }
  if (v < spec.min || v > spec.max) {
    return FieldError(
        spec, field,
        absl::StrCat(v, " is out of range ", spec.min, "-", spec.max));
  }
  return v;
}

// The values `field` selects, as bits min..max.
absl::StatusOr<std::vector<bool>> ParseField(const FieldSpec& spec,
                                             absl::string_view field) {
  std::vector<bool> bits(spec.max + 1, false);
  for (absl::string_view item : absl::StrSplit(field, ',')) {
    if (item.empty()) return FieldError(spec, field, "empty list item");
    std::vector<absl::string_view> parts = absl::StrSplit(item, '/');
    if (parts.size() > 2) return FieldError(spec, field, "more than one '/'");
    int step = 1;
    if (parts.size() == 2) {
      if (!absl::SimpleAtoi(parts[1], &step) || parts[1].empty() ||
          !absl::ascii_isdigit(parts[1][0]) || step < 1 ||
          step > spec.max - spec.min + 1) {
        return FieldError(
            spec, field,
            absl::StrCat("step \"", parts[1], "\" is not a number from 1 to ",
                         spec.max - spec.min + 1));
      }
    }
    int low = spec.min, high = spec.max;
    if (parts[0] != "*") {
      std::vector<absl::string_view> range = absl::StrSplit(parts[0], '-');
      if (range.size() > 2) return FieldError(spec, field, "more than one '-'");
      absl::StatusOr<int> a = Value(spec, field, range[0]);
      if (!a.ok()) return a.status();
      low = *a;
      high = parts.size() == 2 ? spec.max : low;
      if (range.size() == 2) {
        absl::StatusOr<int> b = Value(spec, field, range[1]);
        if (!b.ok()) return b.status();
        high = *b;
        if (high < low) {
          return FieldError(
              spec, field,
              absl::StrCat("range ", parts[0], " ends before it starts"));
        }
      }
    }
    for (int v = low; v <= high; v += step) bits[v] = true;
  }
  return bits;
}

int DaysIn(int month) {
  static constexpr int kDays[13] = {0,  31, 29, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
  return kDays[month];
}

absl::string_view Shorthand(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "@hourly") return "0 * * * *";
  if (lower == "@daily" || lower == "@midnight") return "0 0 * * *";
  if (lower == "@weekly") return "0 0 * * 0";
  if (lower == "@monthly") return "0 0 1 * *";
  if (lower == "@yearly" || lower == "@annually") return "0 0 1 1 *";
  return "";
}

}  // namespace

absl::StatusOr<CronExpression> CronExpression::Parse(absl::string_view text) {
  if (text.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cron expression is longer than ", kMaxTextBytes, " bytes"));
  }
  text = absl::StripAsciiWhitespace(text);
  if (!text.empty() && text[0] == '@') {
    absl::string_view expanded = Shorthand(text);
    if (expanded.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cron shorthand \"", text,
          "\" is not one of @hourly, @daily, @weekly, @monthly, @yearly"));
    }
    text = expanded;
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (fields.size() != 5) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cron expression \"", text, "\" has ", fields.size(),
        " fields, not 5 (minute hour day-of-month month day-of-week)"));
  }
  std::vector<bool> bits[5];
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<std::vector<bool>> b = ParseField(kFields[i], fields[i]);
    if (!b.ok()) return b.status();
    bits[i] = *std::move(b);
  }
  CronExpression c;
  for (int v = 0; v < 60; ++v) c.minutes_[v] = bits[0][v];
  for (int v = 0; v < 24; ++v) c.hours_[v] = bits[1][v];
  for (int v = 1; v <= 31; ++v) c.days_[v] = bits[2][v];
  for (int v = 1; v <= 12; ++v) c.months_[v] = bits[3][v];
  for (int v = 0; v <= 7; ++v) {
    if (bits[4][v]) c.weekdays_[v % 7] = true;
  }
  c.days_star_ = fields[2][0] == '*';
  c.weekdays_star_ = fields[4][0] == '*';
  if (!c.days_star_ && c.weekdays_star_) {
    bool some_day = false;
    for (int m = 1; m <= 12 && !some_day; ++m) {
      for (int d = 1; d <= DaysIn(m) && c.months_[m]; ++d) {
        if (c.days_[d]) some_day = true;
      }
    }
    if (!some_day) {
      return absl::InvalidArgumentError(
          absl::StrCat("cron expression \"", text,
                       "\" never matches: no selected month has the selected "
                       "day-of-month"));
    }
  }
  return c;
}

bool CronExpression::DayMatches(absl::CivilDay d) const {
  const bool day = days_[d.day()];
  const bool weekday = weekdays_[(static_cast<int>(absl::GetWeekday(d)) + 1) %
                                 7];  // absl: Monday = 0
  if (days_star_ || weekdays_star_) return day && weekday;
  return day || weekday;
}

bool CronExpression::Matches(absl::CivilMinute m) const {
  return minutes_[m.minute()] && hours_[m.hour()] && months_[m.month()] &&
         DayMatches(absl::CivilDay(m));
}

absl::CivilMinute CronExpression::NextMatch(absl::CivilMinute from) const {
  absl::CivilMinute m = from;
  const absl::civil_year_t last_year = from.year() + 10;
  while (m.year() <= last_year) {
    if (!months_[m.month()]) {
      m = absl::CivilMinute(absl::CivilMonth(m) + 1);
    } else if (!DayMatches(absl::CivilDay(m))) {
      m = absl::CivilMinute(absl::CivilDay(m) + 1);
    } else if (!hours_[m.hour()]) {
      m = absl::CivilMinute(absl::CivilHour(m) + 1);
    } else if (!minutes_[m.minute()]) {
      m += 1;
    } else {
      return m;
    }
  }
  return absl::CivilMinute(10000, 1, 1, 0, 0);
}

}  // namespace jobqueue
