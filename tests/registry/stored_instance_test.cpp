#include "registry/stored_instance.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace orquestra::registry {
namespace {

InstanceInfo sample(int n) {
    InstanceInfo info;
    info.instance_id = "inst-" + std::to_string(n);
    info.host_name = "host-" + std::to_string(n) + ".example.internal";
    info.app = "ORDERS";
    info.ip_addr = "10.0.0." + std::to_string(n);
    info.status = InstanceStatus::kOutOfService;
    info.overridden_status = InstanceStatus::kOutOfService;
    info.port = {8080 + n, true};
    info.secure_port = {8443, false};
    info.country_id = 7;
    info.lease = {30, 90, 1000 + n, 2000, 0, 3000};
    info.metadata = {{"zone", "zone-" + std::to_string(n % 2)}, {"version", "1.2.3"}};
    info.home_page_url = "http://" + info.host_name + ":8080/";
    info.status_page_url = "http://" + info.host_name + ":8080/info";
    info.health_check_url = "http://" + info.host_name + ":8080/health";
    info.secure_health_check_url = "https://elsewhere.example/health";
    info.vip_address = "orders";
    info.secure_vip_address = "orders-secure";
    info.last_updated_timestamp = 1700000000000 + n;
    info.last_dirty_timestamp = 1690000000000;
    info.action_type = ActionType::kModified;
    return info;
}

void expect_same(const InstanceInfo& a, const InstanceInfo& b) {
    EXPECT_EQ(a.instance_id, b.instance_id);
    EXPECT_EQ(a.host_name, b.host_name);
    EXPECT_EQ(a.app, b.app);
    EXPECT_EQ(a.app_group_name, b.app_group_name);
    EXPECT_EQ(a.ip_addr, b.ip_addr);
    EXPECT_EQ(a.sid, b.sid);
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.overridden_status, b.overridden_status);
    EXPECT_EQ(a.port.port, b.port.port);
    EXPECT_EQ(a.port.enabled, b.port.enabled);
    EXPECT_EQ(a.secure_port.port, b.secure_port.port);
    EXPECT_EQ(a.secure_port.enabled, b.secure_port.enabled);
    EXPECT_EQ(a.country_id, b.country_id);
    EXPECT_EQ(a.data_center_class, b.data_center_class);
    EXPECT_EQ(a.data_center_name, b.data_center_name);
    EXPECT_EQ(a.data_center_metadata, b.data_center_metadata);
    EXPECT_EQ(a.lease.renewal_interval_secs, b.lease.renewal_interval_secs);
    EXPECT_EQ(a.lease.duration_secs, b.lease.duration_secs);
    EXPECT_EQ(a.lease.registration_timestamp, b.lease.registration_timestamp);
    EXPECT_EQ(a.lease.last_renewal_timestamp, b.lease.last_renewal_timestamp);
    EXPECT_EQ(a.lease.eviction_timestamp, b.lease.eviction_timestamp);
    EXPECT_EQ(a.lease.service_up_timestamp, b.lease.service_up_timestamp);
    EXPECT_EQ(a.metadata, b.metadata);
    EXPECT_EQ(a.home_page_url, b.home_page_url);
    EXPECT_EQ(a.status_page_url, b.status_page_url);
    EXPECT_EQ(a.health_check_url, b.health_check_url);
    EXPECT_EQ(a.secure_health_check_url, b.secure_health_check_url);
    EXPECT_EQ(a.vip_address, b.vip_address);
    EXPECT_EQ(a.secure_vip_address, b.secure_vip_address);
    EXPECT_EQ(a.is_coordinating_discovery_server, b.is_coordinating_discovery_server);
    EXPECT_EQ(a.last_updated_timestamp, b.last_updated_timestamp);
    EXPECT_EQ(a.last_dirty_timestamp, b.last_dirty_timestamp);
    EXPECT_EQ(a.action_type, b.action_type);
    EXPECT_EQ(a.asg_name, b.asg_name);
}

TEST(StoredInstanceTest, ExpandsToWhatItWasMadeFrom) {
    InstanceInfo info = sample(3);
    auto stored = StoredInstance::make(info);
    expect_same(stored->expand(), info);
    EXPECT_EQ(stored->instance_id(), "inst-3");
    EXPECT_EQ(stored->host_name(), "host-3.example.internal");
    EXPECT_EQ(stored->app(), "ORDERS");
    EXPECT_EQ(stored->vip_address(), "orders");
    EXPECT_EQ(stored->secure_vip_address(), "orders-secure");
    EXPECT_EQ(stored->status, InstanceStatus::kOutOfService);
    EXPECT_EQ(stored->last_dirty_timestamp, 1690000000000);
}

TEST(StoredInstanceTest, OddValuesSurvive) {
    InstanceInfo info;  // defaults: empty strings, default data center
    expect_same(StoredInstance::make(info)->expand(), info);

    InstanceInfo odd = sample(1);
    odd.host_name = "h";  // appears many times in each URL; only the first is taken out
    odd.home_page_url = "http://h/h/h";
    odd.status_page_url = std::string("http://h/\x01mark", 14);  // holds the host marker itself
    odd.health_check_url = "h";
    odd.secure_health_check_url = "";
    odd.sid = "sid-1";
    odd.asg_name = "asg";
    odd.app_group_name = "group";
    odd.is_coordinating_discovery_server = true;
    odd.data_center_class = "com.netflix.appinfo.AmazonInfo";
    odd.data_center_name = "Amazon";
    odd.data_center_metadata = {{"instance-id", "i-123"}, {"availability-zone", "us-east-1a"}};
    odd.metadata = {{"k", ""}, {"", "v"}, {"dup", "x"}, {"\xff\xfe", std::string(3000, 'z')}};
    expect_same(StoredInstance::make(odd)->expand(), odd);

    InstanceInfo no_host = sample(2);
    no_host.host_name.clear();
    expect_same(StoredInstance::make(no_host)->expand(), no_host);
}

TEST(StoredInstanceTest, RepeatedValuesAreKeptOnceAndFreedWithTheirLastHolder) {
    const std::size_t before = StoredInstance::interned_count();
    std::vector<std::shared_ptr<const StoredInstance>> held;
    for (int n = 0; n < 100; ++n) held.push_back(StoredInstance::make(sample(n)));
    // Per process, not per instance: app, data center, 4 URL shapes, 2 VIPs, metadata keys
    // and the distinct values (zone-0, zone-1, 1.2.3), whatever the number of instances.
    const std::size_t shared = StoredInstance::interned_count() - before;
    EXPECT_LE(shared, 16u);
    for (int n = 0; n < 100; ++n) expect_same(held[static_cast<std::size_t>(n)]->expand(), sample(n));
    held.resize(2);  // still holding zone-0 and zone-1
    EXPECT_EQ(StoredInstance::interned_count() - before, shared);
    held.clear();
    EXPECT_EQ(StoredInstance::interned_count(), before);
}

}  // namespace
}  // namespace orquestra::registry
