#include "registry/instance_change.hpp"

#include "registry/instance_registry.hpp"

#include <gtest/gtest.h>

namespace orquestra::registry {
namespace {

InstanceInfo make_instance(const std::string& app, const std::string& id,
                           InstanceStatus status = InstanceStatus::kUp) {
    InstanceInfo i;
    i.instance_id = id;
    i.host_name = "host-" + id;
    i.app = app;
    i.ip_addr = "10.0.0.1";
    i.status = status;
    i.lease.duration_secs = 90;
    return i;
}

class InstanceChangeTest : public ::testing::Test {
protected:
    void SetUp() override {
        registry_.add_change_listener([this](const InstanceChange& c) { seen_.push_back(c); });
    }
    void add(const std::string& id, InstanceStatus status = InstanceStatus::kUp) {
        ASSERT_TRUE(registry_.register_instance("orders", make_instance("orders", id, status)));
    }
    FakeClock clock_;
    InstanceRegistry registry_{clock_};
    std::vector<InstanceChange> seen_;
};

TEST(RegistryEventTest, NamesRoundTrip) {
    for (auto e : {RegistryEvent::kRegistered, RegistryEvent::kUp, RegistryEvent::kDown,
                   RegistryEvent::kOutOfService, RegistryEvent::kCancelled,
                   RegistryEvent::kEvicted}) {
        EXPECT_EQ(parse_registry_event(to_string(e)), e);
    }
    EXPECT_FALSE(parse_registry_event("UP"));
    EXPECT_FALSE(parse_registry_event("crashed"));
}

TEST(RegistryEventTest, EventsOfAChange) {
    InstanceChange c;
    c.new_status = InstanceStatus::kUp;
    EXPECT_EQ(events_of(c), (std::vector{RegistryEvent::kRegistered, RegistryEvent::kUp}));
    c.new_status = InstanceStatus::kStarting;
    EXPECT_EQ(events_of(c), std::vector{RegistryEvent::kRegistered});
    c.old_status = InstanceStatus::kStarting;
    c.new_status = InstanceStatus::kOutOfService;
    EXPECT_EQ(events_of(c), std::vector{RegistryEvent::kOutOfService});
    c.old_status = InstanceStatus::kUp;
    c.new_status = InstanceStatus::kUp;
    EXPECT_TRUE(events_of(c).empty());
    c.new_status.reset();
    EXPECT_EQ(events_of(c), std::vector{RegistryEvent::kCancelled});
    c.evicted = true;
    EXPECT_EQ(events_of(c), std::vector{RegistryEvent::kEvicted});
}

TEST_F(InstanceChangeTest, RegistrationStatusCancelAreReportedWithUpCounts) {
    add("o1");
    ASSERT_EQ(seen_.size(), 1u);
    EXPECT_EQ(seen_[0].app, "ORDERS");
    EXPECT_EQ(seen_[0].instance_id, "o1");
    EXPECT_FALSE(seen_[0].old_status);
    EXPECT_EQ(seen_[0].new_status, InstanceStatus::kUp);
    EXPECT_EQ(seen_[0].time, clock_.now_ms());
    EXPECT_EQ(seen_[0].up_before, 0u);
    EXPECT_EQ(seen_[0].up_after, 1u);

    add("o2");
    add("o2");  // the same again: nothing changed
    ASSERT_EQ(seen_.size(), 2u);
    EXPECT_EQ(seen_[1].up_after, 2u);

    clock_.advance(5);
    ASSERT_TRUE(registry_.set_status_override("ORDERS", "o1", InstanceStatus::kOutOfService,
                                              std::nullopt));
    ASSERT_EQ(seen_.size(), 3u);
    EXPECT_EQ(seen_[2].old_status, InstanceStatus::kUp);
    EXPECT_EQ(seen_[2].new_status, InstanceStatus::kOutOfService);
    EXPECT_EQ(seen_[2].up_before, 2u);
    EXPECT_EQ(seen_[2].up_after, 1u);
    EXPECT_EQ(seen_[2].time, clock_.now_ms());

    ASSERT_TRUE(registry_.cancel("orders", "o2"));
    ASSERT_EQ(seen_.size(), 4u);
    EXPECT_EQ(seen_[3].instance_id, "o2");
    EXPECT_EQ(seen_[3].old_status, InstanceStatus::kUp);
    EXPECT_FALSE(seen_[3].new_status);
    EXPECT_FALSE(seen_[3].evicted);
    EXPECT_EQ(seen_[3].up_after, 0u);
    EXPECT_EQ(events_of(seen_[3]), std::vector{RegistryEvent::kCancelled});

    // A client reporting DOWN when it registers again.
    add("o1", InstanceStatus::kDown);
    ASSERT_EQ(seen_.size(), 5u);
    EXPECT_EQ(events_of(seen_[4]), std::vector{RegistryEvent::kDown});
}

TEST_F(InstanceChangeTest, EvictionIsReportedAsEvicted) {
    add("o1");
    add("o2");
    seen_.clear();
    clock_.advance(60'000);
    ASSERT_TRUE(registry_.renew("ORDERS", "o2", {}));
    clock_.advance(31'000);  // o1's lease ran out 1 s ago
    EXPECT_EQ(registry_.evict_expired(), 1u);
    ASSERT_EQ(seen_.size(), 1u);
    EXPECT_EQ(seen_[0].instance_id, "o1");
    EXPECT_TRUE(seen_[0].evicted);
    EXPECT_EQ(seen_[0].up_before, 2u);
    EXPECT_EQ(seen_[0].up_after, 1u);
    EXPECT_EQ(events_of(seen_[0]), std::vector{RegistryEvent::kEvicted});
}

TEST_F(InstanceChangeTest, HealthChecksMarkDownAndUp) {
    add("o1");
    seen_.clear();
    ASSERT_TRUE(registry_.record_health("ORDERS", "o1", false, 1, 1));
    ASSERT_EQ(seen_.size(), 1u);
    EXPECT_EQ(events_of(seen_[0]), std::vector{RegistryEvent::kDown});
    EXPECT_EQ(seen_[0].up_after, 0u);
    ASSERT_TRUE(registry_.record_health("ORDERS", "o1", true, 1, 1));
    ASSERT_EQ(seen_.size(), 2u);
    EXPECT_EQ(events_of(seen_[1]), std::vector{RegistryEvent::kUp});
    EXPECT_EQ(seen_[1].up_after, 1u);
}

TEST_F(InstanceChangeTest, RenewalsAndMetadataAreNotChanges) {
    add("o1");
    seen_.clear();
    ASSERT_TRUE(registry_.renew("ORDERS", "o1", {}));
    ASSERT_TRUE(registry_.update_metadata("ORDERS", "o1", {{"k", "v"}}));
    EXPECT_TRUE(seen_.empty());
}

}  // namespace
}  // namespace orquestra::registry
