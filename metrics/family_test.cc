#include "metrics/family.h"

#include "gtest/gtest.h"
#include "metrics/counter.h"
#include "metrics/histogram.h"

namespace jobqueue::metrics {
namespace {

std::unique_ptr<Counter> NewCounter() { return std::make_unique<Counter>(); }

TEST(FamilyTest, WritesACounterWithEscapedLabelsExactly) {
  Family<Counter> requests("http_requests_total", "Requests \\ served.",
                           {"path", "code"}, NewCounter);
  requests.WithLabels({"/a\"b\\c\nd", "200"}).Increment(2);
  requests.WithLabels({"/", "404"}).Increment();
  std::string out;
  requests.AppendText(&out);
  EXPECT_EQ(out,
            "# HELP http_requests_total Requests \\\\ served.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{path=\"/\",code=\"404\"} 1\n"
            "http_requests_total{path=\"/a\\\"b\\\\c\\nd\",code=\"200\"} 2\n");
}

TEST(FamilyTest, TheSameLabelValuesGiveTheSameMetric) {
  Family<Counter> family("c", "C.", {"a"}, NewCounter);
  std::string value = "x";
  Counter& first = family.WithLabels({value});
  EXPECT_EQ(&first, &family.WithLabels({"x"}));
  EXPECT_NE(&first, &family.WithLabels({"y"}));
}

TEST(FamilyTest, AFamilyWithoutLabelsIsWrittenBeforeItsFirstUse) {
  Family<Histogram> sizes("batch_size", "Rows per batch.", {}, [] {
    return std::make_unique<Histogram>(std::vector<double>{1, 10});
  });
  std::string out;
  sizes.AppendText(&out);
  EXPECT_EQ(out,
            "# HELP batch_size Rows per batch.\n"
            "# TYPE batch_size histogram\n"
            "batch_size_bucket{le=\"1\"} 0\n"
            "batch_size_bucket{le=\"10\"} 0\n"
            "batch_size_bucket{le=\"+Inf\"} 0\n"
            "batch_size_sum 0\n"
            "batch_size_count 0\n");
}

}  // namespace
}  // namespace jobqueue::metrics
