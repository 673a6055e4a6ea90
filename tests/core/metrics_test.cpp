// Prometheus text from core/metrics: label escaping, families and their bound, histograms.
#include "core/metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace orquestra {
namespace {

TEST(MetricsTest, LabelValuesAreEscaped) {
    EXPECT_EQ(escape_label_value("plain"), "plain");
    EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    EXPECT_EQ(label_pairs({{"dag_id", "x\"}\n# TYPE evil counter"}, {"state", "failed"}}),
              "dag_id=\"x\\\"}\\n# TYPE evil counter\",state=\"failed\"");
}

TEST(MetricsTest, ACounterFamilyKeepsOneSeriesPerLabelSet) {
    CounterFamily family;
    const auto a = label_pairs({{"dag_id", "a"}});
    const auto b = label_pairs({{"dag_id", "b\""}});
    family.add(a);
    family.add(a, 2);
    family.add(b);
    EXPECT_EQ(family.value(a), 3u);
    EXPECT_EQ(family.value(b), 1u);
    std::string out;
    family.render(out, "orquestra_x_total");
    EXPECT_EQ(out, "orquestra_x_total{dag_id=\"a\"} 3\norquestra_x_total{dag_id=\"b\\\"\"} 1\n");
}

TEST(MetricsTest, LabelSetsPastTheBoundGoToOneOverflowSeries) {
    CounterFamily family(2);
    for (int i = 0; i < 10; ++i) family.add(label_pairs({{"id", std::to_string(i)}}));
    EXPECT_EQ(family.value(label_pairs({{"id", "0"}})), 1u);
    EXPECT_EQ(family.value(label_pairs({{"id", "1"}})), 1u);
    EXPECT_EQ(family.value("overflow=\"true\""), 8u);
}

TEST(MetricsTest, AHistogramCountsCumulativeBuckets) {
    Histogram h({0.1, 1});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    std::string out;
    h.render(out, "orquestra_t_seconds", "kind=\"http\"");
    EXPECT_EQ(out,
              "orquestra_t_seconds_bucket{kind=\"http\",le=\"0.1\"} 1\n"
              "orquestra_t_seconds_bucket{kind=\"http\",le=\"1\"} 2\n"
              "orquestra_t_seconds_bucket{kind=\"http\",le=\"+Inf\"} 3\n"
              "orquestra_t_seconds_sum{kind=\"http\"} 5.55\n"
              "orquestra_t_seconds_count{kind=\"http\"} 3\n");
}

TEST(MetricsTest, FamiliesTakeWritersOnSeveralThreads) {
    HistogramFamily family({1});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&family, t] {
            for (int i = 0; i < 1000; ++i) {
                family.observe(label_pairs({{"kind", t % 2 == 0 ? "http" : "command"}}), 0.5);
            }
        });
    }
    for (auto& t : threads) t.join();
    std::string out;
    family.render(out, "orquestra_d_seconds");
    EXPECT_NE(out.find("orquestra_d_seconds_count{kind=\"http\"} 2000\n"), std::string::npos) << out;
    EXPECT_NE(out.find("orquestra_d_seconds_count{kind=\"command\"} 2000\n"), std::string::npos)
        << out;
}

}  // namespace
}  // namespace orquestra
