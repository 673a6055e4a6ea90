#include "api/login_throttle.hpp"

#include <gtest/gtest.h>

#include <string>

namespace orquestra::api {
namespace {

TEST(LoginThrottleTest, FreeFailuresThenADelayThatDoublesUpToTheCap) {
    FakeClock clock;
    LoginThrottle throttle(clock, LoginThrottleOptions{});
    for (int i = 0; i < 4; ++i) {
        throttle.failed("ana", "10.0.0.1");
        EXPECT_EQ(throttle.delay_for("ana", "10.0.0.1"), 0) << i;
    }
    Millis expected = 1'000;
    for (int i = 0; i < 8; ++i) {
        throttle.failed("ana", "10.0.0.1");
        EXPECT_EQ(throttle.delay_for("ana", "10.0.0.1"), expected) << i;
        EXPECT_EQ(throttle.delay_for("ana", ""), expected) << i;
        EXPECT_EQ(throttle.delay_for("bruno", "10.0.0.1"), 0)
            << "the address has failures to spare";
        clock.advance(expected);
        EXPECT_EQ(throttle.delay_for("ana", "10.0.0.1"), 0);
        expected = std::min<Millis>(expected * 2, 30'000);
    }
    EXPECT_EQ(expected, 30'000);
}

TEST(LoginThrottleTest, ASuccessClearsTheUserAndTheAddress) {
    FakeClock clock;
    LoginThrottleOptions options;
    options.free_failures_per_address = 3;
    LoginThrottle throttle(clock, options);
    for (int i = 0; i < 5; ++i) throttle.failed("ana", "10.0.0.1");
    EXPECT_GT(throttle.delay_for("carla", "10.0.0.1"), 0);
    EXPECT_EQ(throttle.delay_for("carla", "10.0.0.2"), 0);
    throttle.succeeded("ana", "10.0.0.1");
    EXPECT_EQ(throttle.delay_for("ana", "10.0.0.1"), 0);
    EXPECT_EQ(throttle.size(), 0u);
    throttle.failed("ana", "10.0.0.1");
    EXPECT_EQ(throttle.delay_for("ana", "10.0.0.1"), 0);
}

TEST(LoginThrottleTest, QuietKeysAreForgotten) {
    FakeClock clock;
    LoginThrottle throttle(clock, LoginThrottleOptions{});
    for (int i = 0; i < 7; ++i) throttle.failed("ana", "10.0.0.1");
    clock.advance(15 * 60'000);
    EXPECT_EQ(throttle.delay_for("ana", "10.0.0.1"), 0);
    EXPECT_EQ(throttle.size(), 0u);
    // Counting starts again from zero.
    for (int i = 0; i < 4; ++i) throttle.failed("ana", "10.0.0.1");
    EXPECT_EQ(throttle.delay_for("ana", "10.0.0.1"), 0);
}

TEST(LoginThrottleTest, TablesStayWithinTheirBound) {
    FakeClock clock;
    LoginThrottleOptions options;
    options.max_entries = 100;
    options.free_failures_per_user = 1;
    LoginThrottle throttle(clock, options);
    for (int i = 0; i < 5; ++i) throttle.failed("target", "10.0.0.1");
    ASSERT_EQ(throttle.delay_for("target", ""), 16'000);
    const std::string padding(1000, 'x');
    for (int i = 0; i < 10'000; ++i) {
        clock.advance(1);
        throttle.failed("spray-" + std::to_string(i) + padding,
                        "192.168." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256));
        ASSERT_LE(throttle.size(), 200u);
    }
    // Full of keys that are all still fresh: the longest quiet went first, the newest stay.
    EXPECT_EQ(throttle.delay_for("target", ""), 0);
    EXPECT_EQ(throttle.delay_for("spray-9999" + padding, ""), 1'000);
}

TEST(LoginThrottleTest, LongUsernamesShareTheirFirstBytes) {
    FakeClock clock;
    LoginThrottle throttle(clock, LoginThrottleOptions{});
    const std::string prefix(LoginThrottle::kMaxKeyBytes, 'a');
    for (int i = 0; i < 5; ++i) throttle.failed(prefix + std::to_string(i), "");
    EXPECT_GT(throttle.delay_for(prefix + "anything", ""), 0);
    EXPECT_EQ(throttle.size(), 1u);
}

TEST(LoginThrottleTest, IPv6AddressesCountPerSlash64) {
    EXPECT_EQ(LoginThrottle::address_key("10.1.2.3"), "10.1.2.3");
    EXPECT_EQ(LoginThrottle::address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
    EXPECT_EQ(LoginThrottle::address_key("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
    EXPECT_EQ(LoginThrottle::address_key("::1"), "::/64");
    EXPECT_EQ(LoginThrottle::address_key(""), "");
}

TEST(PasswordCheckGateTest, AdmitsUpToItsCapacity) {
    PasswordCheckGate gate(2, 2);
    EXPECT_TRUE(gate.try_enter("10.0.0.1"));
    EXPECT_TRUE(gate.try_enter("10.0.0.2"));
    EXPECT_FALSE(gate.try_enter("10.0.0.3"));
    EXPECT_FALSE(gate.try_enter(""));
    EXPECT_EQ(gate.in_use(), 2);
    gate.leave("10.0.0.1");
    EXPECT_TRUE(gate.try_enter("10.0.0.3"));
    gate.leave("10.0.0.2");
    gate.leave("10.0.0.3");
    EXPECT_EQ(gate.in_use(), 0);
}

TEST(PasswordCheckGateTest, OneSourceCannotTakeEverySlot) {
    PasswordCheckGate gate(8, 2);
    EXPECT_TRUE(gate.try_enter("10.0.0.1"));
    EXPECT_TRUE(gate.try_enter("10.0.0.1"));
    for (int i = 0; i < 10; ++i) EXPECT_FALSE(gate.try_enter("10.0.0.1")) << i;
    EXPECT_TRUE(gate.try_enter("10.0.0.2"));
    EXPECT_TRUE(gate.try_enter(""));  // unknown sources count only against the capacity
    EXPECT_EQ(gate.in_use(), 4);
    gate.leave("10.0.0.1");
    EXPECT_TRUE(gate.try_enter("10.0.0.1"));
}

}  // namespace
}  // namespace orquestra::api
