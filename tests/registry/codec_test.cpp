#include "registry/codec.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::registry {
namespace {

using namespace std::string_literals;

constexpr const char* kDefaultClass = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo";

// A golden file from tests/data/eureka, without the final newline the editor leaves.
std::string golden(const std::string& name) {
    const std::string path = std::string(ORQUESTRA_TEST_DATA) + "/eureka/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ADD_FAILURE() << "cannot read " << path;
        return {};
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

// ---- the models the golden files describe, built field by field ----

InstanceInfo orders_instance() {  // instance.json / instance.xml (EUREKA.md §3.2)
    InstanceInfo i;
    i.instance_id = "127.0.0.1:orders:8080";
    i.host_name = "127.0.0.1";
    i.app = "ORDERS";
    i.ip_addr = "127.0.0.1";
    i.status = InstanceStatus::kUp;
    i.overridden_status = InstanceStatus::kUnknown;
    i.port = {8080, true};
    i.secure_port = {443, false};
    i.country_id = 1;
    i.data_center_class = kDefaultClass;
    i.data_center_name = "MyOwn";
    i.lease = {30, 90, 1700000000000, 1700000090000, 0, 1700000000000};
    i.metadata = {{"zone", "default"},
                  {"management.port", "8081"},
                  {"build_id", "42"},
                  {"note", "say \"hi\" & <bye> 'now'"}};
    i.home_page_url = "http://127.0.0.1:8080/";
    i.status_page_url = "http://127.0.0.1:8080/info";
    i.health_check_url = "http://127.0.0.1:8080/health";
    i.vip_address = "orders";
    i.secure_vip_address = "orders";
    i.last_updated_timestamp = 1700000000000;
    i.last_dirty_timestamp = 1699999999000;
    i.action_type = ActionType::kAdded;
    return i;
}

InstanceInfo orders_1() {
    InstanceInfo i;
    i.instance_id = "10.0.0.1:orders:8080";
    i.host_name = "orders-1.local";
    i.app = "ORDERS";
    i.ip_addr = "10.0.0.1";
    i.port = {8080, true};
    i.secure_port = {443, false};
    i.lease = {30, 90, 1700000000000, 1700000030000, 0, 1700000000000};
    i.metadata = {{"zone", "zone-a"}};
    i.home_page_url = "http://orders-1.local:8080/";
    i.status_page_url = "http://orders-1.local:8080/actuator/info";
    i.health_check_url = "http://orders-1.local:8080/actuator/health";
    i.vip_address = "orders";
    i.secure_vip_address = "orders";
    i.last_updated_timestamp = 1700000000000;
    i.last_dirty_timestamp = 1700000000000;
    return i;
}

InstanceInfo orders_2() {
    InstanceInfo i;
    i.instance_id = "10.0.0.2:orders:8080";
    i.host_name = "orders-2.local";
    i.app = "ORDERS";
    i.ip_addr = "10.0.0.2";
    i.status = InstanceStatus::kDown;
    i.port = {8080, true};
    i.secure_port = {443, false};
    i.lease = {30, 90, 1700000001000, 1700000031000, 0, 1700000001000};
    i.metadata = {{"zone", "zone-b"}};
    i.vip_address = "orders";
    i.last_updated_timestamp = 1700000001000;
    i.last_dirty_timestamp = 1700000001000;
    return i;
}

InstanceInfo payments_1() {
    InstanceInfo i;
    i.instance_id = "payments-1";
    i.host_name = "payments-1.local";
    i.app = "PAYMENTS";
    i.ip_addr = "10.0.1.1";
    i.sid = "s-7";
    i.port = {9090, false};
    i.secure_port = {9443, true};
    i.country_id = 2;
    i.lease = {10, 30, 1700000002000, 1700000012000, 0, 1700000002500};
    i.app_group_name = "PAYGROUP";
    i.home_page_url = "https://payments-1.local:9443/";
    i.secure_health_check_url = "https://payments-1.local:9443/health";
    i.vip_address = "payments";
    i.secure_vip_address = "payments-secure";
    i.last_updated_timestamp = 1700000002000;
    i.last_dirty_timestamp = 1700000001500;
    i.action_type = ActionType::kModified;
    i.asg_name = "payments-asg";
    return i;
}

InstanceInfo amazon_instance() {
    InstanceInfo i;
    i.host_name = "ec2-1-2-3-4.compute-1.amazonaws.com";
    i.app = "INVENTORY";
    i.ip_addr = "10.1.2.3";
    i.port = {8080, true};
    i.secure_port = {8443, false};
    i.data_center_class = "com.netflix.appinfo.AmazonInfo";
    i.data_center_name = "Amazon";
    i.data_center_metadata = {{"instance-id", "i-0abc123"},
                              {"availability-zone", "us-east-1a"},
                              {"public-hostname", "ec2-1-2-3-4.compute-1.amazonaws.com"},
                              {"local-ipv4", "10.1.2.3"}};
    i.lease = {30, 90, 1700000003000, 1700000033000, 0, 1700000003000};
    i.vip_address = "inventory";
    i.last_updated_timestamp = 1700000003000;
    i.last_dirty_timestamp = 1700000003000;
    return i;
}

Application payments_app() { return Application{"PAYMENTS", {payments_1()}}; }

Applications registry() {
    Applications apps;
    apps.versions_delta = "1";
    apps.apps_hashcode = "DOWN_1_UP_2_";
    apps.applications = {Application{"ORDERS", {orders_1(), orders_2()}}, payments_app()};
    return apps;
}

Applications empty_registry() {
    Applications apps;
    apps.versions_delta = "1";
    apps.apps_hashcode = "";
    return apps;
}

void expect_same(const InstanceInfo& a, const InstanceInfo& e) {
    EXPECT_EQ(a.instance_id, e.instance_id);
    EXPECT_EQ(a.host_name, e.host_name);
    EXPECT_EQ(a.app, e.app);
    EXPECT_EQ(a.app_group_name, e.app_group_name);
    EXPECT_EQ(a.ip_addr, e.ip_addr);
    EXPECT_EQ(a.sid, e.sid);
    EXPECT_EQ(a.status, e.status);
    EXPECT_EQ(a.overridden_status, e.overridden_status);
    EXPECT_EQ(a.port.port, e.port.port);
    EXPECT_EQ(a.port.enabled, e.port.enabled);
    EXPECT_EQ(a.secure_port.port, e.secure_port.port);
    EXPECT_EQ(a.secure_port.enabled, e.secure_port.enabled);
    EXPECT_EQ(a.country_id, e.country_id);
    EXPECT_EQ(a.data_center_class, e.data_center_class);
    EXPECT_EQ(a.data_center_name, e.data_center_name);
    EXPECT_EQ(a.data_center_metadata, e.data_center_metadata);
    EXPECT_EQ(a.lease.renewal_interval_secs, e.lease.renewal_interval_secs);
    EXPECT_EQ(a.lease.duration_secs, e.lease.duration_secs);
    EXPECT_EQ(a.lease.registration_timestamp, e.lease.registration_timestamp);
    EXPECT_EQ(a.lease.last_renewal_timestamp, e.lease.last_renewal_timestamp);
    EXPECT_EQ(a.lease.eviction_timestamp, e.lease.eviction_timestamp);
    EXPECT_EQ(a.lease.service_up_timestamp, e.lease.service_up_timestamp);
    EXPECT_EQ(a.metadata, e.metadata);
    EXPECT_EQ(a.home_page_url, e.home_page_url);
    EXPECT_EQ(a.status_page_url, e.status_page_url);
    EXPECT_EQ(a.health_check_url, e.health_check_url);
    EXPECT_EQ(a.secure_health_check_url, e.secure_health_check_url);
    EXPECT_EQ(a.vip_address, e.vip_address);
    EXPECT_EQ(a.secure_vip_address, e.secure_vip_address);
    EXPECT_EQ(a.is_coordinating_discovery_server, e.is_coordinating_discovery_server);
    EXPECT_EQ(a.last_updated_timestamp, e.last_updated_timestamp);
    EXPECT_EQ(a.last_dirty_timestamp, e.last_dirty_timestamp);
    EXPECT_EQ(a.action_type, e.action_type);
    EXPECT_EQ(a.asg_name, e.asg_name);
}

void expect_same(const Applications& a, const Applications& e) {
    EXPECT_EQ(a.versions_delta, e.versions_delta);
    EXPECT_EQ(a.apps_hashcode, e.apps_hashcode);
    ASSERT_EQ(a.applications.size(), e.applications.size());
    for (std::size_t i = 0; i < a.applications.size(); ++i) {
        EXPECT_EQ(a.applications[i].name, e.applications[i].name);
        ASSERT_EQ(a.applications[i].instances.size(), e.applications[i].instances.size());
        for (std::size_t j = 0; j < a.applications[i].instances.size(); ++j) {
            SCOPED_TRACE("application " + std::to_string(i) + " instance " + std::to_string(j));
            expect_same(a.applications[i].instances[j], e.applications[i].instances[j]);
        }
    }
}

template <class T>
T value_or_fail(const Result<T>& r) {
    if (!r) {
        ADD_FAILURE() << "unexpected error: " << r.error().message;
        return T{};
    }
    return *r;
}

template <class T>
void expect_invalid(const Result<T>& r, std::string_view mentions = {}) {
    ASSERT_FALSE(r.has_value()) << "expected an error";
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(r.error().message.empty());
    if (!mentions.empty()) {
        EXPECT_NE(r.error().message.find(mentions), std::string::npos)
            << "message \"" << r.error().message << "\" does not mention \"" << mentions << "\"";
    }
}

template <class T, class Fn>
std::string render(const T& value, Fn write) {
    std::string out;
    write(value, out);
    return out;
}

// ============================== writing: byte-for-byte goldens ==============================

TEST(CodecGoldenTest, InstanceJson) {
    EXPECT_EQ(render(orders_instance(), write_instance_json), golden("instance.json"));
}

TEST(CodecGoldenTest, InstanceXml) {
    EXPECT_EQ(render(orders_instance(), write_instance_xml), golden("instance.xml"));
}

TEST(CodecGoldenTest, AmazonInstanceJson) {
    EXPECT_EQ(render(amazon_instance(), write_instance_json), golden("amazon_instance.json"));
}

TEST(CodecGoldenTest, AmazonInstanceXml) {
    EXPECT_EQ(render(amazon_instance(), write_instance_xml), golden("amazon_instance.xml"));
}

TEST(CodecGoldenTest, ApplicationJson) {
    EXPECT_EQ(render(payments_app(), write_application_json), golden("application.json"));
}

TEST(CodecGoldenTest, ApplicationXml) {
    EXPECT_EQ(render(payments_app(), write_application_xml), golden("application.xml"));
}

TEST(CodecGoldenTest, ApplicationsJson) {
    EXPECT_EQ(render(registry(), write_applications_json), golden("applications.json"));
}

TEST(CodecGoldenTest, ApplicationsXml) {
    EXPECT_EQ(render(registry(), write_applications_xml), golden("applications.xml"));
}

TEST(CodecGoldenTest, EmptyApplicationsJsonHasAnEmptyArray) {
    EXPECT_EQ(render(empty_registry(), write_applications_json), golden("empty_applications.json"));
}

TEST(CodecGoldenTest, EmptyApplicationsXml) {
    EXPECT_EQ(render(empty_registry(), write_applications_xml), golden("empty_applications.xml"));
}

// ============================== reading the goldens ==============================

TEST(CodecReadTest, InstanceJsonGolden) {
    expect_same(value_or_fail(parse_instance_json(golden("instance.json"))), orders_instance());
}

TEST(CodecReadTest, InstanceXmlGolden) {
    expect_same(value_or_fail(parse_instance_xml(golden("instance.xml"))), orders_instance());
}

TEST(CodecReadTest, AmazonInstanceJsonGolden) {
    expect_same(value_or_fail(parse_instance_json(golden("amazon_instance.json"))),
                amazon_instance());
}

TEST(CodecReadTest, AmazonInstanceXmlGolden) {
    expect_same(value_or_fail(parse_instance_xml(golden("amazon_instance.xml"))),
                amazon_instance());
}

TEST(CodecReadTest, ApplicationsJsonGolden) {
    expect_same(value_or_fail(parse_applications_json(golden("applications.json"))), registry());
}

TEST(CodecReadTest, ApplicationsXmlGolden) {
    expect_same(value_or_fail(parse_applications_xml(golden("applications.xml"))), registry());
}

TEST(CodecReadTest, PrettyPrintedXmlWithDeclarationAndComment) {
    expect_same(value_or_fail(parse_applications_xml(golden("applications_pretty.xml"))),
                registry());
}

TEST(CodecReadTest, ApplicationGoldens) {
    auto json = value_or_fail(parse_application_json(golden("application.json")));
    auto xml = value_or_fail(parse_application_xml(golden("application.xml")));
    for (const Application* app : {&json, &xml}) {
        EXPECT_EQ(app->name, "PAYMENTS");
        ASSERT_EQ(app->instances.size(), 1u);
        expect_same(app->instances[0], payments_1());
    }
}

TEST(CodecReadTest, EmptyApplicationsGoldens) {
    expect_same(value_or_fail(parse_applications_json(golden("empty_applications.json"))),
                empty_registry());
    expect_same(value_or_fail(parse_applications_xml(golden("empty_applications.xml"))),
                empty_registry());
}

// ============================== round trips ==============================

struct RoundTripCase {
    const char* file;
    std::string (*round_trip)(const std::string& body);
};

template <class T>
std::string rewrite(const Result<T>& parsed, void (*write)(const T&, std::string&)) {
    if (!parsed) return "error: " + parsed.error().message;
    std::string out;
    write(*parsed, out);
    return out;
}

template <auto Parse, auto Write>
std::string round_trip(const std::string& body) {
    return rewrite(Parse(body), Write);
}

const RoundTripCase kRoundTrips[] = {
    {"instance.json", round_trip<parse_instance_json, write_instance_json>},
    {"instance.xml", round_trip<parse_instance_xml, write_instance_xml>},
    {"amazon_instance.json", round_trip<parse_instance_json, write_instance_json>},
    {"amazon_instance.xml", round_trip<parse_instance_xml, write_instance_xml>},
    {"application.json", round_trip<parse_application_json, write_application_json>},
    {"application.xml", round_trip<parse_application_xml, write_application_xml>},
    {"applications.json", round_trip<parse_applications_json, write_applications_json>},
    {"applications.xml", round_trip<parse_applications_xml, write_applications_xml>},
    {"empty_applications.json", round_trip<parse_applications_json, write_applications_json>},
    {"empty_applications.xml", round_trip<parse_applications_xml, write_applications_xml>},
};

TEST(CodecRoundTripTest, ParseThenWriteReproducesEveryGolden) {
    for (const RoundTripCase& c : kRoundTrips) {
        SCOPED_TRACE(c.file);
        const std::string body = golden(c.file);
        EXPECT_EQ(c.round_trip(body), body);
    }
}

TEST(CodecRoundTripTest, JsonToXmlAndBack) {
    EXPECT_EQ(rewrite(parse_applications_json(golden("applications.json")), write_applications_xml),
              golden("applications.xml"));
    EXPECT_EQ(rewrite(parse_applications_xml(golden("applications.xml")), write_applications_json),
              golden("applications.json"));
    EXPECT_EQ(rewrite(parse_instance_xml(golden("instance.xml")), write_instance_json),
              golden("instance.json"));
}

TEST(CodecRoundTripTest, PrettyXmlRewritesToCompactGolden) {
    EXPECT_EQ(
        rewrite(parse_applications_xml(golden("applications_pretty.xml")), write_applications_xml),
        golden("applications.xml"));
}

// ============================== what real clients send ==============================

TEST(CodecClientBodyTest, EurekaJsClientRegistration) {
    auto info = value_or_fail(parse_instance_json(golden("register_js_client.json")));
    EXPECT_EQ(info.app, "CART");  // upper-cased on read
    EXPECT_EQ(info.host_name, "cart-1.local");
    EXPECT_EQ(info.ip_addr, "10.0.2.1");
    EXPECT_EQ(info.status, InstanceStatus::kUp);
    EXPECT_EQ(info.port.port, 8080);
    EXPECT_TRUE(info.port.enabled);          // boolean @enabled
    EXPECT_EQ(info.secure_port.port, 7002);  // absent: defaults
    EXPECT_FALSE(info.secure_port.enabled);
    EXPECT_EQ(info.vip_address, "cart");
    EXPECT_EQ(info.status_page_url, "http://cart-1.local:8080/info");
    EXPECT_EQ(info.data_center_class, kDefaultClass);
    EXPECT_EQ(info.data_center_name, "MyOwn");
    EXPECT_TRUE(info.instance_id.empty());
    EXPECT_EQ(info.id(), "cart-1.local");  // no instanceId: the host name
    EXPECT_EQ(info.last_dirty_timestamp, 0);
    EXPECT_EQ(info.last_updated_timestamp, 0);
    EXPECT_EQ(info.lease.duration_secs, 90);
    EXPECT_EQ(info.lease.renewal_interval_secs, 30);
    EXPECT_TRUE(info.metadata.empty());
}

TEST(CodecClientBodyTest, PyEurekaClientRegistration) {
    auto info = value_or_fail(parse_instance_json(golden("register_py_client.json")));
    EXPECT_EQ(info.instance_id, "10.0.3.1:billing:9000");
    EXPECT_EQ(info.app, "BILLING");
    EXPECT_EQ(info.port.port, 9000);
    EXPECT_TRUE(info.port.enabled);  // "true" as a string
    EXPECT_EQ(info.secure_port.port, 443);
    EXPECT_FALSE(info.secure_port.enabled);
    EXPECT_EQ(info.overridden_status, InstanceStatus::kUnknown);
    EXPECT_EQ(info.last_updated_timestamp, 1700000004000);  // string timestamps
    EXPECT_EQ(info.last_dirty_timestamp, 1700000004000);
    EXPECT_FALSE(info.is_coordinating_discovery_server);
    Metadata expected = {{"management.port", "9000"}, {"zone", "default"}};
    EXPECT_EQ(info.metadata, expected);
    EXPECT_EQ(info.health_check_url, "http://10.0.3.1:9000/health");
    EXPECT_EQ(info.secure_health_check_url, "");
    EXPECT_EQ(info.secure_vip_address, "billing");
}

TEST(CodecClientBodyTest, SpringCloudClientRegistration) {
    auto info = value_or_fail(parse_instance_json(golden("register_spring_client.json")));
    EXPECT_EQ(info.instance_id, "shipping-1.local:shipping:8081");
    EXPECT_EQ(info.host_name, "shipping-1.local");
    EXPECT_EQ(info.status, InstanceStatus::kStarting);
    EXPECT_EQ(info.overridden_status, InstanceStatus::kUnknown);
    EXPECT_EQ(info.sid, "na");
    EXPECT_TRUE(info.app_group_name.empty());  // null
    EXPECT_TRUE(info.asg_name.empty());
    EXPECT_EQ(info.port.port, 8081);
    EXPECT_EQ(info.status_page_url, "http://shipping-1.local:8081/actuator/info");
    EXPECT_EQ(info.last_updated_timestamp, 1700000005000);  // numeric timestamps
    EXPECT_EQ(info.last_dirty_timestamp, 1700000005001);
    EXPECT_FALSE(info.is_coordinating_discovery_server);  // boolean
    // "na" is Eureka's placeholder and is not written back.
    EXPECT_EQ(render(info, write_instance_json).find("\"sid\""), std::string::npos);
    EXPECT_EQ(render(info, write_instance_xml).find("<sid>"), std::string::npos);
}

TEST(CodecClientBodyTest, JavaClientXmlRegistration) {
    auto info = value_or_fail(parse_instance_xml(golden("register_java_client.xml")));
    EXPECT_EQ(info.instance_id, "ledger-1.local:ledger:7070");
    EXPECT_EQ(info.app, "LEDGER");
    EXPECT_EQ(info.ip_addr, "10.0.5.1");
    EXPECT_EQ(info.port.port, 7070);
    EXPECT_TRUE(info.port.enabled);
    EXPECT_EQ(info.secure_port.port, 443);
    EXPECT_FALSE(info.secure_port.enabled);
    EXPECT_EQ(info.data_center_class, kDefaultClass);
    EXPECT_EQ(info.data_center_name, "MyOwn");
    EXPECT_EQ(info.lease.renewal_interval_secs, 15);
    EXPECT_EQ(info.lease.duration_secs, 45);
    // XStream encodes '_' in element names as "__".
    Metadata expected = {{"management.port", "7071"}, {"git_commit", "abc123"}};
    EXPECT_EQ(info.metadata, expected);
    EXPECT_EQ(info.last_dirty_timestamp, 1700000006000);
    EXPECT_EQ(info.action_type, ActionType::kAdded);
}

// ============================== lenient reading ==============================

TEST(CodecLenientTest, BareInstanceObjectWithoutWrapper) {
    auto info =
        value_or_fail(parse_instance_json(R"({"hostName":"h","app":"a","ipAddr":"1.2.3.4"})"));
    EXPECT_EQ(info.host_name, "h");
    EXPECT_EQ(info.app, "A");
    EXPECT_EQ(info.ip_addr, "1.2.3.4");
}

TEST(CodecLenientTest, EmptyMapMarkerIsDroppedFromJsonMetadata) {
    auto info = value_or_fail(parse_instance_json(
        R"({"instance":{"metadata":{"@class":"java.util.Collections$EmptyMap"}}})"));
    EXPECT_TRUE(info.metadata.empty());
    auto mixed = value_or_fail(parse_instance_json(
        R"({"instance":{"metadata":{"@class":"java.util.Collections$EmptyMap","k":"v"}}})"));
    Metadata expected = {{"k", "v"}};
    EXPECT_EQ(mixed.metadata, expected);
}

TEST(CodecLenientTest, EmptyMapMarkerIsDroppedFromXmlMetadata) {
    auto info = value_or_fail(parse_instance_xml(
        R"(<instance><metadata class="java.util.Collections$EmptyMap"/></instance>)"));
    EXPECT_TRUE(info.metadata.empty());
}

TEST(CodecLenientTest, UnknownStatusReadsAsUnknown) {
    auto json = value_or_fail(
        parse_instance_json(R"({"instance":{"status":"SLEEPING","overriddenStatus":"weird"}})"));
    EXPECT_EQ(json.status, InstanceStatus::kUnknown);
    EXPECT_EQ(json.overridden_status, InstanceStatus::kUnknown);
    auto xml = value_or_fail(parse_instance_xml("<instance><status>NAPPING</status></instance>"));
    EXPECT_EQ(xml.status, InstanceStatus::kUnknown);
}

TEST(CodecLenientTest, StatusNamesIgnoreCase) {
    auto info = value_or_fail(parse_instance_json(R"({"instance":{"status":"down"}})"));
    EXPECT_EQ(info.status, InstanceStatus::kDown);
}

TEST(CodecLenientTest, OverriddenStatusInBothSpellings) {
    auto lower =
        value_or_fail(parse_instance_json(R"({"instance":{"overriddenstatus":"OUT_OF_SERVICE"}})"));
    EXPECT_EQ(lower.overridden_status, InstanceStatus::kOutOfService);
    auto camel = value_or_fail(parse_instance_json(R"({"instance":{"overriddenStatus":"DOWN"}})"));
    EXPECT_EQ(camel.overridden_status, InstanceStatus::kDown);
    auto xml_lower = value_or_fail(parse_instance_xml(
        "<instance><overriddenstatus>OUT_OF_SERVICE</overriddenstatus></instance>"));
    EXPECT_EQ(xml_lower.overridden_status, InstanceStatus::kOutOfService);
    auto xml_camel = value_or_fail(
        parse_instance_xml("<instance><overriddenStatus>STARTING</overriddenStatus></instance>"));
    EXPECT_EQ(xml_camel.overridden_status, InstanceStatus::kStarting);
}

TEST(CodecLenientTest, InstanceIdFallsBackToHostName) {
    auto info = value_or_fail(parse_instance_json(R"({"instance":{"hostName":"web-7"}})"));
    EXPECT_TRUE(info.instance_id.empty());
    EXPECT_EQ(info.id(), "web-7");
}

TEST(CodecLenientTest, AmazonInstanceIdFallback) {
    auto json = value_or_fail(parse_instance_json(golden("amazon_instance.json")));
    EXPECT_TRUE(json.instance_id.empty());
    EXPECT_EQ(json.id(), "i-0abc123");
    auto xml = value_or_fail(parse_instance_xml(golden("amazon_instance.xml")));
    EXPECT_EQ(xml.id(), "i-0abc123");
}

TEST(CodecLenientTest, MissingIdentityAndDataCenterStayEmpty) {
    auto json = value_or_fail(parse_instance_json(R"({"instance":{"status":"UP"}})"));
    EXPECT_TRUE(json.host_name.empty());
    EXPECT_TRUE(json.ip_addr.empty());
    EXPECT_TRUE(json.app.empty());
    EXPECT_TRUE(json.data_center_class.empty());
    EXPECT_TRUE(json.data_center_name.empty());
    auto xml = value_or_fail(parse_instance_xml("<instance><status>UP</status></instance>"));
    EXPECT_TRUE(xml.host_name.empty());
    EXPECT_TRUE(xml.ip_addr.empty());
    EXPECT_TRUE(xml.app.empty());
    EXPECT_TRUE(xml.data_center_class.empty());
    EXPECT_TRUE(xml.data_center_name.empty());
}

TEST(CodecLenientTest, DataCenterWithoutNameHasEmptyName) {
    auto json = value_or_fail(parse_instance_json(
        R"({"instance":{"dataCenterInfo":{"@class":"com.netflix.appinfo.MyDataCenterInfo"}}})"));
    EXPECT_EQ(json.data_center_class, "com.netflix.appinfo.MyDataCenterInfo");
    EXPECT_TRUE(json.data_center_name.empty());
    auto xml = value_or_fail(parse_instance_xml(
        R"(<instance><dataCenterInfo class="x.Y"></dataCenterInfo></instance>)"));
    EXPECT_EQ(xml.data_center_class, "x.Y");
    EXPECT_TRUE(xml.data_center_name.empty());
}

TEST(CodecLenientTest, MissingOptionalFieldsTakeDefaults) {
    auto info = value_or_fail(parse_instance_json(R"({"instance":{"hostName":"h"}})"));
    InstanceInfo defaults;
    EXPECT_EQ(info.status, defaults.status);
    EXPECT_EQ(info.overridden_status, InstanceStatus::kUnknown);
    EXPECT_EQ(info.port.port, defaults.port.port);
    EXPECT_EQ(info.port.enabled, defaults.port.enabled);
    EXPECT_EQ(info.country_id, 1);
    EXPECT_EQ(info.lease.duration_secs, 90);
    EXPECT_EQ(info.action_type, ActionType::kAdded);
}

TEST(CodecLenientTest, NullsAreAbsentValues) {
    auto info = value_or_fail(parse_instance_json(
        R"({"instance":{"hostName":"h","port":null,"leaseInfo":null,"metadata":{"k":null},)"
        R"("dataCenterInfo":null,"countryId":null}})"));
    EXPECT_EQ(info.port.port, 7001);
    EXPECT_EQ(info.lease.duration_secs, 90);
    EXPECT_TRUE(info.metadata.empty());
    EXPECT_TRUE(info.data_center_name.empty());
    EXPECT_EQ(info.country_id, 1);
}

TEST(CodecLenientTest, PortForms) {
    auto plain = value_or_fail(parse_instance_json(R"({"instance":{"port":8080}})"));
    EXPECT_EQ(plain.port.port, 8080);
    EXPECT_TRUE(plain.port.enabled);
    auto text = value_or_fail(parse_instance_json(R"({"instance":{"securePort":"8443"}})"));
    EXPECT_EQ(text.secure_port.port, 8443);
    auto strings = value_or_fail(
        parse_instance_json(R"({"instance":{"port":{"$":"9090","@enabled":"FALSE"}}})"));
    EXPECT_EQ(strings.port.port, 9090);
    EXPECT_FALSE(strings.port.enabled);
    auto xml_plain = value_or_fail(parse_instance_xml("<instance><port>8081</port></instance>"));
    EXPECT_EQ(xml_plain.port.port, 8081);
    EXPECT_TRUE(xml_plain.port.enabled);
    auto xml_secure = value_or_fail(parse_instance_xml(
        R"(<instance><securePort enabled="true"> 8443 </securePort></instance>)"));
    EXPECT_EQ(xml_secure.secure_port.port, 8443);
    EXPECT_TRUE(xml_secure.secure_port.enabled);
}

TEST(CodecLenientTest, NumbersAsStringsAndStringsAsNumbers) {
    auto info = value_or_fail(parse_instance_json(
        R"({"instance":{"countryId":"2","leaseInfo":{"durationInSecs":"45",)"
        R"("registrationTimestamp":"1700000000000","serviceUpTimestamp":1.7e12},)"
        R"("lastDirtyTimestamp":1700000000001,"hostName":12345}})"));
    EXPECT_EQ(info.country_id, 2);
    EXPECT_EQ(info.lease.duration_secs, 45);
    EXPECT_EQ(info.lease.registration_timestamp, 1700000000000);
    EXPECT_EQ(info.lease.service_up_timestamp, 1700000000000);
    EXPECT_EQ(info.last_dirty_timestamp, 1700000000001);
    EXPECT_EQ(info.host_name, "12345");
}

TEST(CodecLenientTest, RenewalTimestampIsAnAliasOfLastRenewalTimestamp) {
    auto json = value_or_fail(
        parse_instance_json(R"({"instance":{"leaseInfo":{"renewalTimestamp":1700000000500}}})"));
    EXPECT_EQ(json.lease.last_renewal_timestamp, 1700000000500);
    auto xml = value_or_fail(parse_instance_xml(
        "<instance><leaseInfo><renewalTimestamp>1700000000600</renewalTimestamp></leaseInfo>"
        "</instance>"));
    EXPECT_EQ(xml.lease.last_renewal_timestamp, 1700000000600);
}

TEST(CodecLenientTest, CoordinatingFlagAsBooleanOrString) {
    auto b = value_or_fail(
        parse_instance_json(R"({"instance":{"isCoordinatingDiscoveryServer":true}})"));
    EXPECT_TRUE(b.is_coordinating_discovery_server);
    auto s = value_or_fail(
        parse_instance_json(R"({"instance":{"isCoordinatingDiscoveryServer":"true"}})"));
    EXPECT_TRUE(s.is_coordinating_discovery_server);
}

TEST(CodecLenientTest, ApplicationsAcceptSingleObjectsWhereArraysBelong) {
    auto apps = value_or_fail(parse_applications_json(
        R"({"applications":{"versions__delta":7,"apps__hashcode":"UP_1_",)"
        R"("application":{"name":"A","instance":{"hostName":"h","app":"A"}}}})"));
    EXPECT_EQ(apps.versions_delta, "7");
    EXPECT_EQ(apps.apps_hashcode, "UP_1_");
    ASSERT_EQ(apps.applications.size(), 1u);
    ASSERT_EQ(apps.applications[0].instances.size(), 1u);
    EXPECT_EQ(apps.applications[0].instances[0].host_name, "h");
}

TEST(CodecLenientTest, ApplicationsWithoutApplicationKeyAreEmpty) {
    auto apps = value_or_fail(parse_applications_json(R"({"applications":{}})"));
    EXPECT_TRUE(apps.applications.empty());
}

TEST(CodecLenientTest, XmlNamespacesAreIgnored) {
    auto info = value_or_fail(
        parse_instance_xml(R"(<e:instance xmlns:e="urn:eureka"><e:hostName>h</e:hostName>)"
                           R"(<e:port e:enabled="false">81</e:port></e:instance>)"));
    EXPECT_EQ(info.host_name, "h");
    EXPECT_EQ(info.port.port, 81);
    EXPECT_FALSE(info.port.enabled);
}

TEST(CodecLenientTest, XmlTextWithEntitiesAndCdata) {
    auto info = value_or_fail(parse_instance_xml(
        "<instance><hostName>a&amp;b</hostName><vipAddress><![CDATA[x<y]]></vipAddress>"
        "</instance>"));
    EXPECT_EQ(info.host_name, "a&b");
    EXPECT_EQ(info.vip_address, "x<y");
}

TEST(CodecLenientTest, XmlUtf8ByteOrderMarkIsAccepted) {
    auto info = value_or_fail(parse_instance_xml("\xEF\xBB\xBF<instance><app>x</app></instance>"));
    EXPECT_EQ(info.app, "X");
}

TEST(CodecLenientTest, JsonUtf8ByteOrderMarkIsAccepted) {
    auto info = value_or_fail(parse_instance_json("\xEF\xBB\xBF{\"instance\":{\"app\":\"x\"}}"));
    EXPECT_EQ(info.app, "X");
}

TEST(CodecLenientTest, UnknownFieldsAreIgnored) {
    auto info = value_or_fail(
        parse_instance_json(R"({"instance":{"hostName":"h","somethingNew":{"deep":[1,2,3]}}})"));
    EXPECT_EQ(info.host_name, "h");
    auto xml = value_or_fail(
        parse_instance_xml("<instance><hostName>h</hostName><future><x>1</x></future></instance>"));
    EXPECT_EQ(xml.host_name, "h");
}

// ============================== bad input ==============================

TEST(CodecBadInputTest, MalformedJson) {
    expect_invalid(parse_instance_json(R"({"instance":{"hostName":)"), "JSON");
    expect_invalid(parse_instance_json(R"({"instance":{"hostName":"h",}})"), "JSON");
    expect_invalid(parse_applications_json("{"), "JSON");
    expect_invalid(parse_application_json(""), "JSON");
}

TEST(CodecBadInputTest, TruncatedXml) {
    const std::string body = golden("instance.xml");
    expect_invalid(parse_instance_xml(body.substr(0, body.size() / 2)), "XML");
    expect_invalid(parse_instance_xml("<instance><hostName>h</hostName>"), "XML");
    expect_invalid(parse_applications_xml(""));
    const std::string apps = golden("applications.xml");
    expect_invalid(parse_applications_xml(apps.substr(0, apps.size() - 5)));
}

TEST(CodecBadInputTest, WrongXmlRoot) {
    expect_invalid(parse_instance_xml("<applications/>"), "<instance>");
    expect_invalid(parse_applications_xml("<instance/>"), "<applications>");
}

TEST(CodecBadInputTest, JsonThatIsNotAnObject) {
    expect_invalid(parse_instance_json("[1,2,3]"), "object");
    expect_invalid(parse_instance_json("\"instance\""), "object");
    expect_invalid(parse_instance_json("42"), "object");
    expect_invalid(parse_instance_json("null"), "object");
    expect_invalid(parse_instance_json(R"({"instance":"x"})"), "instance");
    expect_invalid(parse_instance_json(R"({"instance":[]})"), "instance");
    expect_invalid(parse_applications_json(R"({"applications":[]})"), "applications");
    expect_invalid(parse_applications_json(R"({"applications":{"application":"x"}})"),
                   "application");
    expect_invalid(parse_applications_json(R"({"applications":{"application":[1]}})"),
                   "application[0]");
}

TEST(CodecBadInputTest, PortThatIsNotANumber) {
    expect_invalid(parse_instance_json(R"({"instance":{"port":{"$":"abc","@enabled":"true"}}})"),
                   "port.$");
    expect_invalid(parse_instance_json(R"({"instance":{"port":"abc"}})"), "port");
    expect_invalid(parse_instance_json(R"({"instance":{"port":[8080]}})"), "port");
    expect_invalid(parse_instance_xml("<instance><port>abc</port></instance>"), "port");
}

TEST(CodecBadInputTest, PortOutOfRange) {
    expect_invalid(parse_instance_json(R"({"instance":{"port":{"$":70000}}})"), "port.$");
    expect_invalid(parse_instance_json(R"({"instance":{"securePort":-1}})"), "securePort");
    expect_invalid(parse_instance_xml("<instance><port>65536</port></instance>"), "port");
}

TEST(CodecBadInputTest, EnabledThatIsNotABoolean) {
    expect_invalid(parse_instance_json(R"({"instance":{"port":{"$":80,"@enabled":"maybe"}}})"),
                   "port.@enabled");
    expect_invalid(parse_instance_xml(R"(<instance><port enabled="yes">80</port></instance>)"),
                   "enabled");
}

TEST(CodecBadInputTest, ObjectWhereAStringBelongs) {
    expect_invalid(parse_instance_json(R"({"instance":{"hostName":{"a":1}}})"), "hostName");
    expect_invalid(parse_instance_json(R"({"instance":{"status":["UP"]}})"), "status");
    expect_invalid(parse_instance_json(R"({"instance":{"metadata":{"k":{"nested":1}}}})"),
                   "metadata.k");
    expect_invalid(parse_instance_json(R"({"instance":{"metadata":"zone=a"}})"), "metadata");
    expect_invalid(parse_instance_json(R"({"instance":{"dataCenterInfo":"MyOwn"}})"),
                   "dataCenterInfo");
    expect_invalid(parse_instance_json(R"({"instance":{"leaseInfo":[]}})"), "leaseInfo");
    expect_invalid(parse_instance_xml("<instance><hostName><b>h</b></hostName></instance>"),
                   "hostName");
    expect_invalid(parse_instance_xml("<instance><metadata><k><v/></k></metadata></instance>"),
                   "metadata.k");
}

TEST(CodecBadInputTest, NumbersThatDoNotFit) {
    expect_invalid(parse_instance_json(R"({"instance":{"lastDirtyTimestamp":1e300}})"),
                   "lastDirtyTimestamp");
    expect_invalid(
        parse_instance_json(R"({"instance":{"lastDirtyTimestamp":99999999999999999999999}})"),
        "lastDirtyTimestamp");
    expect_invalid(
        parse_instance_json(R"({"instance":{"lastDirtyTimestamp":18446744073709551615}})"),
        "lastDirtyTimestamp");
    expect_invalid(parse_instance_json(R"({"instance":{"countryId":3000000000}})"), "countryId");
    expect_invalid(parse_instance_json(R"({"instance":{"countryId":1.5}})"), "countryId");
    expect_invalid(parse_instance_json(R"({"instance":{"countryId":true}})"), "countryId");
    expect_invalid(
        parse_instance_json(R"({"instance":{"leaseInfo":{"durationInSecs":"9999999999"}}})"),
        "leaseInfo.durationInSecs");
    expect_invalid(
        parse_instance_xml("<instance><lastDirtyTimestamp>99999999999999999999</lastDirtyTimestamp>"
                           "</instance>"),
        "lastDirtyTimestamp");
}

TEST(CodecBadInputTest, ErrorsInsideApplicationsNameTheirPlace) {
    expect_invalid(
        parse_applications_json(R"({"applications":{"application":[{"name":"A","instance":[{},)"
                                R"({"port":"x"}]}]}})"),
        "application[0].instance[1].port");
    expect_invalid(parse_applications_xml("<applications><application><name>A</name>"
                                          "<instance><countryId>x</countryId></instance>"
                                          "</application></applications>"),
                   "application[0].instance[0].countryId");
}

TEST(CodecBadInputTest, DeeplyNestedJsonIsAnErrorNotACrash) {
    const int depth = 10000;
    std::string objects;
    for (int i = 0; i < depth; ++i) objects += "{\"a\":";
    objects += "1";
    for (int i = 0; i < depth; ++i) objects += "}";
    expect_invalid(parse_instance_json(objects));
    expect_invalid(parse_applications_json(objects));
    expect_invalid(parse_application_json(objects));

    std::string arrays(depth, '[');
    arrays += std::string(depth, ']');
    expect_invalid(parse_instance_json(arrays));

    // Nested where a value is expected, and unterminated.
    std::string in_metadata = R"({"instance":{"metadata":{"k":)" + std::string(depth, '[');
    expect_invalid(parse_instance_json(in_metadata));
}

TEST(CodecBadInputTest, DeeplyNestedXmlDoesNotCrash) {
    const int depth = 10000;
    std::string inner;
    for (int i = 0; i < depth; ++i) inner += "<a>";
    for (int i = 0; i < depth; ++i) inner += "</a>";
    // Unknown elements are ignored, however deep.
    auto ok = parse_instance_xml("<instance><hostName>h</hostName>" + inner + "</instance>");
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
    EXPECT_EQ(ok->host_name, "h");
    // Where text belongs, nesting is an error.
    expect_invalid(parse_instance_xml("<instance><hostName>" + inner + "</hostName></instance>"),
                   "hostName");
    expect_invalid(parse_instance_xml(inner), "<instance>");
    std::string unterminated;
    for (int i = 0; i < depth; ++i) unterminated += "<applications>";
    expect_invalid(parse_applications_xml(unterminated));
}

TEST(CodecBadInputTest, OneMegabyteOfGarbage) {
    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string garbage(1 << 20, '\0');
    for (char& c : garbage) c = static_cast<char>(byte(rng));
    expect_invalid(parse_instance_json(garbage));
    expect_invalid(parse_applications_json(garbage));
    expect_invalid(parse_application_json(garbage));
    expect_invalid(parse_instance_xml(garbage));
    expect_invalid(parse_applications_xml(garbage));
    expect_invalid(parse_application_xml(garbage));

    const std::string brackets(1 << 20, '<');
    expect_invalid(parse_applications_xml(brackets));
    const std::string braces(1 << 20, '{');
    expect_invalid(parse_applications_json(braces));
}

TEST(CodecBadInputTest, InvalidUtf8InJsonIsRejected) {
    expect_invalid(parse_instance_json("{\"instance\":{\"hostName\":\"a\xFF\x62\"}}"), "JSON");
    expect_invalid(parse_instance_json("{\"instance\":{\"hostName\":\"\xC0\xAF\"}}"), "JSON");
}

TEST(CodecBadInputTest, XmlEntitiesAreNotExpanded) {
    // A "billion laughs" document: pugixml knows only the predefined entities, so nothing grows.
    const std::string body =
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
        "<instance><hostName>&lol2;</hostName></instance>";
    auto r = parse_instance_xml(body);
    if (r) {
        EXPECT_LT(r->host_name.size(), 64u);
    }
}

// ============================== writing details ==============================

TEST(CodecWriteTest, WritersAppendToWhatIsThere) {
    std::string out = "prefix|";
    write_instance_json(orders_instance(), out);
    EXPECT_EQ(out, "prefix|" + golden("instance.json"));
    out = "prefix|";
    write_applications_xml(registry(), out);
    EXPECT_EQ(out, "prefix|" + golden("applications.xml"));
}

TEST(CodecWriteTest, JsonEscapesQuotesBackslashesAndControlCharacters) {
    InstanceInfo info = orders_instance();
    info.metadata = {{"k\"ey",
                      "a\x01"
                      "b\"c\\d\ne\tf"}};
    const std::string out = render(info, write_instance_json);
    EXPECT_NE(out.find(R"("metadata":{"k\"ey":"a\u0001b\"c\\d\u000ae\u0009f"})"), std::string::npos)
        << out;
    auto back = value_or_fail(parse_instance_json(out));
    EXPECT_EQ(back.metadata, info.metadata);
}

TEST(CodecWriteTest, XmlEscapesMarkupCharacters) {
    InstanceInfo info = orders_instance();
    info.host_name = "a&b<c>d\"e'f";
    const std::string out = render(info, write_instance_xml);
    EXPECT_NE(out.find("<hostName>a&amp;b&lt;c&gt;d&quot;e&apos;f</hostName>"), std::string::npos)
        << out;
    EXPECT_EQ(value_or_fail(parse_instance_xml(out)).host_name, info.host_name);
}

TEST(CodecWriteTest, XmlKeepsCarriageReturnsAndReplacesOtherControlCharacters) {
    InstanceInfo info = orders_instance();
    info.host_name =
        "a\r\nb\x01"
        "c";
    const std::string out = render(info, write_instance_xml);
    EXPECT_NE(out.find("<hostName>a&#13;\nb\xEF\xBF\xBD"
                       "c</hostName>"),
              std::string::npos);
    EXPECT_EQ(value_or_fail(parse_instance_xml(out)).host_name,
              "a\r\nb\xEF\xBF\xBD"
              "c");
}

TEST(CodecWriteTest, InvalidUtf8IsReplacedSoOutputStaysParsable) {
    InstanceInfo info = orders_instance();
    info.host_name =
        "a\xFF"
        "b\xE2\x82";                                    // a stray byte and a truncated sequence
    info.vip_address = "caf\xC3\xA9 \xF0\x9F\x98\x80";  // valid: kept as is
    const std::string json = render(info, write_instance_json);
    auto from_json = value_or_fail(parse_instance_json(json));
    EXPECT_EQ(from_json.host_name,
              "a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(from_json.vip_address, info.vip_address);
    const std::string xml = render(info, write_instance_xml);
    auto from_xml = value_or_fail(parse_instance_xml(xml));
    EXPECT_EQ(from_xml.host_name, from_json.host_name);
    EXPECT_EQ(from_xml.vip_address, info.vip_address);
}

TEST(CodecWriteTest, XmlMetadataKeysAreXStreamEncoded) {
    InstanceInfo info = orders_instance();
    info.metadata = {{"a_b$c", "1"}, {"$x", "2"}};
    const std::string out = render(info, write_instance_xml);
    EXPECT_NE(out.find("<metadata><a__b_-c>1</a__b_-c><_-x>2</_-x></metadata>"), std::string::npos)
        << out;
    EXPECT_EQ(value_or_fail(parse_instance_xml(out)).metadata, info.metadata);
    // JSON keys are written verbatim.
    EXPECT_NE(render(info, write_instance_json).find(R"({"a_b$c":"1","$x":"2"})"),
              std::string::npos);
}

TEST(CodecWriteTest, XmlLeavesOutKeysThatCannotBeElementNames) {
    InstanceInfo info = orders_instance();
    info.metadata = {{"bad key", "1"}, {"9lives", "2"}, {"ok", "3"}, {"a<b", "4"}, {"", "5"}};
    const std::string xml = render(info, write_instance_xml);
    EXPECT_NE(xml.find("<metadata><ok>3</ok></metadata>"), std::string::npos) << xml;
    EXPECT_TRUE(parse_instance_xml(xml).has_value());
    // JSON carries every key.
    auto json = value_or_fail(parse_instance_json(render(info, write_instance_json)));
    EXPECT_EQ(json.metadata, info.metadata);

    info.metadata = {{"bad key", "1"}};
    EXPECT_NE(render(info, write_instance_xml)
                  .find(R"(<metadata class="java.util.Collections$EmptyMap"/>)"),
              std::string::npos);
}

TEST(CodecWriteTest, SidIsWrittenOnlyWhenMeaningful) {
    InstanceInfo info = orders_instance();
    for (const char* placeholder : {"", "na", "unknown"}) {
        info.sid = placeholder;
        EXPECT_EQ(render(info, write_instance_json).find("\"sid\""), std::string::npos);
        EXPECT_EQ(render(info, write_instance_xml).find("<sid>"), std::string::npos);
    }
    info.sid = "42";
    EXPECT_NE(render(info, write_instance_json).find(R"(,"sid":"42",)"), std::string::npos);
    EXPECT_NE(render(info, write_instance_xml).find("</ipAddr><sid>42</sid><status>"),
              std::string::npos);
}

TEST(CodecWriteTest, DataCenterOtherThanAmazonIsWrittenAsDefault) {
    InstanceInfo info = orders_instance();
    info.data_center_class = "com.netflix.appinfo.MyDataCenterInfo";
    info.data_center_name = "Netflix";
    info.data_center_metadata = {{"instance-id", "ignored"}};
    const std::string expected = R"("dataCenterInfo":{"@class":")" + std::string(kDefaultClass) +
                                 R"(","name":"Netflix"},"leaseInfo")";
    EXPECT_NE(render(info, write_instance_json).find(expected), std::string::npos);
    EXPECT_NE(render(info, write_instance_xml)
                  .find(R"(<dataCenterInfo class=")" + std::string(kDefaultClass) +
                        R"("><name>Netflix</name></dataCenterInfo>)"),
              std::string::npos);
}

TEST(CodecWriteTest, CoordinatingFlagTrue) {
    InstanceInfo info = orders_instance();
    info.is_coordinating_discovery_server = true;
    EXPECT_NE(render(info, write_instance_json).find(R"("isCoordinatingDiscoveryServer":"true")"),
              std::string::npos);
    EXPECT_NE(render(info, write_instance_xml)
                  .find("<isCoordinatingDiscoveryServer>true</isCoordinatingDiscoveryServer>"),
              std::string::npos);
}

TEST(CodecWriteTest, LargeRegistryRoundTrips) {
    Applications apps;
    for (int a = 0; a < 50; ++a) {
        Application app{"APP" + std::to_string(a), {}};
        for (int i = 0; i < 40; ++i) {
            InstanceInfo info = orders_1();
            info.app = app.name;
            info.instance_id = app.name + ":" + std::to_string(i);
            info.status = (i % 7 == 0) ? InstanceStatus::kDown : InstanceStatus::kUp;
            app.instances.push_back(std::move(info));
        }
        apps.applications.push_back(std::move(app));
    }
    const std::string json = render(apps, write_applications_json);
    const std::string xml = render(apps, write_applications_xml);
    auto from_json = value_or_fail(parse_applications_json(json));
    auto from_xml = value_or_fail(parse_applications_xml(xml));
    EXPECT_EQ(render(from_json, write_applications_json), json);
    EXPECT_EQ(render(from_xml, write_applications_xml), xml);
    ASSERT_EQ(from_json.applications.size(), 50u);
    EXPECT_EQ(from_json.applications[49].instances[39].instance_id, "APP49:39");
}

}  // namespace
}  // namespace orquestra::registry
