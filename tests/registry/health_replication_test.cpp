// Health verdicts in a registry cluster. Unit level: which instances a node probes (those whose
// client talks to it) and how a replicated copy carries a verdict. End to end: two real nodes
// (registry, REST API, PeerReplicator and HealthChecker each, on 127.0.0.1:0) and a real HTTP
// health endpoint that the test turns unhealthy; an instance registers with node A through A's
// REST API, as its client would. A alone probes it, and A's verdicts (DOWN, then UP again)
// reach B's /eureka/apps; B, which the client never called, probes nothing and holds A's DOWN
// against the client's own UP. Rounds are driven by the test (probe_all), not by timers.

#include "registry/health_checker.hpp"

#include "core/strings.hpp"
#include "http/server.hpp"
#include "registry/codec.hpp"
#include "registry/eureka_api.hpp"
#include "registry/peer_replicator.hpp"
#include "test_http.hpp"
#include "wait.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>

namespace orquestra::registry {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::eventually;

InstanceInfo instance(const std::string& id, const std::string& health_url) {
    InstanceInfo i;
    i.instance_id = id;
    i.host_name = "localhost";
    i.app = "ORDERS";
    i.ip_addr = "127.0.0.1";
    i.vip_address = "orders";
    i.port = {8080, true};
    i.health_check_url = health_url;
    i.data_center_name = "MyOwn";
    i.last_dirty_timestamp = 1;
    return i;
}

InstanceStatus status_of(const InstanceRegistry& registry, const std::string& id) {
    auto i = registry.instance_by_id(id);
    return i ? i->status : InstanceStatus::kUnknown;
}

std::vector<std::string> target_ids(const InstanceRegistry& registry, bool direct_only) {
    std::vector<std::string> out;
    for (const auto& t : registry.health_targets(direct_only)) out.push_back(t.instance_id);
    std::sort(out.begin(), out.end());
    return out;
}

// ---- which instances a node probes, and what a replicated copy carries -----------------------

TEST(HealthOwnershipTest, ANodeProbesOnlyTheInstancesWhoseClientTalksToIt) {
    FakeClock clock;
    InstanceRegistry registry(clock);
    ASSERT_TRUE(registry.register_instance("ORDERS", instance("mine", "http://127.0.0.1:9000/")));
    ASSERT_TRUE(registry.register_instance("ORDERS", instance("peers", "http://127.0.0.1:9000/"),
                                           /*replication=*/true));
    EXPECT_EQ(target_ids(registry, false), (std::vector<std::string>{"mine", "peers"}));
    EXPECT_EQ(target_ids(registry, true), (std::vector<std::string>{"mine"}));

    // Renewals through a peer do not make it ours; the client's own do.
    RenewRequest replicated;
    replicated.replication = true;
    ASSERT_TRUE(registry.renew("ORDERS", "peers", replicated));
    EXPECT_EQ(target_ids(registry, true), (std::vector<std::string>{"mine"}));
    ASSERT_TRUE(registry.renew("ORDERS", "peers", RenewRequest{}));
    EXPECT_EQ(target_ids(registry, true), (std::vector<std::string>{"mine", "peers"}));

    // A client that stopped calling this node for a lease duration is another node's to probe;
    // only replicated renewals keep its lease here.
    clock.advance(60'000);
    ASSERT_TRUE(registry.renew("ORDERS", "mine", RenewRequest{}));
    ASSERT_TRUE(registry.renew("ORDERS", "peers", replicated));
    clock.advance(31'000);
    ASSERT_TRUE(registry.renew("ORDERS", "peers", replicated));
    EXPECT_EQ(target_ids(registry, true), (std::vector<std::string>{"mine"}));
}

TEST(HealthOwnershipTest, AReplicatedDownIsHeldUntilReleased) {
    FakeClock clock;
    InstanceRegistry registry(clock);
    auto info = instance("o1", "http://127.0.0.1:9000/");
    ASSERT_TRUE(registry.register_instance("ORDERS", info));
    // The peer that probes it found it failing: its copy arrives DOWN.
    auto down = info;
    down.status = InstanceStatus::kDown;
    ASSERT_TRUE(registry.register_instance("ORDERS", down, /*replication=*/true));
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kDown);
    // Its client, failing over to this node, says UP: the verdict stands.
    ASSERT_TRUE(registry.register_instance("ORDERS", info));
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kDown);
    // This node's own probes release it, as if it had reached the verdict itself.
    EXPECT_EQ(*registry.record_health("ORDERS", "o1", true, 3, 2), HealthChange::kNone);
    EXPECT_EQ(*registry.record_health("ORDERS", "o1", true, 3, 2), HealthChange::kMarkedUp);
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kUp);

    // Held again by a replicated DOWN, released by the replicated UP of the same peer.
    ASSERT_TRUE(registry.register_instance("ORDERS", down, true));
    ASSERT_TRUE(registry.register_instance("ORDERS", info, true));
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kUp);
    ASSERT_TRUE(registry.register_instance("ORDERS", info));
    EXPECT_EQ(status_of(registry, "o1"), InstanceStatus::kUp);

    // A replicated DOWN of an instance nobody probes (no healthCheckUrl) is its client's word,
    // not a verdict: its client's UP is taken.
    auto plain = instance("plain", "");
    auto plain_down = plain;
    plain_down.status = InstanceStatus::kDown;
    ASSERT_TRUE(registry.register_instance("ORDERS", plain_down, true));
    ASSERT_TRUE(registry.register_instance("ORDERS", plain));
    EXPECT_EQ(status_of(registry, "plain"), InstanceStatus::kUp);
}

// ---- two nodes over real HTTP ----------------------------------------------------------------

// A cluster node: registry, REST API and, once it joins, a PeerReplicator and a HealthChecker
// that probes what its clients registered here and replicates its verdicts.
class ClusterNode {
public:
    ClusterNode()
        : registry_(SystemClock::instance()),
          api_(registry_, EurekaApiOptions{}),
          server_(threads_.io(), http::ServerOptions{},
                  http::SyncHandler([this](http::Request& req, http::Response& res) {
                      api_.handle_sync(req, res);
                  })) {
        auto bound = server_.start();
        EXPECT_TRUE(bound);
        port_ = bound ? *bound : 0;
    }
    ~ClusterNode() {
        checker_.reset();
        checker_threads_.stop();
        server_.stop();
        if (replicator_) replicator_->stop();
        threads_.stop();
    }
    ClusterNode(const ClusterNode&) = delete;
    ClusterNode& operator=(const ClusterNode&) = delete;

    void join(std::vector<std::string> peers) {
        PeerReplicatorOptions options;
        options.peers = std::move(peers);
        replicator_ = std::make_unique<PeerReplicator>(registry_, options);
        api_.set_replication(replicator_.get());
        replicator_->set_self("127.0.0.1", port_);
        replicator_->start();
        HealthCheckOptions health;
        health.failure_threshold = 3;
        health.success_threshold = 2;
        health.direct_only = true;  // as RegistryNode sets it with peers
        checker_ = std::make_unique<HealthChecker>(checker_threads_.io(), registry_, health);
        checker_->set_replication(replicator_.get());
    }
    // One round of probes, all at once; returns when every probe has ended.
    void round() {
        auto done = asio::co_spawn(checker_threads_.io(), checker_->probe_all(), asio::use_future);
        ASSERT_EQ(done.wait_for(20s), std::future_status::ready);
        done.get();
    }
    // Registers as the instance's own client would (no replication header).
    int register_instance(const InstanceInfo& info) {
        std::string body;
        write_instance_json(info, body);
        return testing::request(port_, "POST", "/eureka/apps/" + info.app, body,
                                {{"Content-Type", "application/json"}})
            .status;
    }
    // The status clients of this node read for the instance: GET /eureka/apps/ORDERS.
    std::string status_seen(const std::string& id) {
        auto reply = testing::try_request(port_, "GET", "/eureka/apps/ORDERS",
                                          "", {{"Accept", "application/json"}});
        if (reply.status != 200) return "HTTP " + std::to_string(reply.status);
        auto app = parse_application_json(reply.body);
        if (!app) return "unreadable";
        for (const auto& i : app->instances) {
            if (i.instance_id == id) return std::string(to_string(i.status));
        }
        return "absent";
    }
    std::string url() const { return fmt::format("http://127.0.0.1:{}/eureka", port_); }
    InstanceRegistry& registry() { return registry_; }
    PeerReplicator& replicator() { return *replicator_; }

private:
    testing::IoThreads threads_{2};
    testing::IoThreads checker_threads_{1};
    InstanceRegistry registry_;
    EurekaApi api_;
    http::HttpServer server_;
    std::uint16_t port_ = 0;
    std::unique_ptr<PeerReplicator> replicator_;
    std::unique_ptr<HealthChecker> checker_;
};

class HealthReplicationTest : public ::testing::Test {
protected:
    void SetUp() override {
        health_server_ = std::make_unique<http::HttpServer>(
            health_threads_.io(), http::ServerOptions{},
            http::SyncHandler([this](http::Request&, http::Response& res) {
                if (failing_.load()) {
                    res.set(503, "text/plain", "down");
                } else {
                    res.set(200, "text/plain", "ok");
                }
            }));
        auto port = health_server_->start();
        ASSERT_TRUE(port);
        health_url_ = fmt::format("http://127.0.0.1:{}/health", *port);
    }
    void TearDown() override {
        health_server_->stop();
        health_threads_.stop();
    }

    testing::IoThreads health_threads_{1};
    std::unique_ptr<http::HttpServer> health_server_;
    std::string health_url_;
    std::atomic<bool> failing_{false};
};

TEST_F(HealthReplicationTest, OneNodeProbesAndEveryNodeShowsItsVerdict) {
    ClusterNode a, b;
    a.join({a.url(), b.url()});  // every node gets the same list; its own URL is ignored
    b.join({a.url(), b.url()});
    ASSERT_TRUE(a.replicator().wait_until_synced(5s));
    ASSERT_TRUE(b.replicator().wait_until_synced(5s));

    ASSERT_EQ(a.register_instance(instance("o1", health_url_)), 204);
    ASSERT_TRUE(eventually([&] { return b.status_seen("o1") == "UP"; }, 5s)) << b.status_seen("o1");

    // Only A, whose client it is, probes it.
    a.round();
    b.round();
    EXPECT_EQ(a.registry().counters().health_probes.load(), 1u);
    EXPECT_EQ(b.registry().counters().health_probes.load(), 0u);

    failing_ = true;
    for (int i = 0; i < 3; ++i) a.round();
    EXPECT_EQ(a.status_seen("o1"), "DOWN");
    const auto verdict_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] { return b.status_seen("o1") == "DOWN"; }, 5s))
        << b.status_seen("o1");
    EXPECT_LT(std::chrono::steady_clock::now() - verdict_at, 5s);
    EXPECT_EQ(a.registry().counters().health_marked_down.load(), 1u);
    EXPECT_EQ(b.registry().counters().health_probes.load(), 0u);

    // The client fails over to B and says UP there: B keeps A's verdict.
    ASSERT_EQ(b.register_instance(instance("o1", health_url_)), 204);
    EXPECT_EQ(b.status_seen("o1"), "DOWN");
    EXPECT_EQ(a.status_seen("o1"), "DOWN");

    // Healthy again: the probes (A's, and now B's too, the client having called it) bring it
    // back UP on both nodes.
    failing_ = false;
    ASSERT_TRUE(eventually(
        [&] {
            a.round();
            b.round();
            return a.status_seen("o1") == "UP" && b.status_seen("o1") == "UP";
        },
        10s))
        << a.status_seen("o1") << " " << b.status_seen("o1");
}

}  // namespace
}  // namespace orquestra::registry
