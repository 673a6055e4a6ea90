#include "discovery/view_changes.hpp"

#include <gtest/gtest.h>

namespace orquestra::discovery {
namespace {

using registry::ActionType;
using registry::InstanceInfo;
using registry::InstanceStatus;
using registry::RegistryEvent;

InstanceInfo instance(const std::string& id, InstanceStatus status, Millis updated = 1000) {
    InstanceInfo i;
    i.instance_id = id;
    i.app = "ORDERS";
    i.status = status;
    i.last_updated_timestamp = updated;
    return i;
}

RegistryView view_of(std::initializer_list<InstanceInfo> instances) {
    RegistryView v;
    for (const auto& i : instances) v["ORDERS"][i.instance_id] = i;
    return v;
}

TEST(ViewChangesTest, DeltaItemAgainstTheView) {
    RegistryView view = view_of({instance("o1", InstanceStatus::kUp)});

    auto added = instance("o2", InstanceStatus::kUp, 2000);
    auto c = delta_change(view, "ORDERS", added);
    ASSERT_TRUE(c);
    EXPECT_EQ(events_of(*c), (std::vector{RegistryEvent::kRegistered, RegistryEvent::kUp}));
    EXPECT_EQ(c->time, 2000);
    EXPECT_EQ(c->up_before, 1u);
    EXPECT_EQ(c->up_after, 2u);

    // The delta repeats what the view already shows: nothing.
    EXPECT_FALSE(delta_change(view, "ORDERS", instance("o1", InstanceStatus::kUp)));

    auto down = instance("o1", InstanceStatus::kDown, 3000);
    down.action_type = ActionType::kModified;
    c = delta_change(view, "ORDERS", down);
    ASSERT_TRUE(c);
    EXPECT_EQ(events_of(*c), std::vector{RegistryEvent::kDown});
    EXPECT_EQ(c->up_after, 0u);
}

TEST(ViewChangesTest, DeletedItemIsCancelOrEvictionByItsLease) {
    RegistryView view = view_of({instance("o1", InstanceStatus::kUp)});
    auto gone = instance("o1", InstanceStatus::kUp);
    gone.action_type = ActionType::kDeleted;
    gone.lease.last_renewal_timestamp = 10'000;
    gone.lease.duration_secs = 90;
    gone.lease.eviction_timestamp = 20'000;  // within the lease: cancelled
    auto c = delta_change(view, "ORDERS", gone);
    ASSERT_TRUE(c);
    EXPECT_EQ(events_of(*c), std::vector{RegistryEvent::kCancelled});
    EXPECT_EQ(c->time, 20'000);
    EXPECT_EQ(c->up_after, 0u);

    gone.lease.eviction_timestamp = 101'000;  // after the lease ran out: evicted
    c = delta_change(view, "ORDERS", gone);
    ASSERT_TRUE(c);
    EXPECT_EQ(events_of(*c), std::vector{RegistryEvent::kEvicted});

    // Deleted and already gone from the view: nothing.
    EXPECT_FALSE(delta_change(RegistryView{}, "ORDERS", gone));
}

TEST(ViewChangesTest, TwoFullViews) {
    RegistryView before = view_of({instance("o1", InstanceStatus::kUp),
                                   instance("o2", InstanceStatus::kUp),
                                   instance("o3", InstanceStatus::kStarting)});
    RegistryView after = view_of({instance("o2", InstanceStatus::kOutOfService, 5000),
                                  instance("o3", InstanceStatus::kStarting),
                                  instance("o4", InstanceStatus::kUp, 6000)});
    auto changes = view_changes(before, after, 7000);
    ASSERT_EQ(changes.size(), 3u);
    EXPECT_EQ(changes[0].instance_id, "o1");
    EXPECT_EQ(events_of(changes[0]), std::vector{RegistryEvent::kCancelled});
    EXPECT_EQ(changes[0].time, 7000);
    EXPECT_EQ(changes[0].up_before, 2u);
    EXPECT_EQ(changes[0].up_after, 1u);
    EXPECT_EQ(changes[1].instance_id, "o2");
    EXPECT_EQ(events_of(changes[1]), std::vector{RegistryEvent::kOutOfService});
    EXPECT_EQ(changes[1].up_after, 0u);
    EXPECT_EQ(changes[2].instance_id, "o4");
    EXPECT_EQ(changes[2].time, 6000);
    EXPECT_EQ(changes[2].up_after, 1u);
}

}  // namespace
}  // namespace orquestra::discovery
