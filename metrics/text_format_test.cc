#include "metrics/text_format.h"

#include <limits>

#include "gtest/gtest.h"

namespace jobqueue::metrics {
namespace {

TEST(TextFormatTest, EscapesBackslashQuoteAndNewlineInLabelValues) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
}

TEST(TextFormatTest, HelpKeepsQuotesButEscapesBackslashAndNewline) {
  EXPECT_EQ(EscapeHelp("say \"hi\"\\\nnow"), "say \"hi\"\\\\\\nnow");
}

TEST(TextFormatTest, FormatsValuesExactlyAndNamesInfinities) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(0.0005), "0.0005");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(1234567.25), "1234567.25");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(TextFormatTest, WritesSamplesAndHeaders) {
  std::string out;
  AppendHeader("jobs", "Jobs\nby status.", "gauge", &out);
  AppendSample("jobs", LabelPairs({"status", "queue"}, {"pending", "a\"b"}),
               "3", &out);
  AppendSample("up", "", "1", &out);
  EXPECT_EQ(out,
            "# HELP jobs Jobs\\nby status.\n"
            "# TYPE jobs gauge\n"
            "jobs{status=\"pending\",queue=\"a\\\"b\"} 3\n"
            "up 1\n");
}

}  // namespace
}  // namespace jobqueue::metrics
