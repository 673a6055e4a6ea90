// EurekaClient against a real registry (RegistryNode on 127.0.0.1:0) and real tiny HTTP
// services; a fake registry only where the test needs a registry that lies (hashcodes).

#include "discovery/eureka_client.hpp"

#include "app/registry_node.hpp"
#include "http/server.hpp"
#include "registry/codec.hpp"
#include "test_http.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace orquestra::discovery {
namespace {

using namespace std::chrono_literals;

// Polls `pred` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 3s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

// A service that answers every request with `status` and counts what it received.
class TinyService {
public:
    explicit TinyService(boost::asio::io_context& io)
        : server_(io, http::ServerOptions{},
                  http::SyncHandler([this](http::Request&, http::Response& res) {
                      ++count_;
                      res.set(status_.load(), "text/plain", "ok");
                  })) {
        auto port = server_.start();
        EXPECT_TRUE(port);
        port_ = port ? *port : 0;
    }
    ~TinyService() { server_.stop(); }
    std::uint16_t port() const { return port_; }
    int count() const { return count_.load(); }
    void answer(int status) { status_ = status; }
    void stop() { server_.stop(); }

private:
    std::atomic<int> count_{0};
    std::atomic<int> status_{200};
    http::HttpServer server_;
    std::uint16_t port_ = 0;
};

registry::InstanceInfo make_instance(const std::string& app, const std::string& id,
                                     std::uint16_t port, const std::string& zone = "") {
    registry::InstanceInfo info;
    info.app = app;
    info.instance_id = id;
    info.host_name = "127.0.0.1";
    info.ip_addr = "127.0.0.1";
    info.port = {port, true};
    info.vip_address = app;
    if (!zone.empty()) info.set_metadata("zone", zone);
    return info;
}

class EurekaClientTest : public ::testing::Test {
protected:
    void SetUp() override {
        registry_ = std::make_unique<app::RegistryNode>(server_io_.io(), SystemClock::instance(),
                                                        app::RegistryNodeOptions{});
        auto port = registry_->start();
        ASSERT_TRUE(port) << port.error().message;
        registry_port_ = *port;
    }

    void TearDown() override {
        clients_.clear();  // deregisters while the registry still listens
        services_.clear();
        if (registry_) registry_->stop();
        if (guarded_registry_) guarded_registry_->stop();
        server_io_.stop();
        client_io_.stop();
    }

    std::string registry_url() const {
        return "http://127.0.0.1:" + std::to_string(registry_port_) + "/eureka";
    }

    EurekaClientOptions options() const {
        EurekaClientOptions o;
        o.registry_urls = {registry_url()};
        o.heartbeat_interval = 300ms;
        o.refresh_interval = 100ms;
        o.request_timeout = 1s;
        o.retry_backoff = 20ms;
        o.stop_timeout = 1s;
        return o;
    }

    EurekaClientOptions registering(const std::string& app, std::uint16_t port) const {
        auto o = options();
        o.instance = make_instance(app, "", port);
        o.instance.instance_id.clear();  // the client derives one
        o.fetch_registry = false;
        return o;
    }

    EurekaClient& client(EurekaClientOptions o) {
        clients_.push_back(std::make_unique<EurekaClient>(client_io_.io().get_executor(), o));
        clients_.back()->start();
        return *clients_.back();
    }

    TinyService& service() {
        services_.push_back(std::make_unique<TinyService>(server_io_.io()));
        return *services_.back();
    }

    void add(const registry::InstanceInfo& info) {
        auto r = registry_->registry().register_instance(info.app, info);
        ASSERT_TRUE(r) << r.error().message;
    }

    bool in_registry(const std::string& app, const std::string& id) {
        return registry_->registry().instance(app, id).has_value();
    }

    orquestra::testing::IoThreads server_io_{1};
    orquestra::testing::IoThreads client_io_{1};
    std::unique_ptr<app::RegistryNode> registry_;
    std::unique_ptr<app::RegistryNode> guarded_registry_;
    std::uint16_t registry_port_ = 0;
    std::vector<std::unique_ptr<TinyService>> services_;
    std::vector<std::unique_ptr<EurekaClient>> clients_;
};

TEST_F(EurekaClientTest, RegistersAndIsVisibleInTheRegistry) {
    auto& c = client(registering("orders", 9001));
    EXPECT_EQ(c.instance_id(), "127.0.0.1:orders:9001");
    ASSERT_TRUE(eventually([&] { return in_registry("ORDERS", c.instance_id()); }));
    auto info = registry_->registry().instance("ORDERS", c.instance_id());
    ASSERT_TRUE(info);
    EXPECT_EQ(info->status, registry::InstanceStatus::kUp);
    EXPECT_EQ(info->port.port, 9001);
    EXPECT_EQ(info->lease.duration_secs, 90);
    // The registry may see the instance before the client has read the 204 and counted it.
    EXPECT_TRUE(eventually([&] { return c.stats().registrations == 1u; }));
    // Also visible over the wire, as other clients see it.
    auto reply = orquestra::testing::request(registry_port_, "GET", "/eureka/apps/ORDERS", "",
                                             {{"Accept", "application/json"}});
    EXPECT_EQ(reply.status, 200);
    EXPECT_NE(reply.body.find("127.0.0.1:orders:9001"), std::string::npos);
}

TEST_F(EurekaClientTest, SendsRegistryCredentialsFromTheOptionsOrTheUrl) {
    // A second registry that asks for credentials (the fixture stops it with the first).
    app::RegistryNodeOptions guarded;
    guarded.api.auth = "eureka:p@ss:word";
    guarded_registry_ = std::make_unique<app::RegistryNode>(server_io_.io(),
                                                            SystemClock::instance(), guarded);
    auto port = guarded_registry_->start();
    ASSERT_TRUE(port) << port.error().message;
    registry_port_ = *port;  // options() and registering() point at it from now on
    auto in_guarded = [&](const std::string& app, const std::string& id) {
        return guarded_registry_->registry().instance(app, id).has_value();
    };

    // Without credentials the registry turns the client away.
    auto& none = client(registering("nobody", 9000));
    ASSERT_TRUE(eventually([&] { return none.stats().registration_failures >= 1u; }));
    EXPECT_FALSE(in_guarded("NOBODY", none.instance_id()));

    auto with_option = registering("orders", 9001);
    with_option.registry_auth = "eureka:p@ss:word";
    auto& a = client(with_option);
    // In the URL, percent-encoded as URLs need.
    auto in_url = registering("billing", 9002);
    in_url.registry_urls = {"http://eureka:p%40ss%3Aword@127.0.0.1:" +
                            std::to_string(registry_port_) + "/eureka"};
    in_url.fetch_registry = true;
    auto& b = client(in_url);
    EXPECT_TRUE(eventually([&] { return in_guarded("ORDERS", a.instance_id()); }));
    EXPECT_TRUE(eventually([&] { return in_guarded("BILLING", b.instance_id()); }));
    EXPECT_TRUE(eventually([&] { return b.stats().full_fetches >= 1u; }));
    EXPECT_TRUE(eventually([&] { return !b.up_instances("orders").empty(); }));
}

TEST_F(EurekaClientTest, HeartbeatsKeepAShortLeaseAlive) {
    auto o = registering("orders", 9001);
    o.lease_duration = 2s;
    auto& c = client(o);
    // A control instance with the same lease and no heartbeats: it must be evicted.
    auto control = make_instance("ORDERS", "control", 9002);
    control.lease.duration_secs = 2;
    add(control);
    ASSERT_TRUE(eventually([&] { return in_registry("ORDERS", c.instance_id()); }));
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return !in_registry("ORDERS", "control"); }, 5s));
    // Wait until 3 s have passed, then ours must still be there.
    std::this_thread::sleep_until(start + 3s);
    EXPECT_TRUE(in_registry("ORDERS", c.instance_id()));
    EXPECT_GE(c.stats().heartbeats, 5u);
    EXPECT_EQ(c.stats().registrations, 1u);
}

TEST_F(EurekaClientTest, DeregistersOnStop) {
    auto& c = client(registering("orders", 9001));
    ASSERT_TRUE(eventually([&] { return in_registry("ORDERS", c.instance_id()); }));
    c.stop();
    EXPECT_FALSE(in_registry("ORDERS", c.instance_id()));
    c.stop();  // idempotent
}

TEST_F(EurekaClientTest, ReRegistersAfterTheRegistryForgetsIt) {
    auto& c = client(registering("orders", 9001));
    ASSERT_TRUE(eventually([&] { return in_registry("ORDERS", c.instance_id()); }));
    ASSERT_TRUE(registry_->registry().cancel("ORDERS", c.instance_id()));
    ASSERT_FALSE(in_registry("ORDERS", c.instance_id()));
    ASSERT_TRUE(eventually([&] { return in_registry("ORDERS", c.instance_id()); }));
    EXPECT_TRUE(eventually([&] { return c.stats().registrations == 2u; }));
    EXPECT_GE(c.stats().heartbeats_not_found, 1u);
}

TEST_F(EurekaClientTest, CachedViewFollowsDeltas) {
    auto& c = client(options());
    std::mutex mu;
    std::multiset<std::string> changes;
    c.subscribe([&](const std::string& s) {
        std::lock_guard lock(mu);
        changes.insert(s);
    });
    ASSERT_TRUE(c.wait_until_fetched(3s));
    EXPECT_TRUE(c.up_instances("svc").empty());

    add(make_instance("SVC", "svc-1", 9101));
    ASSERT_TRUE(eventually([&] { return c.up_instances("svc").size() == 1; }));
    EXPECT_EQ(c.up_instances("SVC")[0].id, "svc-1");
    EXPECT_EQ(c.up_instances("SVC")[0].port, 9101);

    add(make_instance("SVC", "svc-2", 9102));
    ASSERT_TRUE(eventually([&] { return c.up_instances("svc").size() == 2; }));

    ASSERT_TRUE(registry_->registry().cancel("SVC", "svc-1"));
    ASSERT_TRUE(eventually([&] {
        auto up = c.up_instances("svc");
        return up.size() == 1 && up[0].id == "svc-2";
    }));
    // A status change is a MODIFIED delta entry: the instance leaves the UP list.
    ASSERT_TRUE(registry_->registry().set_status_override(
        "SVC", "svc-2", registry::InstanceStatus::kOutOfService, std::nullopt));
    ASSERT_TRUE(eventually([&] { return c.up_instances("svc").empty(); }));

    auto stats = c.stats();
    EXPECT_EQ(stats.full_fetches, 1u);  // everything after the first came from deltas
    EXPECT_GE(stats.delta_fetches, 4u);
    EXPECT_EQ(stats.hash_mismatches, 0u);
    std::lock_guard lock(mu);
    EXPECT_GE(changes.count("SVC"), 4u);
}

// A registry whose delta is always empty and whose hashcode says `delta_hash`.
class FakeRegistry {
public:
    FakeRegistry(boost::asio::io_context& io, std::string delta_hash)
        : delta_hash_(std::move(delta_hash)),
          server_(io, http::ServerOptions{},
                  http::SyncHandler([this](http::Request& req, http::Response& res) {
                      registry::Applications apps;
                      if (req.path() == "/eureka/apps/delta") {
                          ++deltas_;
                          apps.apps_hashcode = delta_hash_;
                      } else {
                          ++fulls_;
                          apps.apps_hashcode = "UP_1_";
                          apps.applications.push_back(
                              {"SVC", {make_instance("SVC", "svc-1", 9101)}});
                      }
                      std::string body;
                      registry::write_applications_json(apps, body);
                      res.set(200, "application/json", std::move(body));
                  })) {
        port_ = server_.start().value();
    }
    ~FakeRegistry() { server_.stop(); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/eureka"; }
    int fulls() const { return fulls_.load(); }
    int deltas() const { return deltas_.load(); }

private:
    std::string delta_hash_;
    std::atomic<int> fulls_{0};
    std::atomic<int> deltas_{0};
    http::HttpServer server_;
    std::uint16_t port_ = 0;
};

TEST_F(EurekaClientTest, HashcodeMismatchTriggersAFullFetch) {
    FakeRegistry fake(server_io_.io(), "UP_2_");
    auto o = options();
    o.registry_urls = {fake.url()};
    auto& c = client(o);
    // Each mismatch is followed by a full fetch (which lands a little after it is counted).
    ASSERT_TRUE(eventually([&] {
        const auto s = c.stats();
        return s.hash_mismatches >= 2 && s.full_fetches >= 3;
    })) << "mismatches " << c.stats().hash_mismatches << ", full fetches "
        << c.stats().full_fetches;
    EXPECT_GE(fake.fulls(), 3);
    EXPECT_EQ(c.stats().delta_fetches, 0u);
    EXPECT_EQ(c.up_instances("SVC").size(), 1u);
    c.stop();
}

TEST_F(EurekaClientTest, MatchingHashcodeKeepsUsingDeltas) {
    FakeRegistry fake(server_io_.io(), "UP_1_");
    auto o = options();
    o.registry_urls = {fake.url()};
    auto& c = client(o);
    ASSERT_TRUE(eventually([&] { return c.stats().delta_fetches >= 3; }));
    EXPECT_EQ(c.stats().full_fetches, 1u);
    EXPECT_EQ(fake.fulls(), 1);
    EXPECT_EQ(c.stats().hash_mismatches, 0u);
    c.stop();
}

TEST_F(EurekaClientTest, RotatesToTheNextRegistryUrl) {
    auto& dead = service();
    auto dead_port = dead.port();
    dead.stop();
    auto o = registering("orders", 9001);
    o.registry_urls = {"http://127.0.0.1:" + std::to_string(dead_port) + "/eureka",
                       registry_url()};
    auto& c = client(o);
    ASSERT_TRUE(eventually([&] { return in_registry("ORDERS", c.instance_id()); }));
    EXPECT_EQ(c.stats().registration_failures, 0u);  // the retry went to the second URL
}

TEST_F(EurekaClientTest, A5xxRegistryIsSkippedForRegistrationAndFetches) {
    auto& busy = service();
    busy.answer(503);
    const std::string busy_url = "http://127.0.0.1:" + std::to_string(busy.port()) + "/eureka";
    add(make_instance("USERS", "u1", 9100));
    auto o = registering("orders", 9001);
    o.fetch_registry = true;
    o.registry_urls = {busy_url, registry_url()};
    auto& c = client(o);
    ASSERT_TRUE(eventually([&] { return in_registry("ORDERS", c.instance_id()); }));
    ASSERT_TRUE(c.wait_until_fetched(3s));
    EXPECT_EQ(c.up_instances("USERS").size(), 1u);
    EXPECT_EQ(c.stats().registration_failures, 0u);
    EXPECT_GE(busy.count(), 1);
}

TEST_F(EurekaClientTest, HeartbeatsMoveToTheNextRegistryWhenOneGoesAway) {
    // A second registry node (no replication: the client itself must move its registration).
    app::RegistryNode second(server_io_.io(), SystemClock::instance(), app::RegistryNodeOptions{});
    auto second_port = second.start();
    ASSERT_TRUE(second_port);
    auto o = registering("orders", 9001);
    o.heartbeat_interval = 100ms;
    o.registry_urls = {registry_url(),
                       "http://127.0.0.1:" + std::to_string(*second_port) + "/eureka"};
    auto& c = client(o);
    ASSERT_TRUE(eventually([&] { return in_registry("ORDERS", c.instance_id()); }));
    EXPECT_FALSE(second.registry().instance("ORDERS", c.instance_id()));
    registry_->stop();
    // The next heartbeat goes to the second node, which does not know the instance (404): the
    // client registers there.
    ASSERT_TRUE(eventually(
        [&] { return second.registry().instance("ORDERS", c.instance_id()).has_value(); }));
    const auto heartbeats = c.stats().heartbeats;
    EXPECT_TRUE(eventually([&] { return c.stats().heartbeats >= heartbeats + 3; }));
    clients_.clear();  // deregisters from the second node
    EXPECT_FALSE(second.registry().instance("ORDERS", "127.0.0.1:orders:9001"));
    second.stop();
}

TEST_F(EurekaClientTest, RoundRobinSpreadsCallsOverTwoInstances) {
    auto& a = service();
    auto& b = service();
    add(make_instance("SVC", "a", a.port()));
    add(make_instance("SVC", "b", b.port()));
    auto& c = client(options());
    ASSERT_TRUE(eventually([&] { return c.up_instances("SVC").size() == 2; }));
    for (int i = 0; i < 10; ++i) {
        http::ClientRequest req;
        req.target = "/x";
        auto res = c.call_blocking("svc", req, 1s);
        ASSERT_TRUE(res) << res.error().message;
        EXPECT_EQ(res->status, 200);
    }
    EXPECT_EQ(a.count(), 5);
    EXPECT_EQ(b.count(), 5);
}

TEST_F(EurekaClientTest, PrefersInstancesInItsOwnZone) {
    add(make_instance("SVC", "in-a", 9201, "a"));
    add(make_instance("SVC", "in-b-1", 9202, "b"));
    add(make_instance("SVC", "in-b-2", 9203, "b"));
    auto o = options();
    o.zone = "b";
    auto& c = client(o);
    ASSERT_TRUE(eventually([&] { return c.up_instances("SVC").size() == 3; }));
    std::multiset<std::string> chosen;
    for (int i = 0; i < 6; ++i) chosen.insert(c.choose("svc").value().id);
    EXPECT_EQ(chosen.count("in-b-1"), 3u);
    EXPECT_EQ(chosen.count("in-b-2"), 3u);
    EXPECT_EQ(chosen.count("in-a"), 0u);
    // With no UP instance left in its zone, it takes another zone's.
    for (const char* id : {"in-b-1", "in-b-2"}) {
        ASSERT_TRUE(registry_->registry().set_status_override(
            "SVC", id, registry::InstanceStatus::kDown, std::nullopt));
    }
    ASSERT_TRUE(eventually([&] { return c.up_instances("SVC").size() == 1; }));
    EXPECT_EQ(c.choose("svc").value().id, "in-a");
    EXPECT_FALSE(c.choose("nope").has_value());
}

TEST_F(EurekaClientTest, CallFailsOverFromADeadInstance) {
    auto& dead = service();
    auto& alive = service();
    add(make_instance("SVC", "dead", dead.port()));
    add(make_instance("SVC", "alive", alive.port()));
    dead.stop();
    auto& c = client(options());
    ASSERT_TRUE(eventually([&] { return c.up_instances("SVC").size() == 2; }));
    for (int i = 0; i < 4; ++i) {
        http::ClientRequest req;
        req.target = "/x";
        auto res = c.call_blocking("svc", req, 1s);
        ASSERT_TRUE(res) << res.error().message;
        EXPECT_EQ(res->status, 200);
    }
    EXPECT_EQ(alive.count(), 4);
    auto none = c.call_blocking("other", {}, 1s);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
}

TEST_F(EurekaClientTest, ClientErrorsAreReturnedWithoutRetry) {
    auto& a = service();
    auto& b = service();
    a.answer(404);
    b.answer(404);
    add(make_instance("SVC", "a", a.port()));
    add(make_instance("SVC", "b", b.port()));
    auto& c = client(options());
    ASSERT_TRUE(eventually([&] { return c.up_instances("SVC").size() == 2; }));
    auto res = c.call_blocking("svc", {}, 1s);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404);
    EXPECT_EQ(a.count() + b.count(), 1);
}

TEST_F(EurekaClientTest, CircuitBreakerOpensSkipsHalfOpensAndCloses) {
    FakeClock clock;
    auto& bad = service();
    auto& good = service();
    bad.answer(503);
    add(make_instance("SVC", "bad", bad.port()));
    add(make_instance("SVC", "good", good.port()));
    auto o = options();
    o.clock = &clock;
    auto& c = client(o);
    ASSERT_TRUE(eventually([&] { return c.up_instances("SVC").size() == 2; }));
    auto call_ok = [&] {
        auto res = c.call_blocking("svc", {}, 1s);
        ASSERT_TRUE(res) << res.error().message;
        EXPECT_EQ(res->status, 200);  // a 503 fails over to the good instance
    };

    for (int i = 0; i < 6; ++i) call_ok();
    EXPECT_EQ(bad.count(), 3);
    EXPECT_EQ(c.breaker_state("svc", "bad"), BreakerState::kOpen);
    for (int i = 0; i < 6; ++i) call_ok();
    EXPECT_EQ(bad.count(), 3);  // skipped while open
    EXPECT_EQ(c.choose("svc").value().id, "good");

    // Half-open: one probe, which fails and re-opens the circuit.
    clock.advance(5'001);
    for (int i = 0; i < 4; ++i) call_ok();
    EXPECT_EQ(bad.count(), 4);
    EXPECT_EQ(c.breaker_state("svc", "bad"), BreakerState::kOpen);

    // The next probe comes after twice the back-off, succeeds and closes it; round robin
    // resumes.
    clock.advance(5'001);
    for (int i = 0; i < 2; ++i) call_ok();
    EXPECT_EQ(bad.count(), 4);  // still open: the failed probe doubled its back-off
    clock.advance(5'000);
    bad.answer(200);
    for (int i = 0; i < 2; ++i) call_ok();
    EXPECT_EQ(bad.count(), 5);
    EXPECT_EQ(c.breaker_state("svc", "bad"), BreakerState::kClosed);
    int before = bad.count();
    for (int i = 0; i < 4; ++i) call_ok();
    EXPECT_EQ(bad.count() - before, 2);
}

}  // namespace
}  // namespace orquestra::discovery
