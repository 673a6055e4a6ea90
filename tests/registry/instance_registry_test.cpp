#include "registry/instance_registry.hpp"

#include "core/strings.hpp"

#include <gtest/gtest.h>

namespace orquestra::registry {
namespace {

InstanceInfo make_instance(const std::string& app, const std::string& id,
                           int duration_secs = 90) {
    InstanceInfo i;
    i.instance_id = id;
    i.host_name = "host-" + id;
    i.app = app;
    i.ip_addr = "10.0.0.1";
    i.vip_address = to_lower(app);
    i.lease.duration_secs = duration_secs;
    return i;
}

class InstanceRegistryTest : public ::testing::Test {
protected:
    void add(const std::string& app, const std::string& id, int duration = 90) {
        ASSERT_TRUE(registry_.register_instance(app, make_instance(app, id, duration)));
    }
    FakeClock clock_;
    InstanceRegistry registry_{clock_};
};

TEST_F(InstanceRegistryTest, RegisterMakesInstanceVisibleUpperCase) {
    add("orders", "o1");
    auto app = registry_.application("ORDERS");
    ASSERT_TRUE(app.has_value());
    EXPECT_EQ(app->name, "ORDERS");
    ASSERT_EQ(app->instances.size(), 1u);
    EXPECT_EQ(app->instances[0].app, "ORDERS");
    EXPECT_EQ(app->instances[0].lease.registration_timestamp, clock_.now_ms());
    EXPECT_TRUE(registry_.application("Orders").has_value());
}

TEST_F(InstanceRegistryTest, RegisterValidatesRequiredFields) {
    auto i = make_instance("ORDERS", "o1");
    i.host_name.clear();
    auto r = registry_.register_instance("ORDERS", i);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "Missing hostname");

    i = make_instance("ORDERS", "o1");
    i.ip_addr.clear();
    r = registry_.register_instance("ORDERS", i);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "Missing ip address");

    i = make_instance("ORDERS", "o1");
    i.data_center_class.clear();
    i.data_center_name.clear();
    r = registry_.register_instance("ORDERS", i);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "Missing dataCenterInfo");

    i = make_instance("ORDERS", "o1");
    i.data_center_name.clear();
    r = registry_.register_instance("ORDERS", i);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "Missing dataCenterInfo Name");

    i = make_instance("ORDERS", "o1");
    r = registry_.register_instance("PAYMENTS", i);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "Mismatched appName, expecting PAYMENTS but was ORDERS");
    EXPECT_FALSE(registry_.application("ORDERS").has_value());
}

TEST_F(InstanceRegistryTest, MissingInstanceIdFallsBackToHostName) {
    auto i = make_instance("ORDERS", "");
    i.host_name = "box1";
    ASSERT_TRUE(registry_.register_instance("ORDERS", i));
    EXPECT_TRUE(registry_.instance("ORDERS", "box1").has_value());
}

TEST_F(InstanceRegistryTest, RenewUnknownInstanceIsNotFound) {
    auto r = registry_.renew("ORDERS", "nope", {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(registry_.counters().renewals_not_found.load(), 1u);
}

TEST_F(InstanceRegistryTest, RenewWithNewerClientDataIsNotFound) {
    add("ORDERS", "o1");
    Millis stored = registry_.instance("ORDERS", "o1")->last_dirty_timestamp;
    RenewRequest older;
    older.last_dirty_timestamp = stored - 5;
    EXPECT_TRUE(registry_.renew("ORDERS", "o1", older));
    RenewRequest newer;
    newer.last_dirty_timestamp = stored + 5;
    auto r = registry_.renew("ORDERS", "o1", newer);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_F(InstanceRegistryTest, LeaseExpiresAfterOneDurationNotTwo) {
    add("ORDERS", "o1", 30);
    clock_.advance(29'000);
    EXPECT_EQ(registry_.evict_expired(), 0u);
    ASSERT_TRUE(registry_.renew("ORDERS", "o1", {}));
    clock_.advance(30'000);  // exactly at expiry: still alive
    EXPECT_EQ(registry_.evict_expired(), 0u);
    EXPECT_TRUE(registry_.instance("ORDERS", "o1").has_value());
    clock_.advance(1);
    // Expired leases are invisible to instance reads even before the eviction pass.
    EXPECT_FALSE(registry_.instance("ORDERS", "o1").has_value());
    EXPECT_EQ(registry_.evict_expired(), 1u);
    EXPECT_FALSE(registry_.application("ORDERS").has_value());
    EXPECT_EQ(registry_.counters().evictions.load(), 1u);
}

TEST_F(InstanceRegistryTest, DefaultLeaseIsNinetySeconds) {
    add("ORDERS", "o1", 0);
    clock_.advance(90'000);
    EXPECT_EQ(registry_.evict_expired(), 0u);
    clock_.advance(1);
    EXPECT_EQ(registry_.evict_expired(), 1u);
}

TEST_F(InstanceRegistryTest, RenewalKeepsLeaseAlive) {
    add("ORDERS", "o1", 90);
    for (int i = 0; i < 10; ++i) {
        clock_.advance(30'000);
        ASSERT_TRUE(registry_.renew("ORDERS", "o1", {}));
        EXPECT_EQ(registry_.evict_expired(), 0u);
    }
    EXPECT_TRUE(registry_.instance("ORDERS", "o1").has_value());
}

TEST_F(InstanceRegistryTest, SmallRegistryEvictsEvenWhenMostLeasesExpire) {
    add("A", "a1");
    add("B", "b1");
    clock_.advance(60'000);
    ASSERT_TRUE(registry_.renew("A", "a1", {}));
    clock_.advance(31'000);  // b1 expired; half of the registry is dead
    EXPECT_EQ(registry_.evict_expired(), 1u);
    EXPECT_FALSE(registry_.summary().self_preservation_active);
    EXPECT_FALSE(registry_.application("B").has_value());
}

TEST_F(InstanceRegistryTest, SelfPreservationHoldsMassExpiryInLargeRegistry) {
    for (int i = 0; i < 20; ++i) add("APP", "i" + std::to_string(i));
    clock_.advance(60'000);
    for (int i = 0; i < 15; ++i) ASSERT_TRUE(registry_.renew("APP", "i" + std::to_string(i), {}));
    clock_.advance(31'000);  // 5 of 20 expired: 75% alive < 85%
    EXPECT_EQ(registry_.evict_expired(), 0u);
    auto s = registry_.summary();
    EXPECT_TRUE(s.self_preservation_active);
    EXPECT_EQ(s.expired_held, 5u);
    EXPECT_EQ(registry_.application("APP")->instances.size(), 20u);
    // The hold is bounded: past the maximum the expired leases go anyway.
    for (int step = 0; step < 10; ++step) {
        clock_.advance(30'000);
        for (int i = 0; i < 15; ++i) {
            ASSERT_TRUE(registry_.renew("APP", "i" + std::to_string(i), {}));
        }
        registry_.evict_expired();
    }
    EXPECT_EQ(registry_.application("APP")->instances.size(), 15u);
    EXPECT_FALSE(registry_.summary().self_preservation_active);
}

TEST_F(InstanceRegistryTest, OneDeadInstanceInLargeRegistryIsEvicted) {
    for (int i = 0; i < 20; ++i) add("APP", "i" + std::to_string(i));
    clock_.advance(60'000);
    for (int i = 0; i < 19; ++i) ASSERT_TRUE(registry_.renew("APP", "i" + std::to_string(i), {}));
    clock_.advance(31'000);  // 19 of 20 alive = 95%
    EXPECT_EQ(registry_.evict_expired(), 1u);
    EXPECT_FALSE(registry_.summary().self_preservation_active);
}

TEST_F(InstanceRegistryTest, SelfPreservationCanBeSwitchedOff) {
    for (int i = 0; i < 20; ++i) add("APP", "i" + std::to_string(i));
    registry_.set_self_preservation(false);
    clock_.advance(91'000);
    EXPECT_EQ(registry_.evict_expired(), 20u);
}

TEST_F(InstanceRegistryTest, CancelRemovesAndIsNotFoundTwice) {
    add("ORDERS", "o1");
    EXPECT_TRUE(registry_.cancel("orders", "o1"));
    EXPECT_FALSE(registry_.application("ORDERS").has_value());
    auto r = registry_.cancel("ORDERS", "o1");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_F(InstanceRegistryTest, DeltaRecordsChangesForThreeMinutes) {
    auto before = registry_.delta();
    add("ORDERS", "o1");
    add("ORDERS", "o2");
    ASSERT_TRUE(registry_.cancel("ORDERS", "o2"));
    auto d = registry_.delta();
    EXPECT_NE(d.versions_delta, before.versions_delta);
    ASSERT_EQ(d.applications.size(), 1u);
    // o2's ADDED is superseded by its DELETED: the latest change of each instance is kept.
    ASSERT_EQ(d.applications[0].instances.size(), 2u);
    EXPECT_EQ(d.applications[0].instances[0].instance_id, "o1");
    EXPECT_EQ(d.applications[0].instances[0].action_type, ActionType::kAdded);
    EXPECT_EQ(d.applications[0].instances[1].instance_id, "o2");
    EXPECT_EQ(d.applications[0].instances[1].action_type, ActionType::kDeleted);
    EXPECT_EQ(d.apps_hashcode, "UP_1_");  // the whole registry's hash, not the delta's

    // Unchanged content keeps its version; renewals are not changes.
    ASSERT_TRUE(registry_.renew("ORDERS", "o1", {}));
    EXPECT_EQ(registry_.delta().versions_delta, d.versions_delta);

    clock_.advance(180'000);
    ASSERT_TRUE(registry_.renew("ORDERS", "o1", {}));
    registry_.evict_expired();
    EXPECT_EQ(registry_.delta().applications.size(), 1u);  // exactly 3 min: kept
    clock_.advance(1);
    registry_.evict_expired();
    auto later = registry_.delta();
    EXPECT_TRUE(later.applications.empty());
    EXPECT_NE(later.versions_delta, d.versions_delta);
}

TEST_F(InstanceRegistryTest, DeltaKeepsOnlyTheLatestChangePerInstance) {
    for (int i = 0; i < 100; ++i) add("ORDERS", "o1");
    ASSERT_TRUE(registry_.set_status_override("ORDERS", "o1", InstanceStatus::kDown, {}));
    auto d = registry_.delta();
    ASSERT_EQ(d.applications.size(), 1u);
    ASSERT_EQ(d.applications[0].instances.size(), 1u);
    EXPECT_EQ(d.applications[0].instances[0].action_type, ActionType::kModified);
    EXPECT_EQ(d.applications[0].instances[0].status, InstanceStatus::kDown);
}

TEST_F(InstanceRegistryTest, GenerationChangesOnEveryChangeButNotOnRenewal) {
    auto g0 = registry_.generation();
    add("ORDERS", "o1");
    auto g1 = registry_.generation();
    EXPECT_NE(g0, g1);
    ASSERT_TRUE(registry_.renew("ORDERS", "o1", {}));
    EXPECT_EQ(registry_.generation(), g1);
    ASSERT_TRUE(registry_.set_status_override("ORDERS", "o1", InstanceStatus::kOutOfService, {}));
    EXPECT_NE(registry_.generation(), g1);
}

TEST_F(InstanceRegistryTest, StatusOverrideWinsOverClientUpUntilRemoved) {
    add("ORDERS", "o1");
    ASSERT_TRUE(registry_.set_status_override("ORDERS", "o1", InstanceStatus::kOutOfService, {}));
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->status, InstanceStatus::kOutOfService);
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->overridden_status,
              InstanceStatus::kOutOfService);
    // The client registers again claiming UP: the override still wins.
    add("ORDERS", "o1");
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->status, InstanceStatus::kOutOfService);
    EXPECT_EQ(registry_.count_up("ORDERS"), 0u);
    // A client reporting DOWN always wins over an override.
    auto down = make_instance("ORDERS", "o1");
    down.status = InstanceStatus::kDown;
    ASSERT_TRUE(registry_.register_instance("ORDERS", down));
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->status, InstanceStatus::kDown);

    add("ORDERS", "o1");
    ASSERT_TRUE(registry_.remove_status_override("ORDERS", "o1", InstanceStatus::kUp, {}));
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->status, InstanceStatus::kUp);
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->overridden_status, InstanceStatus::kUnknown);
}

TEST_F(InstanceRegistryTest, RemovingOverrideWithoutFallbackForcesReRegistration) {
    add("ORDERS", "o1");
    ASSERT_TRUE(registry_.set_status_override("ORDERS", "o1", InstanceStatus::kOutOfService, {}));
    ASSERT_TRUE(registry_.remove_status_override("ORDERS", "o1", std::nullopt, {}));
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->status, InstanceStatus::kUnknown);
    auto r = registry_.renew("ORDERS", "o1", {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
    add("ORDERS", "o1");
    EXPECT_TRUE(registry_.renew("ORDERS", "o1", {}));
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->status, InstanceStatus::kUp);
}

TEST_F(InstanceRegistryTest, OverridesOnUnknownInstanceAreNotFound) {
    EXPECT_EQ(registry_.set_status_override("A", "x", InstanceStatus::kDown, {}).error().code,
              ErrorCode::kNotFound);
    EXPECT_EQ(registry_.remove_status_override("A", "x", {}, {}).error().code,
              ErrorCode::kNotFound);
    EXPECT_EQ(registry_.update_metadata("A", "x", {}).error().code, ErrorCode::kNotFound);
}

TEST_F(InstanceRegistryTest, MetadataUpdateMergesKeys) {
    auto i = make_instance("ORDERS", "o1");
    i.set_metadata("zone", "a");
    ASSERT_TRUE(registry_.register_instance("ORDERS", i));
    ASSERT_TRUE(registry_.update_metadata("ORDERS", "o1", {{"zone", "b"}, {"version", "2"}}));
    auto got = registry_.instance("ORDERS", "o1");
    ASSERT_NE(got->find_metadata("zone"), nullptr);
    EXPECT_EQ(*got->find_metadata("zone"), "b");
    EXPECT_EQ(*got->find_metadata("version"), "2");
}

TEST_F(InstanceRegistryTest, DirtierServerCopyIsKeptOnReRegistration) {
    auto fresh = make_instance("ORDERS", "o1");
    fresh.last_dirty_timestamp = 2000;
    fresh.ip_addr = "10.0.0.2";
    ASSERT_TRUE(registry_.register_instance("ORDERS", fresh));
    auto stale = make_instance("ORDERS", "o1");
    stale.last_dirty_timestamp = 1000;
    stale.ip_addr = "10.0.0.9";
    ASSERT_TRUE(registry_.register_instance("ORDERS", stale));
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->ip_addr, "10.0.0.2");
}

TEST_F(InstanceRegistryTest, VipMatchesCommaSeparatedAddresses) {
    auto i = make_instance("ORDERS", "o1");
    i.vip_address = "orders,shop";
    i.secure_vip_address = "orders-secure";
    ASSERT_TRUE(registry_.register_instance("ORDERS", i));
    add("USERS", "u1");
    EXPECT_EQ(registry_.by_vip("shop", false).applications.size(), 1u);
    EXPECT_EQ(registry_.by_vip("sho", false).applications.size(), 0u);
    EXPECT_EQ(registry_.by_vip("orders-secure", true).applications.size(), 1u);
    EXPECT_EQ(registry_.by_vip("shop", false).versions_delta, "-1");
}

TEST_F(InstanceRegistryTest, HashcodeCountsStatusesAcrossApps) {
    add("A", "a1");
    add("A", "a2");
    add("B", "b1");
    ASSERT_TRUE(registry_.set_status_override("B", "b1", InstanceStatus::kDown, {}));
    EXPECT_EQ(registry_.all_applications().apps_hashcode, "DOWN_1_UP_2_");
}

TEST_F(InstanceRegistryTest, ListenersHearChanges) {
    std::vector<std::string> heard;
    registry_.add_listener([&heard](const std::string& app) { heard.push_back(app); });
    add("orders", "o1");
    ASSERT_TRUE(registry_.cancel("ORDERS", "o1"));
    ASSERT_EQ(heard.size(), 2u);
    EXPECT_EQ(heard[0], "ORDERS");
}

TEST_F(InstanceRegistryTest, UpInstancesExcludeDownAndExpired) {
    add("A", "a1", 30);
    add("A", "a2", 90);
    add("A", "a3", 90);
    ASSERT_TRUE(registry_.set_status_override("A", "a3", InstanceStatus::kOutOfService, {}));
    clock_.advance(31'000);
    auto up = registry_.up_instances("A");
    ASSERT_EQ(up.size(), 1u);
    EXPECT_EQ(up[0].instance_id, "a2");
    EXPECT_EQ(registry_.count_up("a"), 1u);
}

}  // namespace
}  // namespace orquestra::registry
