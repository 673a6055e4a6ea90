#include "registry/eureka_api.hpp"

#include "core/strings.hpp"
#include "http/compress.hpp"
#include "http/server.hpp"
#include "test_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>

namespace orquestra::registry {
namespace {

using testing::Reply;
using testing::request;
namespace json = boost::json;

constexpr const char* kJsonHeader = "application/json";

std::string instance_body(const std::string& app, const std::string& id, int port = 8080,
                          const std::string& status = "UP") {
    return R"({"instance":{"instanceId":")" + id + R"(","hostName":"127.0.0.1","app":")" + app +
           R"(","ipAddr":"127.0.0.1","status":")" + status + R"(","port":{"$":)" +
           std::to_string(port) +
           R"(,"@enabled":true},"vipAddress":")" + app +
           R"(","dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}})";
}

class EurekaApiTest : public ::testing::Test {
protected:
    void SetUp() override { start({}); }
    void start(EurekaApiOptions api_options, http::ServerOptions http_options = {}) {
        api_ = std::make_unique<EurekaApi>(registry_, api_options);
        server_ = std::make_unique<http::HttpServer>(
            threads_.io(), http_options,
            http::Handler([this](http::Request& req, http::Response& res) {
                return api_->handle(req, res);
            }));
        auto port = server_->start();
        ASSERT_TRUE(port);
        port_ = *port;
    }
    void TearDown() override {
        server_->stop();
        threads_.stop();
    }
    Reply get(const std::string& target, const std::string& accept = "") {
        std::vector<std::pair<std::string, std::string>> h;
        if (!accept.empty()) h.emplace_back("Accept", accept);
        return request(port_, "GET", target, "", h);
    }
    Reply register_json(const std::string& base, const std::string& app, const std::string& id,
                        int port = 8080) {
        return request(port_, "POST", base + "/apps/" + app, instance_body(app, id, port),
                       {{"Content-Type", kJsonHeader}});
    }

    FakeClock clock_;
    InstanceRegistry registry_{clock_};
    testing::IoThreads threads_{2};
    std::unique_ptr<EurekaApi> api_;
    std::unique_ptr<http::HttpServer> server_;
    std::uint16_t port_ = 0;
};

TEST_F(EurekaApiTest, RegisterAnswers204AndBothTreesSeeIt) {
    auto r = register_json("/eureka/v2", "orders", "o1");
    EXPECT_EQ(r.status, 204);
    EXPECT_TRUE(r.body.empty());
    for (std::string target : {"/eureka/v2/apps", "/eureka/v2/apps/", "/eureka/apps",
                               "/eureka/apps/"}) {
        auto all = get(target, "application/json");
        ASSERT_EQ(all.status, 200) << target;
        auto doc = json::parse(all.body);
        auto& apps = doc.at("applications").as_object();
        EXPECT_EQ(apps.at("versions__delta").as_string(), "1");
        EXPECT_EQ(apps.at("apps__hashcode").as_string(), "UP_1_");
        auto& list = apps.at("application").as_array();
        ASSERT_EQ(list.size(), 1u);
        EXPECT_EQ(list[0].at("name").as_string(), "ORDERS");
        EXPECT_TRUE(list[0].at("instance").is_array());
    }
}

TEST_F(EurekaApiTest, EmptyRegistryHasEmptyApplicationArray) {
    auto all = get("/eureka/v2/apps/", "application/json");
    ASSERT_EQ(all.status, 200);
    auto doc = json::parse(all.body);
    EXPECT_TRUE(doc.at("applications").at("application").as_array().empty());
    EXPECT_EQ(doc.at("applications").at("apps__hashcode").as_string(), "");
}

TEST_F(EurekaApiTest, XmlUnlessAcceptContainsJson) {
    ASSERT_EQ(register_json("/eureka", "orders", "o1").status, 204);
    for (std::string accept : {"", "*/*", "application/xml"}) {
        auto r = get("/eureka/apps", accept);
        ASSERT_EQ(r.status, 200);
        EXPECT_EQ(r.header("Content-Type"), "application/xml") << accept;
        EXPECT_NE(r.body.find("<applications>"), std::string::npos);
        EXPECT_NE(r.body.find("<name>ORDERS</name>"), std::string::npos);
    }
    auto r = get("/eureka/apps", "application/vnd.foo+json;q=0.9");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
}

TEST_F(EurekaApiTest, ChangesAreVisibleToTheVeryNextRead) {
    for (int i = 0; i < 20; ++i) {
        std::string id = "o" + std::to_string(i);
        ASSERT_EQ(register_json("/eureka/v2", "orders", id).status, 204);
        auto app = get("/eureka/v2/apps/ORDERS", "application/json");
        ASSERT_EQ(app.status, 200);
        auto doc = json::parse(app.body);
        EXPECT_EQ(doc.at("application").at("instance").as_array().size(),
                  static_cast<std::size_t>(i + 1));
    }
    ASSERT_EQ(request(port_, "DELETE", "/eureka/v2/apps/ORDERS/o0").status, 200);
    auto app = json::parse(get("/eureka/v2/apps/ORDERS", "application/json").body);
    EXPECT_EQ(app.at("application").at("instance").as_array().size(), 19u);
}

TEST_F(EurekaApiTest, RenewCancelAndTheirNotFounds) {
    ASSERT_EQ(register_json("/eureka/v2", "orders", "o1").status, 204);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/o1").status, 200);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/orders/o1?status=UP&lastDirtyTimestamp=1")
                  .status,
              200);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/o1?lastDirtyTimestamp=99999999999999")
                  .status,
              404);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/nope").status, 404);
    EXPECT_EQ(request(port_, "DELETE", "/eureka/v2/apps/ORDERS/o1").status, 200);
    EXPECT_EQ(request(port_, "DELETE", "/eureka/v2/apps/ORDERS/o1").status, 404);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/o1").status, 404);
}

TEST_F(EurekaApiTest, PercentEncodedSegmentsAreDecoded) {
    ASSERT_EQ(register_json("/eureka/v2", "orders", "127.0.0.1:orders:8080").status, 204);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/127.0.0.1%3Aorders%3A8080").status,
              200);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/127.0.0.1:orders:8080").status, 200);
    auto one = get("/eureka/v2/apps/ORDERS/127.0.0.1%3Aorders%3A8080", "application/json");
    ASSERT_EQ(one.status, 200);
    EXPECT_EQ(json::parse(one.body).at("instance").at("instanceId").as_string(),
              "127.0.0.1:orders:8080");
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/bad%zz").status, 400);
}

TEST_F(EurekaApiTest, OneAppAndInstanceLookups) {
    EXPECT_EQ(get("/eureka/v2/apps/ORDERS").status, 404);
    ASSERT_EQ(register_json("/eureka/v2", "orders", "o1").status, 204);
    auto app = get("/eureka/v2/apps/orders", "application/json");
    ASSERT_EQ(app.status, 200);
    EXPECT_EQ(json::parse(app.body).at("application").at("name").as_string(), "ORDERS");
    auto xml = get("/eureka/v2/apps/ORDERS/o1");
    ASSERT_EQ(xml.status, 200);
    EXPECT_NE(xml.body.find("<instance>"), std::string::npos);
    auto by_id = get("/eureka/v2/instances/o1", "application/json");
    ASSERT_EQ(by_id.status, 200);
    auto inst = json::parse(by_id.body).at("instance");
    EXPECT_EQ(inst.at("app").as_string(), "ORDERS");
    EXPECT_TRUE(inst.at("lastDirtyTimestamp").is_string());
    EXPECT_EQ(inst.at("port").at("@enabled").as_string(), "true");
    EXPECT_EQ(get("/eureka/v2/instances/none").status, 404);
    EXPECT_EQ(get("/eureka/v2/apps/ORDERS/none").status, 404);
}

TEST_F(EurekaApiTest, StatusOverrideAndRemoval) {
    ASSERT_EQ(register_json("/eureka/v2", "orders", "o1").status, 204);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/o1/status?value=OUT_OF_SERVICE").status,
              200);
    auto inst = json::parse(get("/eureka/v2/apps/ORDERS/o1", "application/json").body);
    EXPECT_EQ(inst.at("instance").at("status").as_string(), "OUT_OF_SERVICE");
    EXPECT_EQ(inst.at("instance").at("overriddenStatus").as_string(), "OUT_OF_SERVICE");
    auto bad = request(port_, "PUT", "/eureka/v2/apps/ORDERS/o1/status?value=SIDEWAYS");
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("SIDEWAYS"), std::string::npos);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/nope/status?value=UP").status, 404);
    EXPECT_EQ(request(port_, "DELETE", "/eureka/v2/apps/ORDERS/o1/status?value=UP").status, 200);
    inst = json::parse(get("/eureka/v2/apps/ORDERS/o1", "application/json").body);
    EXPECT_EQ(inst.at("instance").at("status").as_string(), "UP");
    EXPECT_EQ(request(port_, "DELETE", "/eureka/v2/apps/ORDERS/nope/status").status, 404);
}

TEST_F(EurekaApiTest, MetadataUpdate) {
    ASSERT_EQ(register_json("/eureka/v2", "orders", "o1").status, 204);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/o1/metadata?zone=east&v=2").status,
              200);
    auto inst = json::parse(get("/eureka/v2/apps/ORDERS/o1", "application/json").body);
    EXPECT_EQ(inst.at("instance").at("metadata").at("zone").as_string(), "east");
    EXPECT_EQ(inst.at("instance").at("metadata").at("v").as_string(), "2");
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/nope/metadata?a=b").status, 404);
}

TEST_F(EurekaApiTest, DeltaDocumentHasStringVersionAndFullHash) {
    ASSERT_EQ(register_json("/eureka/v2", "orders", "o1").status, 204);
    ASSERT_EQ(register_json("/eureka/v2", "users", "u1").status, 204);
    auto d1 = json::parse(get("/eureka/v2/apps/delta", "application/json").body);
    auto& apps = d1.at("applications");
    EXPECT_TRUE(apps.at("versions__delta").is_string());
    EXPECT_EQ(apps.at("apps__hashcode").as_string(), "UP_2_");
    EXPECT_EQ(apps.at("application").as_array().size(), 2u);
    EXPECT_EQ(apps.at("application").at(0).at("instance").at(0).at("actionType").as_string(),
              "ADDED");
    auto d2 = json::parse(get("/eureka/v2/apps/delta", "application/json").body);
    EXPECT_EQ(d2.at("applications").at("versions__delta"), apps.at("versions__delta"));
    ASSERT_EQ(request(port_, "DELETE", "/eureka/v2/apps/USERS/u1").status, 200);
    auto d3 = json::parse(get("/eureka/v2/apps/delta", "application/json").body);
    EXPECT_NE(d3.at("applications").at("versions__delta"), apps.at("versions__delta"));
    EXPECT_EQ(d3.at("applications").at("apps__hashcode").as_string(), "UP_1_");
    auto xml = get("/eureka/apps/delta");
    EXPECT_NE(xml.body.find("<versions__delta>"), std::string::npos);
}

TEST_F(EurekaApiTest, VipsAndSecureVips) {
    ASSERT_EQ(register_json("/eureka/v2", "orders", "o1").status, 204);
    auto v = json::parse(get("/eureka/v2/vips/orders", "application/json").body);
    EXPECT_EQ(v.at("applications").at("application").as_array().size(), 1u);
    EXPECT_EQ(v.at("applications").at("versions__delta").as_string(), "-1");
    auto none = get("/eureka/v2/vips/unknown", "application/json");
    EXPECT_EQ(none.status, 200);
    EXPECT_TRUE(json::parse(none.body).at("applications").at("application").as_array().empty());
    EXPECT_EQ(get("/eureka/v2/svips/unknown", "application/json").status, 200);
}

TEST_F(EurekaApiTest, GzipWhenAskedAndNever406) {
    ASSERT_EQ(register_json("/eureka/v2", "orders", "o1").status, 204);
    auto gz = request(port_, "GET", "/eureka/v2/apps/",
                      "", {{"Accept", "application/json"}, {"Accept-Encoding", "gzip, deflate"}});
    ASSERT_EQ(gz.status, 200);
    EXPECT_EQ(gz.header("Content-Encoding"), "gzip");
    std::string plain;
    ASSERT_TRUE(http::gzip_decompress(gz.body, plain, 1 << 20));
    EXPECT_EQ(json::parse(plain).at("applications").at("apps__hashcode").as_string(), "UP_1_");
    auto identity = request(port_, "GET", "/eureka/v2/apps/", "",
                            {{"Accept-Encoding", "identity"}});
    EXPECT_EQ(identity.status, 200);
    EXPECT_EQ(identity.header("Content-Encoding"), "");
    EXPECT_NE(identity.body.find("<applications>"), std::string::npos);
}

// The same document, whichever way it is asked for: gzip answers are assembled from the
// compressed per-app renderings, plain ones inflate them (or use a kept plain copy).
TEST_F(EurekaApiTest, GzipAndPlainAnswersCarryTheSameDocument) {
    for (int i = 0; i < 30; ++i) {
        std::string app = "app" + std::to_string(i % 4);
        ASSERT_EQ(register_json("/eureka/v2", app, "i" + std::to_string(i), 8000 + i).status, 204);
    }
    for (std::string target : {"/eureka/v2/apps/", "/eureka/v2/apps/APP2", "/eureka/v2/apps/delta",
                               "/eureka/v2/vips/app1"}) {
        for (std::string accept : {"application/json", "application/xml"}) {
            // Plain first and gzip second, then the other way round (another cache state).
            for (int round = 0; round < 2; ++round) {
                auto gz = request(port_, "GET", target, "",
                                  {{"Accept", accept}, {"Accept-Encoding", "gzip"}});
                auto plain = get(target, accept);
                ASSERT_EQ(gz.status, 200) << target;
                ASSERT_EQ(plain.status, 200) << target;
                EXPECT_EQ(gz.header("Content-Encoding"), "gzip") << target;
                EXPECT_EQ(plain.header("Content-Encoding"), "") << target;
                std::string inflated;
                ASSERT_TRUE(http::gzip_decompress(gz.body, inflated, 1 << 24)) << target;
                EXPECT_EQ(inflated, plain.body) << target << " " << accept;
                if (accept == "application/json") {
                    EXPECT_NO_THROW(json::parse(plain.body));
                }
            }
        }
    }
    auto all = json::parse(get("/eureka/v2/apps/", "application/json").body);
    EXPECT_EQ(all.at("applications").at("application").as_array().size(), 4u);
    EXPECT_EQ(all.at("applications").at("apps__hashcode").as_string(), "UP_30_");
}

TEST_F(EurekaApiTest, ChangesAreVisibleToTheNextGzipRead) {
    auto count = [&](const std::string& target) {
        auto gz = request(port_, "GET", target, "",
                          {{"Accept", "application/json"}, {"Accept-Encoding", "gzip"}});
        std::string text;
        EXPECT_TRUE(http::gzip_decompress(gz.body, text, 1 << 24));
        auto doc = json::parse(text);
        auto& apps = doc.as_object().contains("applications")
                         ? doc.at("applications").at("application").as_array()
                         : doc.at("application").at("instance").as_array();
        if (target.ends_with("/apps/")) {
            return apps.empty() ? std::size_t{0}
                                : apps.at(0).at("instance").as_array().size();
        }
        return apps.size();
    };
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(register_json("/eureka/v2", "orders", "o" + std::to_string(i)).status, 204);
        EXPECT_EQ(count("/eureka/v2/apps/"), static_cast<std::size_t>(i + 1));
        EXPECT_EQ(count("/eureka/v2/apps/ORDERS"), static_cast<std::size_t>(i + 1));
    }
    ASSERT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/o3/status?value=OUT_OF_SERVICE")
                  .status,
              200);
    auto gz = request(port_, "GET", "/eureka/v2/apps/ORDERS", "",
                      {{"Accept", "application/xml"}, {"Accept-Encoding", "gzip"}});
    std::string xml;
    ASSERT_TRUE(http::gzip_decompress(gz.body, xml, 1 << 24));
    EXPECT_NE(xml.find("<status>OUT_OF_SERVICE</status>"), std::string::npos);
    ASSERT_EQ(request(port_, "DELETE", "/eureka/v2/apps/ORDERS/o0").status, 200);
    EXPECT_EQ(count("/eureka/v2/apps/"), 4u);
    EXPECT_EQ(count("/eureka/v2/apps/ORDERS"), 4u);
}

TEST_F(EurekaApiTest, OnlyRenderingsAskedForAreKept) {
    for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(register_json("/eureka/v2", "app" + std::to_string(i % 3),
                                "i" + std::to_string(i)).status,
                  204);
    }
    EXPECT_EQ(api_->cache_stats().json_apps + api_->cache_stats().xml_apps, 0u);
    // A gzip full fetch in JSON: every app rendered once, in JSON only, and no plain copy.
    auto gz = request(port_, "GET", "/eureka/v2/apps/", "",
                      {{"Accept", "application/json"}, {"Accept-Encoding", "gzip"}});
    ASSERT_EQ(gz.status, 200);
    auto stats = api_->cache_stats();
    EXPECT_EQ(stats.json_apps, 3u);
    EXPECT_EQ(stats.xml_apps, 0u);
    EXPECT_GT(stats.deflated_bytes, 0u);
    EXPECT_EQ(stats.plain_copies, 0u);
    // A plain XML lookup renders that one app in XML and keeps its plain copy (within budget).
    ASSERT_EQ(get("/eureka/v2/apps/APP1", "application/xml").status, 200);
    stats = api_->cache_stats();
    EXPECT_EQ(stats.json_apps, 3u);
    EXPECT_EQ(stats.xml_apps, 1u);
    EXPECT_EQ(stats.plain_copies, 1u);
    EXPECT_GT(stats.plain_bytes, 0u);
    // A change makes the app's renderings stale; the next full fetch renders it again and the
    // stale plain copy goes.
    ASSERT_EQ(request(port_, "DELETE", "/eureka/v2/apps/APP1/i1").status, 200);
    ASSERT_EQ(request(port_, "DELETE", "/eureka/v2/apps/APP1/i4").status, 200);
    ASSERT_EQ(request(port_, "GET", "/eureka/v2/apps/", "",
                      {{"Accept", "application/json"}, {"Accept-Encoding", "gzip"}})
                  .status,
              200);
    stats = api_->cache_stats();
    EXPECT_EQ(stats.json_apps, 2u);  // APP1 has no instances left
    EXPECT_EQ(stats.xml_apps, 0u);
    EXPECT_EQ(stats.plain_copies, 0u);
    EXPECT_EQ(stats.plain_bytes, 0u);
}

TEST_F(EurekaApiTest, NoPlainCopiesWithoutBudgetAndAnswersStayWhole) {
    server_->stop();
    EurekaApiOptions options;
    options.plain_cache_bytes = 0;
    start(options);
    for (int i = 0; i < 10; ++i) {
        ASSERT_EQ(register_json("/eureka/v2", "orders", "o" + std::to_string(i)).status, 204);
    }
    for (int round = 0; round < 2; ++round) {
        auto all = get("/eureka/v2/apps/", "application/json");
        ASSERT_EQ(all.status, 200);
        EXPECT_EQ(json::parse(all.body)
                      .at("applications").at("application").at(0).at("instance")
                      .as_array().size(),
                  10u);
        auto one = get("/eureka/v2/apps/ORDERS");
        ASSERT_EQ(one.status, 200);
        EXPECT_NE(one.body.find("<instanceId>o9</instanceId>"), std::string::npos);
        EXPECT_TRUE(one.body.ends_with("</application>"));
    }
    EXPECT_EQ(api_->cache_stats().plain_copies, 0u);
    EXPECT_EQ(api_->cache_stats().plain_bytes, 0u);
    // Inflated answers count as short-lived text (what tells the node to trim when quiet);
    // cached gzip answers make none.
    const auto gzip_fetch = [&] {
        return request(port_, "GET", "/eureka/v2/apps/", "",
                       {{"Accept", "application/json"}, {"Accept-Encoding", "gzip"}})
            .status;
    };
    ASSERT_EQ(gzip_fetch(), 200);
    const auto before = api_->transient_bytes();
    ASSERT_EQ(gzip_fetch(), 200);
    EXPECT_EQ(api_->transient_bytes(), before);
    ASSERT_EQ(get("/eureka/v2/apps/ORDERS", "application/json").status, 200);
    EXPECT_GT(api_->transient_bytes(), before);
}

TEST_F(EurekaApiTest, XmlRegistration) {
    std::string body =
        "<instance><instanceId>x1</instanceId><hostName>h</hostName><app>XAPP</app>"
        "<ipAddr>10.1.1.1</ipAddr><status>UP</status><port enabled=\"true\">9000</port>"
        "<dataCenterInfo class=\"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo\">"
        "<name>MyOwn</name></dataCenterInfo></instance>";
    auto r = request(port_, "POST", "/eureka/v2/apps/XAPP", body,
                     {{"Content-Type", "application/xml"}});
    EXPECT_EQ(r.status, 204);
    auto inst = json::parse(get("/eureka/v2/apps/XAPP/x1", "application/json").body);
    EXPECT_EQ(inst.at("instance").at("port").at("$").to_number<int>(), 9000);
}

TEST_F(EurekaApiTest, RegistrationBodyMustBeJsonOrXml) {
    // A browser may send text/plain or a form across sites without asking first: refused.
    for (std::string type : {"text/plain", "text/plain; charset=utf-8",
                             "application/x-www-form-urlencoded", "multipart/form-data", ""}) {
        std::vector<std::pair<std::string, std::string>> headers;
        if (!type.empty()) headers.emplace_back("Content-Type", type);
        auto r = request(port_, "POST", "/eureka/v2/apps/ORDERS",
                         instance_body("ORDERS", "o1"), headers);
        EXPECT_EQ(r.status, 415) << type;
        EXPECT_NE(r.body.find("application/json"), std::string::npos) << r.body;
        EXPECT_EQ(get("/eureka/v2/apps/ORDERS").status, 404) << type;
    }
    // JSON and XML, with parameters and in any case, are accepted.
    auto json_body = request(port_, "POST", "/eureka/apps/ORDERS", instance_body("ORDERS", "o1"),
                             {{"Content-Type", "Application/JSON; charset=UTF-8"}});
    EXPECT_EQ(json_body.status, 204) << json_body.body;
    const std::string xml =
        "<instance><instanceId>o2</instanceId><hostName>h</hostName><app>ORDERS</app>"
        "<ipAddr>10.1.1.1</ipAddr><status>UP</status><port enabled=\"true\">9000</port>"
        "<dataCenterInfo class=\"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo\">"
        "<name>MyOwn</name></dataCenterInfo></instance>";
    EXPECT_EQ(request(port_, "POST", "/eureka/apps/ORDERS", xml,
                      {{"Content-Type", "text/xml; charset=utf-8"}})
                  .status,
              204);
    // Requests without a body need no Content-Type: renew, status override, cancel.
    EXPECT_EQ(request(port_, "PUT", "/eureka/apps/ORDERS/o1?status=UP").status, 200);
    EXPECT_EQ(request(port_, "PUT", "/eureka/apps/ORDERS/o1/status?value=OUT_OF_SERVICE").status,
              200);
    EXPECT_EQ(request(port_, "DELETE", "/eureka/apps/ORDERS/o2").status, 200);
}

TEST_F(EurekaApiTest, BadRegistrationsGet400WithReason) {
    struct Case {
        std::string body;
        std::string reason;
    };
    std::vector<Case> cases = {
        {"{not json", ""},
        {"[]", ""},
        {R"({"instance":{"app":"ORDERS","ipAddr":"1.1.1.1","dataCenterInfo":{"@class":"x","name":"MyOwn"}}})",
         "Missing hostname"},
        {R"({"instance":{"hostName":"h","app":"ORDERS","dataCenterInfo":{"@class":"x","name":"MyOwn"}}})",
         "Missing ip address"},
        {R"({"instance":{"hostName":"h","app":"ORDERS","ipAddr":"1.1.1.1"}})",
         "Missing dataCenterInfo"},
        {R"({"instance":{"hostName":"h","ipAddr":"1.1.1.1","dataCenterInfo":{"@class":"x","name":"MyOwn"}}})",
         "Missing appName"},
        {R"({"instance":{"hostName":"h","app":"OTHER","ipAddr":"1.1.1.1","dataCenterInfo":{"@class":"x","name":"MyOwn"}}})",
         "Mismatched appName"},
        {R"({"instance":{"hostName":"h","app":"ORDERS","ipAddr":"1.1.1.1","port":{"$":"abc"},"dataCenterInfo":{"@class":"x","name":"MyOwn"}}})",
         "port"},
    };
    for (const auto& c : cases) {
        auto r = request(port_, "POST", "/eureka/v2/apps/ORDERS", c.body,
                         {{"Content-Type", kJsonHeader}});
        EXPECT_EQ(r.status, 400) << c.body;
        EXPECT_NE(r.body.find(c.reason), std::string::npos) << r.body;
    }
    auto xml = request(port_, "POST", "/eureka/v2/apps/ORDERS", "<instance><hostName>",
                       {{"Content-Type", "application/xml"}});
    EXPECT_EQ(xml.status, 400);
    EXPECT_EQ(get("/eureka/v2/apps/ORDERS").status, 404);
}

TEST_F(EurekaApiTest, OversizedBodyIs413AndServerGoesOn) {
    std::string big(2 << 20, 'x');
    auto r = request(port_, "POST", "/eureka/v2/apps/ORDERS", big,
                     {{"Content-Type", kJsonHeader}});
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(register_json("/eureka/v2", "orders", "o1").status, 204);
}

TEST_F(EurekaApiTest, AbsurdPathsAndMethods) {
    EXPECT_EQ(get("/eureka/v2/apps/A/B/C/D/E/F").status, 404);
    EXPECT_EQ(get("/nothing/here").status, 404);
    EXPECT_EQ(get("/eureka/v2/apps/" + std::string(5000, 'a')).status, 414);
    EXPECT_EQ(request(port_, "PATCH", "/eureka/v2/apps/ORDERS").status, 405);
    EXPECT_EQ(request(port_, "POST", "/eureka/v2/apps/ORDERS/o1/metadata").status, 405);
}

TEST_F(EurekaApiTest, OversizedHeaderIs431AndServerGoesOn) {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    sock.connect({asio::ip::make_address("127.0.0.1"), port_});
    std::string req = "GET /eureka/v2/apps HTTP/1.1\r\nHost: x\r\nX-Huge: " +
                      std::string(64 * 1024, 'h') + "\r\n\r\n";
    boost::system::error_code ec;
    asio::write(sock, asio::buffer(req), ec);
    std::string reply;
    std::array<char, 4096> buf{};
    for (;;) {
        auto n = sock.read_some(asio::buffer(buf), ec);
        if (ec) break;
        reply.append(buf.data(), n);
    }
    EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 431");
    EXPECT_EQ(get("/eureka/v2/apps").status, 200);
}

TEST_F(EurekaApiTest, GarbageOnTheSocketClosesOnlyThatConnection) {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    sock.connect({asio::ip::make_address("127.0.0.1"), port_});
    std::string garbage = "\x01\x02 GARBAGE \xff\xfe\r\n\r\n";
    asio::write(sock, asio::buffer(garbage));
    std::string reply;
    boost::system::error_code ec;
    std::array<char, 4096> buf{};
    for (;;) {
        auto n = sock.read_some(asio::buffer(buf), ec);
        if (ec) break;
        reply.append(buf.data(), n);
    }
    EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 400");
    EXPECT_EQ(get("/eureka/v2/apps", "application/json").status, 200);
}

TEST_F(EurekaApiTest, StalledClientDoesNotBlockOthers) {
    namespace asio = boost::asio;
    asio::io_context io;
    std::vector<asio::ip::tcp::socket> stalled;
    for (int i = 0; i < 8; ++i) {
        stalled.emplace_back(io);
        stalled.back().connect({asio::ip::make_address("127.0.0.1"), port_});
        asio::write(stalled.back(), asio::buffer(std::string("POST /eureka/v2/apps/X HTTP/1.1\r\n")));
    }
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) ASSERT_EQ(get("/eureka/v2/apps").status, 200);
    auto elapsed = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST_F(EurekaApiTest, StalledClientIsCutOffAfterTheRequestTimeout) {
    server_->stop();
    http::ServerOptions opts;
    opts.request_timeout = std::chrono::milliseconds(200);
    start({}, opts);
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket sock(io);
    sock.connect({asio::ip::make_address("127.0.0.1"), port_});
    asio::write(sock, asio::buffer(std::string("GET /eureka/v2/apps HTTP/1.1\r\nHost: x\r\n")));
    std::array<char, 256> buf{};
    boost::system::error_code ec;
    auto t0 = std::chrono::steady_clock::now();
    sock.read_some(asio::buffer(buf), ec);  // returns when the server closes
    EXPECT_TRUE(ec);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST_F(EurekaApiTest, BasicAuthWhenConfigured) {
    server_->stop();
    start(EurekaApiOptions{"eureka:s3cret", "test"});
    EXPECT_EQ(get("/eureka/v2/apps").status, 401);
    auto wrong = request(port_, "GET", "/eureka/v2/apps", "",
                         {{"Authorization", "Basic " + base64_encode("eureka:nope")}});
    EXPECT_EQ(wrong.status, 401);
    auto right = request(port_, "GET", "/eureka/v2/apps", "",
                         {{"Authorization", "Basic " + base64_encode("eureka:s3cret")}});
    EXPECT_EQ(right.status, 200);
    EXPECT_EQ(get("/health").status, 200);
    // Near misses: a prefix, a longer password, the parts moved across the colon.
    for (std::string creds : {"eureka:s3cre", "eureka:s3cret!", "eureka:", "eurek:as3cret",
                              "eureka:s3cret:", "EUREKA:s3cret", ":"}) {
        auto r = request(port_, "GET", "/eureka/v2/apps", "",
                         {{"Authorization", "Basic " + base64_encode(creds)}});
        EXPECT_EQ(r.status, 401) << creds;
    }
}

TEST_F(EurekaApiTest, StatusPageAndMetrics) {
    ASSERT_EQ(register_json("/eureka/v2", "orders", "o1").status, 204);
    EXPECT_EQ(request(port_, "PUT", "/eureka/v2/apps/ORDERS/o1").status, 200);
    auto page = get("/");
    ASSERT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("ORDERS"), std::string::npos);
    EXPECT_NE(page.body.find("o1"), std::string::npos);
    auto metrics = get("/metrics");
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("orquestra_registry_registrations_total 1"), std::string::npos);
    EXPECT_NE(metrics.body.find("orquestra_registry_renewals_total 1"), std::string::npos);
    EXPECT_NE(metrics.body.find("orquestra_registry_instances{status=\"UP\"} 1"),
              std::string::npos);
    EXPECT_NE(metrics.body.find("orquestra_registry_request_duration_seconds_count{operation=\"register\"} 1"),
              std::string::npos);
}

}  // namespace
}  // namespace orquestra::registry
