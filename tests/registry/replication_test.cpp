#include "registry/replication_batch.hpp"

#include "core/strings.hpp"
#include "http/server.hpp"
#include "registry/codec.hpp"
#include "registry/eureka_api.hpp"
#include "registry/peer_replicator.hpp"
#include "test_http.hpp"
#include "wait.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

namespace orquestra::registry {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::request;

InstanceInfo make_instance(const std::string& app, const std::string& id, Millis dirty = 0) {
    InstanceInfo info;
    info.instance_id = id;
    info.host_name = "127.0.0.1";
    info.ip_addr = "127.0.0.1";
    info.app = app;
    info.vip_address = to_lower(app);
    info.port = {8080, true};
    info.last_dirty_timestamp = dirty;
    return info;
}

std::string instance_body(const std::string& app, const std::string& id) {
    std::string out;
    write_instance_json(make_instance(app, id), out);
    return out;
}

// ---- the batch on the wire -------------------------------------------------------------------

TEST(ReplicationBatchTest, RoundTripKeepsEveryField) {
    std::vector<ReplicationItem> items(3);
    items[0].action = ReplicationAction::kRegister;
    items[0].app = "ORDERS";
    items[0].id = "o1";
    items[0].last_dirty_timestamp = 1'700'000'000'123;
    items[0].status = InstanceStatus::kUp;
    items[0].overridden_status = InstanceStatus::kUnknown;
    items[0].instance = make_instance("ORDERS", "o1", 1'700'000'000'123);
    items[1].action = ReplicationAction::kStatusUpdate;
    items[1].app = "ORDERS";
    items[1].id = "o\"2";
    items[1].status = InstanceStatus::kOutOfService;
    items[1].last_dirty_timestamp = 5;
    items[2].action = ReplicationAction::kCancel;
    items[2].app = "BILLING";
    items[2].id = "b1";

    auto parsed = parse_replication_batch(write_replication_batch(items));
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 3u);
    EXPECT_EQ((*parsed)[0].action, ReplicationAction::kRegister);
    EXPECT_EQ((*parsed)[0].last_dirty_timestamp, 1'700'000'000'123);
    ASSERT_TRUE((*parsed)[0].instance);
    EXPECT_EQ((*parsed)[0].instance->instance_id, "o1");
    EXPECT_EQ((*parsed)[0].instance->port.port, 8080);
    EXPECT_EQ((*parsed)[0].overridden_status, InstanceStatus::kUnknown);
    EXPECT_EQ((*parsed)[1].id, "o\"2");
    EXPECT_EQ((*parsed)[1].status, InstanceStatus::kOutOfService);
    EXPECT_EQ((*parsed)[2].action, ReplicationAction::kCancel);
    EXPECT_FALSE((*parsed)[2].last_dirty_timestamp);
    EXPECT_FALSE((*parsed)[2].status);
}

TEST(ReplicationBatchTest, ReadsTheShapeAJavaPeerSends) {
    // Nulls for absent fields, timestamps as numbers, the instance bare.
    const std::string body = R"({"replicationList":[
      {"appName":"ORDERS","id":"o1","lastDirtyTimestamp":1700000000000,"overriddenStatus":null,
       "status":"UP","instanceInfo":null,"action":"Heartbeat"},
      {"appName":"ORDERS","id":"o1","lastDirtyTimestamp":1700000000000,
       "overriddenStatus":"UNKNOWN","status":"UP","action":"Register",
       "instanceInfo":{"instanceId":"o1","hostName":"h","app":"ORDERS","ipAddr":"10.0.0.1",
         "status":"UP","port":{"$":8080,"@enabled":"true"},
         "dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",
           "name":"MyOwn"},"lastDirtyTimestamp":"1700000000000"}}]})";
    auto parsed = parse_replication_batch(body);
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 2u);
    EXPECT_EQ((*parsed)[0].action, ReplicationAction::kHeartbeat);
    EXPECT_FALSE((*parsed)[0].overridden_status);
    EXPECT_FALSE((*parsed)[0].instance);
    ASSERT_TRUE((*parsed)[1].instance);
    EXPECT_EQ((*parsed)[1].instance->ip_addr, "10.0.0.1");
    EXPECT_EQ((*parsed)[1].instance->last_dirty_timestamp, 1'700'000'000'000);
}

TEST(ReplicationBatchTest, RefusesHostileBodies) {
    for (std::string body : std::vector<std::string>{
             "", "[]", "nul", R"({"replicationList":7})", R"({"replicationList":[1]})",
          R"({"replicationList":[{"appName":"A","id":"i","action":"Explode"}]})",
          R"({"replicationList":[{"appName":"A","action":"Heartbeat"}]})",
          R"({"replicationList":[{"appName":"A","id":"i","status":"SIDEWAYS","action":"StatusUpdate"}]})",
          R"({"replicationList":[{"appName":"A","id":"i","lastDirtyTimestamp":"soon","action":"Cancel"}]})",
          R"({"replicationList":[{"appName":"A","id":"i","action":"Register"}]})",
          R"({"replicationList":[{"appName":"A","id":"i","action":"Register","instanceInfo":{"port":"x"}}]})",
          std::string(100, '[') + std::string(100, ']')}) {
        auto parsed = parse_replication_batch(body);
        EXPECT_FALSE(parsed) << body;
        if (!parsed) {
            EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << body;
        }
    }
    std::string many = R"({"replicationList":[)";
    for (int i = 0; i < 11; ++i) {
        many += (i ? "," : "") + std::string(R"({"appName":"A","id":"i","action":"Cancel"})");
    }
    many += "]}";
    auto parsed = parse_replication_batch(many, 10);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, ErrorCode::kTooLarge);
    EXPECT_TRUE(parse_replication_batch(many, 11));
}

TEST(ReplicationBatchTest, ResultsRoundTripWithTheNewerCopy) {
    std::vector<ReplicationResult> results(2);
    results[0].status_code = 200;
    results[1].status_code = 409;
    results[1].entity = make_instance("ORDERS", "o1", 42);
    auto text = write_replication_results(results);
    auto parsed = parse_replication_results(text);
    ASSERT_TRUE(parsed) << parsed.error().message;
    ASSERT_EQ(parsed->size(), 2u);
    EXPECT_EQ((*parsed)[0].status_code, 200);
    EXPECT_FALSE((*parsed)[0].entity);
    EXPECT_EQ((*parsed)[1].status_code, 409);
    ASSERT_TRUE((*parsed)[1].entity);
    EXPECT_EQ((*parsed)[1].entity->last_dirty_timestamp, 42);
    EXPECT_FALSE(parse_replication_results(R"({"responseList":[{"statusCode":"x"}]})"));
    EXPECT_FALSE(parse_replication_results(R"({"responseList":[{"statusCode":99999}]})"));
}

// ---- applying a batch ------------------------------------------------------------------------

class ApplyBatchTest : public ::testing::Test {
protected:
    ReplicationResult apply_one(ReplicationItem item) {
        std::vector<ReplicationItem> items;
        items.push_back(std::move(item));
        return apply_replication_batch(registry_, std::move(items)).at(0);
    }
    static ReplicationItem item(ReplicationAction action, std::string id,
                                std::optional<Millis> dirty = std::nullopt) {
        ReplicationItem i;
        i.action = action;
        i.app = "ORDERS";
        i.id = std::move(id);
        i.last_dirty_timestamp = dirty;
        return i;
    }
    FakeClock clock_;
    InstanceRegistry registry_{clock_};
};

TEST_F(ApplyBatchTest, HeartbeatAnswersFollowTheDirtyTimestamps) {
    auto reg = item(ReplicationAction::kRegister, "o1", 100);
    reg.instance = make_instance("ORDERS", "o1", 100);
    EXPECT_EQ(apply_one(reg).status_code, 200);
    EXPECT_EQ(apply_one(item(ReplicationAction::kHeartbeat, "o1", 100)).status_code, 200);
    EXPECT_EQ(apply_one(item(ReplicationAction::kHeartbeat, "unknown", 100)).status_code, 404);
    // The sender's copy is newer: it must register it here.
    EXPECT_EQ(apply_one(item(ReplicationAction::kHeartbeat, "o1", 200)).status_code, 404);
    // Ours is newer: 409 with ours, and the lease is renewed all the same.
    clock_.advance(60'000);
    auto conflict = apply_one(item(ReplicationAction::kHeartbeat, "o1", 50));
    EXPECT_EQ(conflict.status_code, 409);
    ASSERT_TRUE(conflict.entity);
    EXPECT_EQ(conflict.entity->last_dirty_timestamp, 100);
    clock_.advance(60'000);
    EXPECT_EQ(registry_.evict_expired(), 0u);
}

TEST_F(ApplyBatchTest, StatusCancelAndOverrideItems) {
    auto reg = item(ReplicationAction::kRegister, "o1", 100);
    reg.instance = make_instance("ORDERS", "o1", 100);
    ASSERT_EQ(apply_one(reg).status_code, 200);
    auto out = item(ReplicationAction::kStatusUpdate, "o1", 100);
    out.status = InstanceStatus::kOutOfService;
    EXPECT_EQ(apply_one(out).status_code, 200);
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->status, InstanceStatus::kOutOfService);
    auto back = item(ReplicationAction::kDeleteStatusOverride, "o1", 100);
    back.status = InstanceStatus::kUp;
    EXPECT_EQ(apply_one(back).status_code, 200);
    EXPECT_EQ(registry_.instance("ORDERS", "o1")->status, InstanceStatus::kUp);
    auto missing = item(ReplicationAction::kStatusUpdate, "o1", 100);
    EXPECT_EQ(apply_one(missing).status_code, 400);  // no status to set
    EXPECT_EQ(apply_one(item(ReplicationAction::kCancel, "o1")).status_code, 200);
    EXPECT_EQ(apply_one(item(ReplicationAction::kCancel, "o1")).status_code, 404);
    EXPECT_FALSE(registry_.instance("ORDERS", "o1"));
}

TEST_F(ApplyBatchTest, AnInvalidRegisterFailsOnlyItsItem) {
    std::vector<ReplicationItem> items;
    auto bad = item(ReplicationAction::kRegister, "o1");
    bad.instance = make_instance("ORDERS", "o1");
    bad.instance->host_name.clear();
    items.push_back(bad);
    auto good = item(ReplicationAction::kRegister, "o2");
    good.instance = make_instance("ORDERS", "o2");
    items.push_back(good);
    auto results = apply_replication_batch(registry_, std::move(items));
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].status_code, 400);
    EXPECT_EQ(results[1].status_code, 200);
    EXPECT_TRUE(registry_.instance("ORDERS", "o2"));
}

// ---- nodes over real HTTP --------------------------------------------------------------------

// A registry with its REST API on 127.0.0.1:0 and, once told its peers, a PeerReplicator.
class Node {
public:
    explicit Node(EurekaApiOptions api_options = {}, std::uint16_t port = 0)
        : registry_(SystemClock::instance()),
          api_(registry_, std::move(api_options)),
          server_(threads_.io(), server_options(port),
                  http::SyncHandler([this](http::Request& req, http::Response& res) {
                      api_.handle_sync(req, res);
                  })) {
        auto bound = server_.start();
        EXPECT_TRUE(bound);
        port_ = bound ? *bound : 0;
    }
    ~Node() { stop(); }
    void replicate_to(std::vector<std::string> peers, PeerReplicatorOptions options = {}) {
        options.peers = std::move(peers);
        replicator_ = std::make_unique<PeerReplicator>(registry_, options);
        api_.set_replication(replicator_.get());
        replicator_->set_self("127.0.0.1", port_);
        replicator_->start();
    }
    void stop() {
        if (stopped_) return;
        stopped_ = true;
        server_.stop();
        if (replicator_) replicator_->stop();
        threads_.stop();
    }
    std::string url() const { return fmt::format("http://127.0.0.1:{}/eureka", port_); }
    std::uint16_t port() const { return port_; }
    InstanceRegistry& registry() { return registry_; }
    PeerReplicator& replicator() { return *replicator_; }
    int register_instance(const std::string& app, const std::string& id,
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
        headers.emplace_back("Content-Type", "application/json");
        return request(port_, "POST", "/eureka/apps/" + app, instance_body(app, id), headers)
            .status;
    }
    bool has(const std::string& app, const std::string& id) {
        return registry_.instance(app, id).has_value();
    }

private:
    static http::ServerOptions server_options(std::uint16_t port) {
        http::ServerOptions o;
        o.port = port;
        return o;
    }

    testing::IoThreads threads_{2};
    InstanceRegistry registry_;
    EurekaApi api_;
    http::HttpServer server_;
    std::uint16_t port_ = 0;
    std::unique_ptr<PeerReplicator> replicator_;
    bool stopped_ = false;
};

TEST(PeerReplicationTest, ClientChangesReachThePeerButPeerChangesGoNoFurther) {
    Node a, b;
    a.replicate_to({b.url(), a.url()});  // its own URL is ignored
    ASSERT_TRUE(a.replicator().wait_until_synced(5s));
    auto stats = a.replicator().stats();
    ASSERT_EQ(stats.size(), 2u);
    EXPECT_TRUE(stats[1].self);

    // A change marked as replication is applied at A but never sent on.
    ASSERT_EQ(a.register_instance("ORDERS", "from-peer", {{std::string(kReplicationHeader), "true"}}),
              204);
    ASSERT_EQ(a.register_instance("ORDERS", "o1"), 204);
    ASSERT_TRUE(eventually([&] { return b.has("ORDERS", "o1"); }, 5s));
    EXPECT_FALSE(b.has("ORDERS", "from-peer"));

    ASSERT_EQ(request(a.port(), "PUT", "/eureka/apps/ORDERS/o1/status?value=OUT_OF_SERVICE").status,
              200);
    ASSERT_TRUE(eventually(
        [&] {
            auto i = b.registry().instance("ORDERS", "o1");
            return i && i->status == InstanceStatus::kOutOfService;
        },
        5s));
    ASSERT_EQ(request(a.port(), "DELETE", "/eureka/apps/ORDERS/o1/status?value=UP").status, 200);
    ASSERT_TRUE(eventually(
        [&] {
            auto i = b.registry().instance("ORDERS", "o1");
            return i && i->status == InstanceStatus::kUp;
        },
        5s));
    ASSERT_EQ(request(a.port(), "DELETE", "/eureka/apps/ORDERS/o1").status, 200);
    ASSERT_TRUE(eventually([&] { return !b.has("ORDERS", "o1"); }, 5s));
    EXPECT_GT(a.replicator().stats()[0].batches, 0u);
}

TEST(PeerReplicationTest, AHeartbeatThePeerDoesNotKnowBringsARegistration) {
    Node a, b;
    a.replicate_to({b.url()});
    ASSERT_EQ(a.register_instance("ORDERS", "o1"), 204);
    ASSERT_TRUE(eventually([&] { return b.has("ORDERS", "o1"); }, 5s));
    // B loses it (as a restarted node would); A's next heartbeat is answered 404.
    ASSERT_TRUE(b.registry().cancel("ORDERS", "o1"));
    ASSERT_EQ(request(a.port(), "PUT", "/eureka/apps/ORDERS/o1").status, 200);
    ASSERT_TRUE(eventually([&] { return b.has("ORDERS", "o1"); }, 5s));
    EXPECT_GE(a.replicator().stats()[0].reregistered, 1u);
}

TEST(PeerReplicationTest, AHeartbeatAnswered409TakesThePeersNewerCopy) {
    Node a, b;
    a.replicate_to({b.url()});
    ASSERT_EQ(a.register_instance("ORDERS", "o1"), 204);
    ASSERT_TRUE(eventually([&] { return b.has("ORDERS", "o1"); }, 5s));
    // B learns a newer copy (say from the instance itself) with new metadata.
    auto newer = *b.registry().instance("ORDERS", "o1");
    newer.last_dirty_timestamp += 1000;
    newer.set_metadata("version", "2");
    ASSERT_TRUE(b.registry().register_instance("ORDERS", newer));
    ASSERT_EQ(request(a.port(), "PUT", "/eureka/apps/ORDERS/o1").status, 200);
    ASSERT_TRUE(eventually(
        [&] {
            auto i = a.registry().instance("ORDERS", "o1");
            return i && i->last_dirty_timestamp == newer.last_dirty_timestamp;
        },
        5s));
    auto taken = a.registry().instance("ORDERS", "o1");
    ASSERT_TRUE(taken);
    ASSERT_NE(taken->find_metadata("version"), nullptr);
    EXPECT_EQ(*taken->find_metadata("version"), "2");
    EXPECT_GE(a.replicator().stats()[0].conflicts_taken, 1u);
}

TEST(PeerReplicationTest, ASingleReplicatedRenewalOfAnOlderCopyIsAnswered409WithOurs) {
    Node b;
    ASSERT_TRUE(b.registry().register_instance("ORDERS", make_instance("ORDERS", "o1", 500)));
    auto r = request(b.port(), "PUT", "/eureka/apps/ORDERS/o1?status=UP&lastDirtyTimestamp=400",
                     "", {{std::string(kReplicationHeader), "true"}, {"Accept", "application/json"}});
    EXPECT_EQ(r.status, 409);
    auto body = parse_instance_json(r.body);
    ASSERT_TRUE(body);
    EXPECT_EQ(body->last_dirty_timestamp, 500);
    // From a client (no header) the same renewal is fine.
    EXPECT_EQ(request(b.port(), "PUT", "/eureka/apps/ORDERS/o1?lastDirtyTimestamp=400").status, 200);
}

TEST(PeerReplicationTest, AnUnreachablePeerCostsABoundedQueue) {
    // A peer address nobody listens on.
    std::uint16_t dead_port = 0;
    {
        Node gone;
        dead_port = gone.port();
    }
    Node a;
    PeerReplicatorOptions options;
    options.max_queue = 10;
    // After the first refusal the sender waits: what follows stays queued.
    options.retry_backoff = 10s;
    options.max_retry_backoff = 10s;
    a.replicate_to({fmt::format("http://127.0.0.1:{}/eureka", dead_port)}, options);
    for (int i = 0; i < 50; ++i) ASSERT_EQ(a.register_instance("ORDERS", fmt::format("o{}", i)), 204);
    // Heartbeats of one instance replace each other instead of piling up.
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(request(a.port(), "PUT", "/eureka/apps/ORDERS/o49").status, 200);
    }
    auto s = a.replicator().stats()[0];
    EXPECT_LE(s.queued, 10u);
    EXPECT_GE(s.items_dropped, 40u);
    EXPECT_GE(s.items_coalesced, 19u);
    EXPECT_GE(s.retries, 1u);
    // The metrics say so.
    auto metrics = request(a.port(), "GET", "/metrics").body;
    EXPECT_NE(metrics.find("orquestra_registry_replication_queue_length{peer="), std::string::npos);
    EXPECT_NE(metrics.find("outcome=\"dropped\"} "), std::string::npos);
}

TEST(PeerReplicationTest, QueuedChangesReachAPeerThatComesBack) {
    std::uint16_t port = 0;
    {
        Node later;
        port = later.port();
    }
    Node a;
    PeerReplicatorOptions options;
    options.retry_backoff = 20ms;
    options.max_retry_backoff = 100ms;
    a.replicate_to({fmt::format("http://127.0.0.1:{}/eureka", port)}, options);
    for (int i = 0; i < 5; ++i) ASSERT_EQ(a.register_instance("ORDERS", fmt::format("o{}", i)), 204);
    ASSERT_EQ(request(a.port(), "DELETE", "/eureka/apps/ORDERS/o4").status, 200);
    ASSERT_TRUE(eventually([&] { return a.replicator().stats()[0].retries >= 1; }, 5s));
    Node back({}, port);  // the peer starts (on the same port), with nothing of its own
    ASSERT_EQ(back.port(), port);
    EXPECT_TRUE(eventually(
        [&] {
            for (int i = 0; i < 4; ++i) {
                if (!back.has("ORDERS", fmt::format("o{}", i))) return false;
            }
            return true;
        },
        5s));
    EXPECT_FALSE(back.has("ORDERS", "o4"));
    EXPECT_EQ(a.replicator().stats()[0].items_dropped, 0u);
}

TEST(PeerReplicationTest, AStartingNodeLoadsTheRegistryFromAPeerBeforeServingReads) {
    Node a;
    for (int i = 0; i < 20; ++i) ASSERT_EQ(a.register_instance("ORDERS", fmt::format("o{}", i)), 204);
    ASSERT_EQ(a.register_instance("BILLING", "b1"), 204);
    Node c;
    // An address that refuses first: the next peer is tried.
    c.replicate_to({"http://127.0.0.1:1/eureka", a.url()});
    ASSERT_TRUE(c.replicator().wait_until_synced(10s));
    EXPECT_EQ(c.replicator().synced_from(), a.url());
    EXPECT_EQ(c.registry().view().hashcode, a.registry().view().hashcode);
    auto full = request(c.port(), "GET", "/eureka/apps/", "", {{"Accept", "application/json"}});
    EXPECT_EQ(full.status, 200);
    EXPECT_EQ(full.header(kNodeIdHeader), c.replicator().node_id());
    auto loaded = parse_applications_json(full.body);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->apps_hashcode, "UP_21_");
}

TEST(PeerReplicationTest, ReadsAnswer503UntilTheSyncEnds) {
    // A peer that accepts connections and never answers keeps the sync going until its bound.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    Node c;
    PeerReplicatorOptions options;
    options.sync_timeout = 1500ms;
    c.replicate_to({fmt::format("http://127.0.0.1:{}/eureka", silent.local_endpoint().port())},
                   options);
    auto during = request(c.port(), "GET", "/eureka/apps/");
    EXPECT_EQ(during.status, 503);
    EXPECT_EQ(during.header("Retry-After"), "1");
    EXPECT_EQ(request(c.port(), "GET", "/eureka/apps/delta").status, 503);
    // Registrations are taken meanwhile.
    EXPECT_EQ(c.register_instance("ORDERS", "o1"), 204);
    ASSERT_TRUE(c.replicator().wait_until_synced(10s));
    EXPECT_EQ(request(c.port(), "GET", "/eureka/apps/").status, 200);
    EXPECT_EQ(c.replicator().synced_from(), "");
}

TEST(PeerReplicationTest, PeersGetTheNodesCredentialsOrTheirUrls) {
    EurekaApiOptions guarded;
    guarded.auth = "eureka:s3cret";
    Node b(guarded);
    Node a, wrong;
    PeerReplicatorOptions options;
    options.auth = "eureka:s3cret";
    a.replicate_to({b.url()}, options);
    options.auth = "eureka:nope";
    wrong.replicate_to({b.url()}, options);
    ASSERT_EQ(wrong.register_instance("ORDERS", "refused"), 204);
    ASSERT_EQ(a.register_instance("ORDERS", "o1"), 204);
    ASSERT_TRUE(eventually([&] { return b.has("ORDERS", "o1"); }, 5s));
    ASSERT_TRUE(eventually([&] { return wrong.replicator().stats()[0].batch_failures >= 1; }, 5s));
    EXPECT_FALSE(b.has("ORDERS", "refused"));
    // Credentials in the URL win over the node's.
    Node c;
    options.auth = "eureka:nope";
    c.replicate_to({fmt::format("http://eureka:s3cret@127.0.0.1:{}/eureka", b.port())}, options);
    ASSERT_EQ(c.register_instance("ORDERS", "o2"), 204);
    EXPECT_TRUE(eventually([&] { return b.has("ORDERS", "o2"); }, 5s));
}

TEST(PeerReplicationTest, TheBatchEndpointRefusesHostileBodies) {
    Node b;
    auto post = [&](std::string body) {
        return request(b.port(), "POST", "/eureka/v2/peerreplication/batch/", std::move(body),
                       {{"Content-Type", "application/json"}})
            .status;
    };
    EXPECT_EQ(post("{"), 400);
    EXPECT_EQ(post(R"({"replicationList":[{"appName":"A","id":"i","action":"Nope"}]})"), 400);
    std::string many = R"({"replicationList":[)";
    for (std::size_t i = 0; i <= kMaxBatchItems; ++i) {
        many += (i ? "," : "") + std::string(R"({"appName":"A","id":"i","action":"Cancel"})");
    }
    EXPECT_EQ(post(many + "]}"), 413);
    auto ok = request(b.port(), "POST", "/eureka/peerreplication/batch",
                      R"({"replicationList":[{"appName":"A","id":"i","action":"Cancel"}]})",
                      {{"Content-Type", "application/json"}});
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, R"({"responseList":[{"statusCode":404}]})");
}

}  // namespace
}  // namespace orquestra::registry
