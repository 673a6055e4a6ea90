#include "registry/health_checker.hpp"

#include "http/server.hpp"
#include "test_http.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>

namespace orquestra::registry {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

HealthTarget target(std::string url) {
    return {"ORDERS", "o1", "box1", "127.0.0.1", std::move(url)};
}

TEST(PlanProbeTest, ProbesPlainHttpToTheInstancesOwnAddress) {
    auto plan = plan_probe(target("http://127.0.0.1:8080/health?deep=1"));
    ASSERT_TRUE(plan) << plan.error().message;
    EXPECT_EQ(plan->endpoint.host, "127.0.0.1");
    EXPECT_EQ(plan->endpoint.port, 8080);
    EXPECT_EQ(plan->target, "/health?deep=1");
    // The host name is accepted, and the connection still goes to the address (no lookup).
    plan = plan_probe(target("HTTP://BOX1/health#frag"));
    ASSERT_TRUE(plan) << plan.error().message;
    EXPECT_EQ(plan->endpoint.host, "127.0.0.1");
    EXPECT_EQ(plan->endpoint.port, 80);
    EXPECT_EQ(plan->target, "/health");
    plan = plan_probe(target("http://127.0.0.1:9000"));
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->target, "/");
}

TEST(PlanProbeTest, RefusesHostileUrls) {
    const std::pair<std::string, std::string> cases[] = {
        {"https://127.0.0.1:8443/health", "https"},
        {"ftp://127.0.0.1:2121/x", "not an http:// URL"},
        {"file:///etc/passwd", "not an http:// URL"},
        {"127.0.0.1:8080/health", "not an http:// URL"},
        {"http://169.254.169.254/latest/meta-data", "not the instance's own"},
        {"http://other-host:8080/health", "not the instance's own"},
        {"http://user:pw@127.0.0.1:8080/health", "credentials"},
        {"http://127.0.0.1:22/", "below 1024"},
        {"http://127.0.0.1:0/", "bad port"},
        {"http://127.0.0.1:99999/", "bad port"},
        {"http://127.0.0.1:8080/he alth", "path"},
        {"http://127.0.0.1:8080/h\r\nX-Evil: 1", "path"},
        {"http://127.0.0.1:8080/" + std::string(5000, 'a'), "longer than 2048"},
    };
    for (const auto& [url, reason] : cases) {
        auto plan = plan_probe(target(url));
        ASSERT_FALSE(plan) << url;
        EXPECT_NE(plan.error().message.find(reason), std::string::npos)
            << url << ": " << plan.error().message;
    }
    HealthTarget named = target("http://box1:8080/health");
    named.ip_addr = "box1";  // not an address: would need a lookup
    EXPECT_FALSE(plan_probe(named));
}

TEST(ProbeOffsetTest, SpreadsProbesEvenlyOverTheInterval) {
    const milliseconds interval(10'000);
    EXPECT_EQ(probe_offset(0, 1, interval), milliseconds(0));
    std::vector<milliseconds> offsets;
    for (std::size_t i = 0; i < 10'000; ++i) offsets.push_back(probe_offset(i, 10'000, interval));
    EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
    EXPECT_EQ(offsets.front(), milliseconds(0));
    EXPECT_EQ(offsets[5'000], milliseconds(5'000));
    EXPECT_LT(offsets.back(), interval);
    // No millisecond holds more than one of 10,000 probes over 10 s.
    EXPECT_EQ(std::set<milliseconds>(offsets.begin(), offsets.end()).size(), 10'000u);
}

InstanceInfo instance(const std::string& id, const std::string& health_url) {
    InstanceInfo i;
    i.instance_id = id;
    i.host_name = "localhost";
    i.app = "ORDERS";
    i.ip_addr = "127.0.0.1";
    i.vip_address = "orders";
    i.health_check_url = health_url;
    i.data_center_name = "MyOwn";
    i.last_dirty_timestamp = 1;
    return i;
}

InstanceStatus status_of(const InstanceRegistry& registry, const std::string& id) {
    auto i = registry.instance_by_id(id);
    return i ? i->status : InstanceStatus::kUnknown;
}

TEST(RecordHealthTest, FailuresHoldAnInstanceDownUntilSuccessesReleaseIt) {
    FakeClock clock;
    InstanceRegistry registry(clock);
    ASSERT_TRUE(registry.register_instance("ORDERS", instance("o1", "http://127.0.0.1:1/")));
    ASSERT_TRUE(registry.register_instance("ORDERS", instance("o2", "http://127.0.0.1:1/")));
    const std::string hash_before = registry.delta().apps_hashcode;
    EXPECT_EQ(hash_before, "UP_2_");

    for (int i = 0; i < 2; ++i) {
        auto change = registry.record_health("orders", "o1", false, 3, 2);
        ASSERT_TRUE(change);
        EXPECT_EQ(*change, HealthChange::kNone);
    }
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kUp);
    ASSERT_EQ(*registry.record_health("ORDERS", "o1", false, 3, 2), HealthChange::kMarkedDown);
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kDown);

    // The next delta carries it, with a hashcode that counts it DOWN.
    auto delta = registry.delta();
    EXPECT_EQ(delta.apps_hashcode, "DOWN_1_UP_1_");
    ASSERT_EQ(delta.applications.size(), 1u);
    const auto& changed = delta.applications[0].instances;
    auto o1 = std::find_if(changed.begin(), changed.end(),
                           [](const InstanceInfo& i) { return i.instance_id == "o1"; });
    ASSERT_NE(o1, changed.end());
    EXPECT_EQ(o1->status, InstanceStatus::kDown);
    EXPECT_EQ(o1->action_type, ActionType::kModified);
    EXPECT_EQ(registry.up_instances("ORDERS").size(), 1u);

    // The client's heartbeats still renew it; a status it reports (UP) does not free it.
    RenewRequest renew;
    renew.status = InstanceStatus::kUp;
    renew.last_dirty_timestamp = 1;
    ASSERT_TRUE(registry.renew("ORDERS", "o1", renew));
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kDown);
    ASSERT_TRUE(registry.register_instance("ORDERS", instance("o1", "http://127.0.0.1:1/")));
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kDown);
    EXPECT_EQ(*registry.record_health("ORDERS", "o1", false, 3, 2), HealthChange::kNone);

    // Two good probes in a row bring it back; a failure in between starts the count again.
    EXPECT_EQ(*registry.record_health("ORDERS", "o1", true, 3, 2), HealthChange::kNone);
    EXPECT_EQ(*registry.record_health("ORDERS", "o1", false, 3, 2), HealthChange::kNone);
    EXPECT_EQ(*registry.record_health("ORDERS", "o1", true, 3, 2), HealthChange::kNone);
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kDown);
    EXPECT_EQ(*registry.record_health("ORDERS", "o1", true, 3, 2), HealthChange::kMarkedUp);
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kUp);
    EXPECT_EQ(registry.delta().apps_hashcode, "UP_2_");
    EXPECT_EQ(registry.counters().health_marked_down.load(), 1u);
    EXPECT_EQ(registry.counters().health_marked_up.load(), 1u);
    EXPECT_FALSE(registry.record_health("ORDERS", "nope", true, 3, 2));
}

TEST(RecordHealthTest, AClientsOwnStatusIsNotOverwritten) {
    FakeClock clock;
    InstanceRegistry registry(clock);
    auto info = instance("o1", "http://127.0.0.1:1/");
    info.status = InstanceStatus::kOutOfService;
    ASSERT_TRUE(registry.register_instance("ORDERS", info));
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(*registry.record_health("ORDERS", "o1", false, 3, 2), HealthChange::kNone);
    }
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kOutOfService);
    // Once it reports UP while its checks still fail, the next failure marks it DOWN.
    info.status = InstanceStatus::kUp;
    info.last_dirty_timestamp = 2;
    ASSERT_TRUE(registry.register_instance("ORDERS", info));
    EXPECT_EQ(*registry.record_health("ORDERS", "o1", false, 3, 2), HealthChange::kMarkedDown);
}

// A registry whose instances point their health checks at a real server on loopback.
class HealthCheckerTest : public ::testing::Test {
protected:
    void SetUp() override {
        server_ = std::make_unique<http::HttpServer>(
            server_threads_.io(), http::ServerOptions{},
            http::SyncHandler([this](http::Request& req, http::Response& res) {
                if (req.target() == "/good") {
                    res.set(200, "text/plain", "ok");
                } else if (req.target() == "/flaky" && !failing_.load()) {
                    res.set(200, "text/plain", "{\"status\":\"UP\"}");
                } else {
                    res.set(503, "text/plain", "down");
                }
            }));
        auto port = server_->start();
        ASSERT_TRUE(port);
        port_ = *port;
    }
    void TearDown() override {
        checker_.reset();
        checker_threads_.stop();
        server_->stop();
        server_threads_.stop();
    }
    std::string url(std::string_view path) const {
        return fmt::format("http://127.0.0.1:{}{}", port_, path);
    }
    void round() {
        auto done = asio::co_spawn(checker_threads_.io(), checker_->probe_all(), asio::use_future);
        ASSERT_EQ(done.wait_for(std::chrono::seconds(20)), std::future_status::ready);
        done.get();
    }

    FakeClock clock_;
    InstanceRegistry registry_{clock_};
    testing::IoThreads server_threads_{1};
    testing::IoThreads checker_threads_{1};
    std::unique_ptr<http::HttpServer> server_;
    std::uint16_t port_ = 0;
    std::atomic<bool> failing_{false};
    std::unique_ptr<HealthChecker> checker_;
};

TEST_F(HealthCheckerTest, FailingEndpointGoesDownAfterNProbesAndBackUpAfterM) {
    ASSERT_TRUE(registry_.register_instance("ORDERS", instance("good", url("/good"))));
    ASSERT_TRUE(registry_.register_instance("ORDERS", instance("flaky", url("/flaky"))));
    ASSERT_TRUE(registry_.register_instance("ORDERS", instance("unchecked", "")));
    HealthCheckOptions options;
    options.failure_threshold = 3;
    options.success_threshold = 2;
    options.timeout = milliseconds(2'000);
    checker_ = std::make_unique<HealthChecker>(checker_threads_.io(), registry_, options);

    round();
    EXPECT_EQ(registry_.counters().health_probes.load(), 2u);  // the one without a URL is not
    EXPECT_EQ(status_of(registry_, "flaky"), InstanceStatus::kUp);

    failing_ = true;
    round();
    round();
    EXPECT_EQ(status_of(registry_, "flaky"), InstanceStatus::kUp);
    round();
    EXPECT_EQ(status_of(registry_, "flaky"), InstanceStatus::kDown);
    EXPECT_EQ(status_of(registry_, "good"), InstanceStatus::kUp);
    EXPECT_EQ(status_of(registry_, "unchecked"), InstanceStatus::kUp);

    failing_ = false;
    round();
    EXPECT_EQ(status_of(registry_, "flaky"), InstanceStatus::kDown);
    round();
    EXPECT_EQ(status_of(registry_, "flaky"), InstanceStatus::kUp);
    EXPECT_EQ(status_of(registry_, "good"), InstanceStatus::kUp);
    EXPECT_EQ(registry_.counters().health_probe_failures.load(), 3u);
    EXPECT_EQ(registry_.counters().health_marked_down.load(), 1u);
    EXPECT_EQ(registry_.counters().health_marked_up.load(), 1u);
}

TEST_F(HealthCheckerTest, UnprobeableUrlsAreSkippedAndLeaveTheInstanceAlone) {
    ASSERT_TRUE(registry_.register_instance(
        "ORDERS", instance("elsewhere", "http://169.254.169.254/latest/meta-data")));
    ASSERT_TRUE(registry_.register_instance("ORDERS", instance("ssh", "http://127.0.0.1:22/")));
    HealthCheckOptions options;
    options.failure_threshold = 1;
    checker_ = std::make_unique<HealthChecker>(checker_threads_.io(), registry_, options);
    round();
    round();
    EXPECT_EQ(checker_->skipped(), 4u);
    EXPECT_EQ(registry_.counters().health_probes.load(), 0u);
    EXPECT_EQ(status_of(registry_, "elsewhere"), InstanceStatus::kUp);
    EXPECT_EQ(status_of(registry_, "ssh"), InstanceStatus::kUp);
}

// A listener that accepts connections and never answers; counts how many are open at once.
// Runs on a thread of its own, stopped (with every connection dropped) by its destructor.
class SilentServer {
public:
    SilentServer() : acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        asio::co_spawn(io_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~SilentServer() {
        io_.stop();
        thread_.join();
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    int max_open() const { return max_open_.load(); }
    int accepted() const { return accepted_.load(); }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            ++accepted_;
            const int now = ++open_;
            int seen = max_open_.load();
            while (now > seen && !max_open_.compare_exchange_weak(seen, now)) {
            }
            asio::co_spawn(acceptor_.get_executor(), hold(std::move(socket)), asio::detached);
        }
    }
    asio::awaitable<void> hold(asio::ip::tcp::socket socket) {
        char buffer[4096];
        for (;;) {
            auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer),
                                                           asio::as_tuple(asio::use_awaitable));
            if (ec) break;
        }
        --open_;
    }

    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
    std::atomic<int> open_{0};
    std::atomic<int> max_open_{0};
    std::atomic<int> accepted_{0};
};

TEST_F(HealthCheckerTest, ProbesInFlightStayWithinTheBound) {
    SilentServer silent;
    const std::string hung = fmt::format("http://127.0.0.1:{}/health", silent.port());
    constexpr int kInstances = 40;
    for (int i = 0; i < kInstances; ++i) {
        ASSERT_TRUE(registry_.register_instance("ORDERS", instance(fmt::format("i{}", i), hung)));
    }
    HealthCheckOptions options;
    options.max_in_flight = 8;
    options.timeout = milliseconds(100);
    checker_ = std::make_unique<HealthChecker>(checker_threads_.io(), registry_, options);
    const auto started = std::chrono::steady_clock::now();
    round();
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(checker_->max_in_flight_seen(), 8u);
    EXPECT_LE(silent.max_open(), 8);
    EXPECT_EQ(silent.accepted(), kInstances);
    EXPECT_EQ(registry_.counters().health_probe_failures.load(), std::uint64_t{kInstances});
    // Five waves of timed-out probes, not one, and not forty.
    EXPECT_GE(took, milliseconds(5 * 100));
    EXPECT_EQ(checker_->in_flight(), 0u);
}

TEST_F(HealthCheckerTest, RoundsRunOnTheirOwnSpreadOverTheInterval) {
    ASSERT_TRUE(registry_.register_instance("ORDERS", instance("flaky", url("/flaky"))));
    failing_ = true;
    HealthCheckOptions options;
    options.interval = milliseconds(20);
    options.failure_threshold = 2;
    checker_ = std::make_unique<HealthChecker>(checker_threads_.io(), registry_, options);
    checker_->start();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (status_of(registry_, "flaky") != InstanceStatus::kDown &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(5));
    }
    EXPECT_EQ(status_of(registry_, "flaky"), InstanceStatus::kDown);
    EXPECT_GE(registry_.counters().health_probes.load(), 2u);
    checker_->stop();
}

}  // namespace
}  // namespace orquestra::registry
