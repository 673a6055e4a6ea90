// InstanceChoice with a FakeClock: zone affinity, round robin, breakers (open, back-off,
// half-open probe, doubling), the retry budget, and its metrics.
#include "discovery/instance_choice.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace orquestra::discovery {
namespace {

using namespace std::chrono_literals;

std::vector<ServiceInstance> three(const std::string& zone_of_c = "") {
    return {{"a", "127.0.0.1", 1, "z1"}, {"b", "127.0.0.1", 2, "z2"}, {"c", "127.0.0.1", 3, zone_of_c}};
}

std::vector<std::string> ids(const InstanceChoice::Plan& plan) {
    std::vector<std::string> out;
    for (const auto& s : plan.order) out.push_back(s.id);
    return out;
}

class InstanceChoiceTest : public ::testing::Test {
protected:
    ChoiceOptions options() {
        ChoiceOptions o;
        o.clock = &clock_;
        return o;
    }
    FakeClock clock_;
};

TEST_F(InstanceChoiceTest, RoundRobinStartsEachRequestAtTheNextInstance) {
    InstanceChoice choice(options());
    EXPECT_EQ(ids(choice.plan("svc", three())), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(ids(choice.plan("SVC", three())), (std::vector<std::string>{"b", "c", "a"}));
    EXPECT_EQ(ids(choice.plan("svc", three())), (std::vector<std::string>{"c", "a", "b"}));
    // A look (no request) does not move it.
    EXPECT_EQ(ids(choice.plan("svc", three(), false)), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(ids(choice.plan("svc", three())), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(InstanceChoiceTest, TheCallersZoneComesFirst) {
    auto o = options();
    o.zone = "z2";
    InstanceChoice choice(o);
    for (int i = 0; i < 4; ++i) {
        auto order = ids(choice.plan("svc", three("z2")));
        ASSERT_EQ(order.size(), 3u);
        EXPECT_TRUE(order[0] == "b" || order[0] == "c") << order[0];
        EXPECT_TRUE(order[1] == "b" || order[1] == "c") << order[1];
        EXPECT_EQ(order[2], "a");
    }
}

TEST_F(InstanceChoiceTest, WhenEveryCircuitIsOpenTheOneThatReopensFirstIsCalledAnyway) {
    InstanceChoice choice(options());
    for (const char* id : {"b", "a", "c"}) {  // opened in this order, 1 ms apart
        ASSERT_TRUE(choice.admit("svc", id));
        choice.record("svc", id, true, 1ms, "HTTP 500");
        clock_.advance(1);
    }
    auto plan = choice.plan("svc", three());
    EXPECT_TRUE(plan.last_resort);
    EXPECT_EQ(ids(plan), (std::vector<std::string>{"b"}));
    EXPECT_EQ(plan.skipped.size(), 2u);
    // Its answer: a failure leaves the back-off as it was, a success closes the circuit.
    choice.record("svc", "b", true, 1ms, "HTTP 500");
    EXPECT_EQ(choice.state("svc", "b"), BreakerState::kOpen);
    choice.record("svc", "b", false, 1ms);
    EXPECT_EQ(choice.state("svc", "b"), BreakerState::kClosed);
    plan = choice.plan("svc", three());
    EXPECT_FALSE(plan.last_resort);
    EXPECT_EQ(ids(plan), (std::vector<std::string>{"b"}));
    // A service with one instance: each request still calls it.
    const std::vector<ServiceInstance> one{{"solo", "127.0.0.1", 9, ""}};
    choice.record("one", "solo", true, 1ms, "HTTP 500");
    plan = choice.plan("one", one);
    EXPECT_TRUE(plan.last_resort);
    EXPECT_EQ(ids(plan), (std::vector<std::string>{"solo"}));
}

TEST_F(InstanceChoiceTest, AFailureOpensTheBreakerUntilItsBackOffEndsThenOneProbePasses) {
    InstanceChoice choice(options());
    ASSERT_TRUE(choice.admit("svc", "a"));
    choice.record("svc", "a", true, 1ms, "refused");
    EXPECT_EQ(choice.state("svc", "a"), BreakerState::kOpen);
    for (int i = 0; i < 10; ++i) {
        auto plan = choice.plan("svc", three());
        EXPECT_EQ(plan.order.size(), 2u);
        ASSERT_EQ(plan.skipped.size(), 1u);
        EXPECT_EQ(plan.skipped[0].instance_id, "a");
        EXPECT_EQ(plan.skipped[0].last_error, "refused");
    }
    clock_.advance(4'999);
    EXPECT_EQ(choice.plan("svc", three()).order.size(), 2u);
    clock_.advance(1);
    EXPECT_EQ(choice.state("svc", "a"), BreakerState::kHalfOpen);
    EXPECT_EQ(choice.plan("svc", three()).order.size(), 3u);
    bool probe = false;
    EXPECT_TRUE(choice.admit("svc", "a", &probe));
    EXPECT_TRUE(probe);
    // Only one probe: the next request skips it while the probe is out.
    EXPECT_FALSE(choice.admit("svc", "a", &probe));
    EXPECT_EQ(choice.plan("svc", three()).order.size(), 2u);
    // The probe fails: open again for twice as long.
    choice.record("svc", "a", true, 1ms, "refused");
    clock_.advance(9'999);
    EXPECT_FALSE(choice.admit("svc", "a"));
    clock_.advance(1);
    EXPECT_TRUE(choice.admit("svc", "a", &probe));
    EXPECT_TRUE(probe);
    choice.record("svc", "a", false, 1ms);
    EXPECT_EQ(choice.state("svc", "a"), BreakerState::kClosed);
    EXPECT_TRUE(choice.admit("svc", "a", &probe));
    EXPECT_FALSE(probe);
    auto health = choice.health("svc");
    ASSERT_TRUE(health);
    ASSERT_EQ(health->instances.size(), 1u);
    EXPECT_EQ(health->instances[0].calls, 3u);
    EXPECT_EQ(health->instances[0].failures, 2u);
    EXPECT_EQ(health->instances[0].opened, 2u);
}

TEST_F(InstanceChoiceTest, TheBackOffDoublesUpToItsCap) {
    auto o = options();
    o.breaker_open = 1'000ms;
    o.breaker_max_open = 3'000ms;
    InstanceChoice choice(o);
    choice.record("svc", "a", true, 1ms, "HTTP 503");
    for (Millis expected : {2'000, 3'000, 3'000}) {
        clock_.advance(3'000);  // past the current back-off
        ASSERT_TRUE(choice.admit("svc", "a"));
        choice.record("svc", "a", true, 1ms, "HTTP 503");
        auto h = choice.health("svc");
        EXPECT_EQ(h->instances[0].back_off.count(), expected);
    }
}

TEST_F(InstanceChoiceTest, AProbeThatNeverReportsIsTakenAgainAfterABackOff) {
    InstanceChoice choice(options());
    choice.record("svc", "a", true, 1ms, "timed out");
    clock_.advance(5'000);
    ASSERT_TRUE(choice.admit("svc", "a"));  // the probe, whose caller goes away
    EXPECT_FALSE(choice.admit("svc", "a"));
    clock_.advance(5'000);
    bool probe = false;
    EXPECT_TRUE(choice.admit("svc", "a", &probe));
    EXPECT_TRUE(probe);
}

TEST_F(InstanceChoiceTest, SeveralFailuresMayBeRequiredToOpen) {
    auto o = options();
    o.breaker_failures = 3;
    InstanceChoice choice(o);
    choice.record("svc", "a", true, 1ms, "x");
    choice.record("svc", "a", true, 1ms, "x");
    EXPECT_EQ(choice.state("svc", "a"), BreakerState::kClosed);
    choice.record("svc", "a", false, 1ms);  // a success in between starts the count again
    choice.record("svc", "a", true, 1ms, "x");
    choice.record("svc", "a", true, 1ms, "x");
    EXPECT_EQ(choice.state("svc", "a"), BreakerState::kClosed);
    choice.record("svc", "a", true, 1ms, "x");
    EXPECT_EQ(choice.state("svc", "a"), BreakerState::kOpen);
}

TEST_F(InstanceChoiceTest, TheRetryBudgetLimitsFailoversAndRefillsWithTime) {
    auto o = options();
    o.retry_burst = 2;
    o.retry_ratio = 0;
    o.retry_min_per_second = 1;
    InstanceChoice choice(o);
    EXPECT_TRUE(choice.take_failover("svc"));
    EXPECT_TRUE(choice.take_failover("svc"));
    EXPECT_FALSE(choice.take_failover("svc"));
    clock_.advance(999);
    EXPECT_FALSE(choice.take_failover("svc"));
    clock_.advance(1);
    EXPECT_TRUE(choice.take_failover("svc"));
    EXPECT_FALSE(choice.take_failover("svc"));
    // Each request adds `retry_ratio` of a token.
    o.retry_ratio = 0.5;
    o.retry_min_per_second = 0;
    InstanceChoice ratio(o);
    EXPECT_TRUE(ratio.take_failover("svc"));
    EXPECT_TRUE(ratio.take_failover("svc"));
    EXPECT_FALSE(ratio.take_failover("svc"));
    ratio.plan("svc", three());
    EXPECT_FALSE(ratio.take_failover("svc"));
    ratio.plan("svc", three());
    EXPECT_TRUE(ratio.take_failover("svc"));
    auto h = ratio.health("svc");
    EXPECT_EQ(h->failovers, 3u);
    EXPECT_EQ(h->failovers_denied, 2u);
}

TEST_F(InstanceChoiceTest, InstancesThatLeftAreForgotten) {
    InstanceChoice choice(options());
    choice.record("svc", "a", true, 1ms, "refused");
    choice.plan("svc", {{"b", "127.0.0.1", 2, ""}});
    EXPECT_TRUE(choice.health("svc")->instances.empty());
    // Back in the registry: a fresh start.
    EXPECT_EQ(choice.plan("svc", three()).order.size(), 3u);
}

TEST_F(InstanceChoiceTest, MetricsShowBreakerStatesWithEscapedLabels) {
    InstanceChoice choice(options());
    const std::string hostile = "x\"y\\z\nw";
    choice.record("svc", hostile, true, 2ms, "refused");
    choice.record("svc", "b", false, 3ms);
    std::string out;
    choice.render_metrics(out);
    EXPECT_NE(out.find("# TYPE orquestra_service_breaker_state gauge\n"), std::string::npos);
    EXPECT_NE(out.find("orquestra_service_breaker_state{service=\"SVC\",instance=\"x\\\"y\\\\z\\nw\","
                       "state=\"open\"} 1\n"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("orquestra_service_breaker_state{service=\"SVC\",instance=\"b\","
                       "state=\"closed\"} 1\n"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("orquestra_service_call_failures_total{service=\"SVC\",instance=\"b\"} 0\n"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("orquestra_service_call_duration_seconds_count{service=\"SVC\",instance=\"b\"} 1\n"),
              std::string::npos)
        << out;
    // No raw line feed inside a sample: every line starts with '#' or a metric name.
    std::size_t start = 0;
    while (start < out.size()) {
        auto end = out.find('\n', start);
        ASSERT_NE(end, std::string::npos);
        EXPECT_TRUE(out.compare(start, 1, "#") == 0 || out.compare(start, 10, "orquestra_") == 0)
            << out.substr(start, end - start);
        start = end + 1;
    }
}

}  // namespace
}  // namespace orquestra::discovery
