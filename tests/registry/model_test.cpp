#include "registry/model.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace orquestra::registry {
namespace {

InstanceInfo with_status(InstanceStatus status) {
    InstanceInfo info;
    info.status = status;
    return info;
}

std::string hashcode_of(const std::vector<InstanceInfo>& instances) {
    std::vector<const InstanceInfo*> pointers;
    for (const auto& info : instances) pointers.push_back(&info);
    return reconcile_hashcode(pointers);
}

TEST(ModelTest, StatusNamesAreEurekas) {
    EXPECT_EQ(to_string(InstanceStatus::kUp), "UP");
    EXPECT_EQ(to_string(InstanceStatus::kDown), "DOWN");
    EXPECT_EQ(to_string(InstanceStatus::kStarting), "STARTING");
    EXPECT_EQ(to_string(InstanceStatus::kOutOfService), "OUT_OF_SERVICE");
    EXPECT_EQ(to_string(InstanceStatus::kUnknown), "UNKNOWN");
}

TEST(ModelTest, ActionTypeNamesAreEurekas) {
    EXPECT_EQ(to_string(ActionType::kAdded), "ADDED");
    EXPECT_EQ(to_string(ActionType::kModified), "MODIFIED");
    EXPECT_EQ(to_string(ActionType::kDeleted), "DELETED");
}

TEST(ModelTest, ParseStatusReadsEveryName) {
    for (auto s : {InstanceStatus::kUp, InstanceStatus::kDown, InstanceStatus::kStarting,
                   InstanceStatus::kOutOfService, InstanceStatus::kUnknown}) {
        EXPECT_EQ(parse_status(to_string(s)), s) << to_string(s);
        EXPECT_EQ(parse_status_strict(to_string(s)), s) << to_string(s);
    }
}

TEST(ModelTest, ParseStatusIgnoresCaseAsEurekaDoes) {
    EXPECT_EQ(parse_status("down"), InstanceStatus::kDown);
    EXPECT_EQ(parse_status("Out_Of_Service"), InstanceStatus::kOutOfService);
    EXPECT_EQ(parse_status_strict("starting"), InstanceStatus::kStarting);
}

TEST(ModelTest, UnknownStatusNamesReadAsUnknown) {
    EXPECT_EQ(parse_status("SLEEPING"), InstanceStatus::kUnknown);
    EXPECT_EQ(parse_status(""), InstanceStatus::kUnknown);
    EXPECT_EQ(parse_status("UP "), InstanceStatus::kUnknown);
}

TEST(ModelTest, ParseStatusStrictRejectsUnknownNames) {
    EXPECT_FALSE(parse_status_strict("SLEEPING").has_value());
    EXPECT_FALSE(parse_status_strict("").has_value());
    EXPECT_FALSE(parse_status_strict("OUT OF SERVICE").has_value());
}

TEST(ModelTest, IdPrefersInstanceId) {
    InstanceInfo info;
    info.instance_id = "host:app:8080";
    info.host_name = "host";
    info.data_center_name = "Amazon";
    info.data_center_metadata = {{"instance-id", "i-1"}};
    EXPECT_EQ(info.id(), "host:app:8080");
}

TEST(ModelTest, IdFallsBackToAmazonInstanceId) {
    InstanceInfo info;
    info.host_name = "ec2.example";
    info.data_center_class = "com.netflix.appinfo.AmazonInfo";
    info.data_center_name = "Amazon";
    info.data_center_metadata = {{"availability-zone", "us-east-1a"}, {"instance-id", "i-1"}};
    EXPECT_EQ(info.id(), "i-1");
}

TEST(ModelTest, IdIgnoresInstanceIdMetadataOutsideAmazon) {
    InstanceInfo info;
    info.host_name = "host";
    info.data_center_name = "MyOwn";
    info.data_center_metadata = {{"instance-id", "i-1"}};
    EXPECT_EQ(info.id(), "host");
}

TEST(ModelTest, IdFallsBackToHostName) {
    InstanceInfo info;
    info.host_name = "cart-1.local";
    EXPECT_EQ(info.id(), "cart-1.local");
    info.data_center_name = "Amazon";  // Amazon without an instance-id
    EXPECT_EQ(info.id(), "cart-1.local");
}

TEST(ModelTest, FindMetadata) {
    InstanceInfo info;
    info.metadata = {{"zone", "a"}, {"management.port", "8081"}};
    ASSERT_NE(info.find_metadata("management.port"), nullptr);
    EXPECT_EQ(*info.find_metadata("management.port"), "8081");
    EXPECT_EQ(info.find_metadata("missing"), nullptr);
}

TEST(ModelTest, SetMetadataReplacesInPlaceAndAppendsNewKeys) {
    InstanceInfo info;
    info.metadata = {{"zone", "a"}, {"version", "1"}};
    info.set_metadata("zone", "b");
    info.set_metadata("team", "payments");
    Metadata expected = {{"zone", "b"}, {"version", "1"}, {"team", "payments"}};
    EXPECT_EQ(info.metadata, expected);
}

TEST(ModelTest, ReconcileHashcodeOfNothingIsEmpty) { EXPECT_EQ(reconcile_hashcode({}), ""); }

TEST(ModelTest, ReconcileHashcodeCountsByStatus) {
    std::vector<InstanceInfo> instances = {
        with_status(InstanceStatus::kUp), with_status(InstanceStatus::kDown),
        with_status(InstanceStatus::kUp), with_status(InstanceStatus::kUp)};
    EXPECT_EQ(hashcode_of(instances), "DOWN_1_UP_3_");
}

TEST(ModelTest, ReconcileHashcodeSortsStatusNamesLexically) {
    std::vector<InstanceInfo> instances = {
        with_status(InstanceStatus::kUp),           with_status(InstanceStatus::kUnknown),
        with_status(InstanceStatus::kStarting),     with_status(InstanceStatus::kOutOfService),
        with_status(InstanceStatus::kOutOfService), with_status(InstanceStatus::kDown)};
    EXPECT_EQ(hashcode_of(instances), "DOWN_1_OUT_OF_SERVICE_2_STARTING_1_UNKNOWN_1_UP_1_");
}

TEST(ModelTest, ReconcileHashcodeCountsBeyondNine) {
    std::vector<InstanceInfo> instances(12, with_status(InstanceStatus::kUp));
    EXPECT_EQ(hashcode_of(instances), "UP_12_");
}

TEST(ModelTest, ReconcileHashcodeSkipsNullPointers) {
    InstanceInfo up = with_status(InstanceStatus::kUp);
    EXPECT_EQ(reconcile_hashcode({&up, nullptr}), "UP_1_");
}

}  // namespace
}  // namespace orquestra::registry
