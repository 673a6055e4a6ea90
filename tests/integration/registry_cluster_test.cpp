// Three `orquestra registry` processes replicating to each other over real HTTP on 127.0.0.1:
// what is registered at one node is seen at the others, a renewal at any node keeps the lease
// alive everywhere, a node killed with SIGKILL leaves the others serving, and a node restarted
// converges with them.
#include "child_process.hpp"
#include "http/client.hpp"
#include "wait.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <thread>

namespace orquestra {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::eventually;
namespace json = boost::json;

struct Answer {
    int status = 0;  // 0: no connection
    std::string body;
};

Answer call(std::uint16_t port, std::string method, std::string target, std::string body = "") {
    http::ClientRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.headers.emplace_back("Accept", "application/json");
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    req.body = std::move(body);
    auto res = http::fetch(http::Endpoint{"127.0.0.1", port}, std::move(req), 2000ms);
    if (!res) return {};
    return {res->status, std::move(res->body)};
}

std::string instance(const std::string& app, const std::string& id, int lease_seconds) {
    return fmt::format(
        R"({{"instance":{{"instanceId":"{}","hostName":"127.0.0.1","app":"{}","ipAddr":"127.0.0.1",)"
        R"("status":"UP","port":{{"$":9000,"@enabled":"true"}},"vipAddress":"{}",)"
        R"("leaseInfo":{{"renewalIntervalInSecs":1,"durationInSecs":{}}},)"
        R"("dataCenterInfo":{{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}}}})",
        id, app, app, lease_seconds);
}

// The apps hashcode and the instance ids a node serves; nullopt when it does not answer 200.
struct Registry {
    std::string hashcode;
    std::set<std::string> ids;
    bool operator==(const Registry&) const = default;
};

std::optional<Registry> full_fetch(std::uint16_t port) {
    auto r = call(port, "GET", "/eureka/apps/");
    if (r.status != 200) return std::nullopt;
    boost::system::error_code ec;
    auto doc = json::parse(r.body, ec);
    if (ec) return std::nullopt;
    Registry out;
    const auto& apps = doc.at("applications").as_object();
    out.hashcode = std::string(apps.at("apps__hashcode").as_string());
    for (const auto& app : apps.at("application").as_array()) {
        for (const auto& i : app.at("instance").as_array()) {
            out.ids.insert(std::string(i.at("instanceId").as_string()));
        }
    }
    return out;
}

bool has(std::uint16_t port, const std::string& app, const std::string& id) {
    return call(port, "GET", "/eureka/apps/" + app + "/" + id).status == 200;
}

class RegistryClusterTest : public ::testing::Test {
protected:
    void SetUp() override {
        // Three free ports, known before any node starts: each node's peer list names them all
        // (its own URL included, which a node ignores). They are released just before the
        // nodes bind them.
        boost::asio::io_context io;
        std::vector<boost::asio::ip::tcp::acceptor> held;
        for (auto& port : ports_) {
            held.emplace_back(io, boost::asio::ip::tcp::endpoint(
                                      boost::asio::ip::make_address("127.0.0.1"), 0));
            port = held.back().local_endpoint().port();
        }
        for (std::size_t i = 0; i < ports_.size(); ++i) {
            peers_ += fmt::format("{}http://127.0.0.1:{}/eureka", i == 0 ? "" : ",", ports_[i]);
        }
    }

    void start(std::size_t i) {
        nodes_[i] = std::make_unique<ChildProcess>(std::vector<std::string>{
            ORQUESTRA_BINARY, "registry", "--port", std::to_string(ports_[i]), "--peers", peers_,
            "--threads", "1", "--no-self-preservation"});
        ASSERT_TRUE(nodes_[i]->started());
    }
    // Until the node answers full fetches (it has done its startup sync).
    void wait_serving(std::size_t i) {
        ASSERT_TRUE(eventually([&] { return full_fetch(ports_[i]).has_value(); }, 10s))
            << "node " << i << " does not serve; its log:\n"
            << nodes_[i]->read_all(200ms);
    }

    std::array<std::uint16_t, 3> ports_{};
    std::string peers_;
    std::array<std::unique_ptr<ChildProcess>, 3> nodes_;
};

TEST_F(RegistryClusterTest, ReplicatesRenewsSurvivesAKillAndConverges) {
    for (std::size_t i = 0; i < 3; ++i) start(i);
    for (std::size_t i = 0; i < 3; ++i) wait_serving(i);
    const auto a = ports_[0], b = ports_[1], c = ports_[2];

    // Registered at A → visible at B and C within 1 s. Lease 2 s, no renewals yet.
    ASSERT_EQ(call(a, "POST", "/eureka/apps/ORDERS", instance("ORDERS", "kept", 2)).status, 204);
    const auto registered = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return has(b, "ORDERS", "kept") && has(c, "ORDERS", "kept"); },
                           1s, 5ms))
        << "not at B and C within 1 s";
    const auto seen = std::chrono::steady_clock::now() - registered;
    EXPECT_LT(seen, 1s);

    // Renewals at B only keep it alive on all three; an instance nobody renews (same lease)
    // expires on all three, which shows the leases do run out.
    std::atomic<bool> renewing{true};
    std::thread renewer([&] {
        while (renewing) {
            call(b, "PUT", "/eureka/apps/ORDERS/kept");
            std::this_thread::sleep_for(250ms);
        }
    });
    ASSERT_EQ(call(a, "POST", "/eureka/apps/ORDERS", instance("ORDERS", "unrenewed", 2)).status,
              204);
    ASSERT_TRUE(eventually([&] { return has(c, "ORDERS", "unrenewed"); }, 1s, 5ms));
    auto evicted_everywhere = [&](const std::string& id) {
        for (auto port : {a, b, c}) {
            auto r = full_fetch(port);
            if (!r || r->ids.contains(id)) return false;
        }
        return true;
    };
    EXPECT_TRUE(eventually([&] { return evicted_everywhere("unrenewed"); }, 8s, 50ms))
        << "an unrenewed 2 s lease is still served";
    // By now well over one lease duration has passed since the registration.
    EXPECT_GT(std::chrono::steady_clock::now() - registered, 2s);
    for (auto port : {a, b, c}) EXPECT_TRUE(has(port, "ORDERS", "kept")) << "port " << port;

    // C killed: A and B keep serving, and keep replicating to each other.
    nodes_[2]->signal(SIGKILL);
    ASSERT_TRUE(nodes_[2]->wait(5s).has_value());
    EXPECT_EQ(call(c, "GET", "/eureka/apps/").status, 0);
    ASSERT_EQ(call(a, "POST", "/eureka/apps/BILLING", instance("BILLING", "while-c-down", 30)).status,
              204);
    EXPECT_TRUE(eventually([&] { return has(b, "BILLING", "while-c-down"); }, 1s, 5ms));
    ASSERT_EQ(call(b, "POST", "/eureka/apps/BILLING", instance("BILLING", "at-b", 30)).status, 204);
    EXPECT_TRUE(eventually([&] { return has(a, "BILLING", "at-b"); }, 1s, 5ms));
    EXPECT_TRUE(full_fetch(a).has_value());
    EXPECT_TRUE(full_fetch(b).has_value());
    EXPECT_TRUE(has(a, "ORDERS", "kept"));

    // C restarted: the same registry on all three within 5 s.
    const auto restarted = std::chrono::steady_clock::now();
    start(2);
    std::optional<Registry> at_a;
    EXPECT_TRUE(eventually(
        [&] {
            at_a = full_fetch(a);
            auto at_b = full_fetch(b);
            auto at_c = full_fetch(c);
            return at_a && at_b && at_c && *at_a == *at_b && *at_b == *at_c;
        },
        5s, 20ms))
        << "no convergence within 5 s; C's log:\n"
        << nodes_[2]->read_all(200ms);
    EXPECT_LT(std::chrono::steady_clock::now() - restarted, 5s);
    ASSERT_TRUE(at_a);
    EXPECT_EQ(at_a->hashcode, "UP_3_");
    EXPECT_EQ(at_a->ids, (std::set<std::string>{"kept", "while-c-down", "at-b"}));

    // And a change at the restarted node reaches the others.
    ASSERT_EQ(call(c, "DELETE", "/eureka/apps/BILLING/at-b").status, 200);
    EXPECT_TRUE(eventually([&] { return !has(a, "BILLING", "at-b") && !has(b, "BILLING", "at-b"); },
                           1s, 5ms));
    renewing = false;
    renewer.join();
}

}  // namespace
}  // namespace orquestra
