#include "scheduler/service_triggers.hpp"

#include "dag/loader.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

namespace orquestra::scheduler {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using registry::InstanceChange;
using registry::InstanceStatus;

constexpr Millis kT0 = 1'700'000'000'000;

dag::Dag load(const std::string& yaml) {
    auto d = dag::parse_dag(yaml, "d.yaml");
    EXPECT_TRUE(d) << (d ? "" : d.error().message);
    return d ? std::move(*d) : dag::Dag{};
}

InstanceChange change(std::string id, std::optional<InstanceStatus> from,
                      std::optional<InstanceStatus> to, Millis time = kT0,
                      std::size_t up_before = 1, std::size_t up_after = 0) {
    InstanceChange c;
    c.app = "SERVICO_USUARIOS";
    c.instance_id = std::move(id);
    c.old_status = from;
    c.new_status = to;
    c.time = time;
    c.up_before = up_before;
    c.up_after = up_after;
    return c;
}

const std::string kWatcher = R"(
dag_id: d
on_service:
  - {service: servico_usuarios, events: [evicted, down], min_interval: 30s}
  - {service: servico_usuarios, below: 2}
tasks:
  a: {command: ["true"]}
)";

// --- pure decisions ----------------------------------------------------------------------------

TEST(ServiceTriggersTest, MatchesServiceWithoutCaseAndTheListedEvents) {
    auto d = load(kWatcher);
    auto m = match_on_service(d, change("h:1", InstanceStatus::kUp, InstanceStatus::kDown));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->event, "down");
    EXPECT_EQ(m->entry, &d.on_service[0]);

    auto evicted = change("h:1", InstanceStatus::kUp, std::nullopt);
    evicted.evicted = true;
    m = match_on_service(d, evicted);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->event, "evicted");

    // Cancelled is not listed, and 1 -> 0 UP is no fall below 2.
    EXPECT_FALSE(match_on_service(d, change("h:1", InstanceStatus::kUp, std::nullopt)));
    auto other = change("h:1", InstanceStatus::kUp, InstanceStatus::kDown);
    other.app = "SERVICO_MENSAGENS";
    EXPECT_FALSE(match_on_service(d, other));
}

TEST(ServiceTriggersTest, BelowFiresOnTheFallOnly) {
    auto d = load(kWatcher);
    auto m = match_on_service(d, change("h:1", InstanceStatus::kUp, std::nullopt, kT0, 2, 1));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->event, "below");
    EXPECT_EQ(m->entry, &d.on_service[1]);
    EXPECT_FALSE(match_on_service(d, change("h:1", InstanceStatus::kUp, std::nullopt, kT0, 3, 2)));
    EXPECT_FALSE(match_on_service(d, change("h:1", InstanceStatus::kUp, std::nullopt, kT0, 1, 0)));
    EXPECT_FALSE(
        match_on_service(d, change("h:1", std::nullopt, InstanceStatus::kUp, kT0, 1, 2)));
}

TEST(ServiceTriggersTest, DebouncePerDagAndService) {
    ServiceDebounce debounce;
    EXPECT_TRUE(debounce.admit("d", "servico_usuarios", 30'000, kT0));
    EXPECT_FALSE(debounce.admit("d", "SERVICO_USUARIOS", 30'000, kT0 + 29'999));
    EXPECT_TRUE(debounce.admit("e", "servico_usuarios", 30'000, kT0 + 1));
    EXPECT_TRUE(debounce.admit("d", "servico_mensagens", 30'000, kT0 + 1));
    EXPECT_TRUE(debounce.admit("d", "servico_usuarios", 30'000, kT0 + 30'000));
    EXPECT_TRUE(debounce.admit("d", "servico_usuarios", 0, kT0 + 30'000));
    debounce.keep_only({"e"});
    EXPECT_TRUE(debounce.admit("d", "servico_usuarios", 30'000, kT0 + 30'001));
    EXPECT_FALSE(debounce.admit("e", "servico_usuarios", 30'000, kT0 + 30'000));
}

TEST(ServiceTriggersTest, RunIdPartsAreSafeAndBounded) {
    EXPECT_EQ(run_id_part("host:SERVICO:8080", 100), "host:SERVICO:8080");
    EXPECT_EQ(run_id_part("a/b c~", 100), "a~2Fb~20c~7E");
    std::string long_id(300, 'x');
    std::string part = run_id_part(long_id, 100);
    EXPECT_EQ(part.size(), 100u);
    EXPECT_EQ(part.substr(0, 83), std::string(83, 'x'));
    EXPECT_EQ(part[83], '~');
    EXPECT_NE(part, run_id_part(std::string(299, 'x') + "y", 100));
    EXPECT_TRUE(acceptable_instance_id("host:servico_usuarios:8080"));
    EXPECT_FALSE(acceptable_instance_id(""));
    EXPECT_FALSE(acceptable_instance_id("a b"));
    EXPECT_FALSE(acceptable_instance_id("a\nb"));
    EXPECT_FALSE(acceptable_instance_id(std::string(257, 'x')));
}

TEST(ServiceTriggersTest, RequestCarriesTheEvent) {
    auto d = load(kWatcher);
    auto c = change("host:SERVICO_USUARIOS:8081", InstanceStatus::kUp, InstanceStatus::kDown,
                    kT0 + 42, 3, 2);
    auto m = match_on_service(d, c);
    ASSERT_TRUE(m);
    auto req = service_trigger_request(d, *m, c);
    EXPECT_EQ(req.dag_id, "d");
    EXPECT_EQ(*req.run_id,
              "registry__servico_usuarios__host:SERVICO_USUARIOS:8081__down__1700000000042");
    EXPECT_EQ(req.run_type, store::RunType::kRegistryEvent);
    EXPECT_EQ(req.logical_date, kT0 + 42);
    EXPECT_EQ(json::serialize(req.conf),
              R"({"event":"down","service":"servico_usuarios",)"
              R"("instance_id":"host:SERVICO_USUARIOS:8081","old_status":"UP",)"
              R"("new_status":"DOWN","time":"2023-11-14T22:13:20.042+00:00","up_count":2})");
}

TEST(ServiceTriggersTest, SinkTakesWatchedServicesOnlyAndIsBounded) {
    auto metrics = std::make_shared<EngineMetrics>();
    ServiceEventSink sink(metrics, 2);
    auto c = change("h:1", InstanceStatus::kUp, InstanceStatus::kDown);
    EXPECT_FALSE(sink.post(c));  // closed
    int wakes = 0;
    sink.open([&] { ++wakes; });
    EXPECT_FALSE(sink.post(c));  // nobody watches it
    sink.set_watched({"SERVICO_USUARIOS"});
    EXPECT_TRUE(sink.post(c));
    EXPECT_TRUE(sink.post(c));
    EXPECT_FALSE(sink.post(c));  // full
    EXPECT_EQ(wakes, 1);
    EXPECT_EQ(metrics->registry_events_dropped.value(label_pairs({{"reason", "queue_full"}})),
              1u);
    EXPECT_EQ(sink.take().size(), 2u);
    EXPECT_TRUE(sink.post(c));
    EXPECT_EQ(wakes, 2);
    sink.close();
    EXPECT_FALSE(sink.post(c));
}

// --- the engine ---------------------------------------------------------------------------------

class NoRunner final : public executor::TaskRunner {
public:
    void run(executor::Attempt attempt, std::function<void(executor::AttemptResult)>) override {
        started.push_back(attempt.task_id);
    }
    std::vector<std::string> started;
};

class ServiceTriggerEngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-onservice-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        auto s = store::SqliteStore::open(home_ / "orquestra.db");
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::move(*s);
        ASSERT_TRUE(store_->migrate());
    }
    void TearDown() override {
        engine_.reset();
        folder_.reset();
        store_.reset();
        fs::remove_all(home_);
    }
    void start(const std::string& yaml) {
        std::ofstream(home_ / "dags" / "d.yaml") << yaml;
        folder_ = std::make_unique<dag::DagFolder>(home_ / "dags", clock_);
        EngineOptions opts;
        opts.log_dir = home_ / "logs";
        opts.unpause_new_dags = true;
        engine_ = std::make_unique<Engine>(io_, *store_, *folder_, runner_, clock_, opts);
        ASSERT_TRUE(engine_->start());
        pump();
    }
    void pump() {
        io_.restart();
        io_.poll();
    }
    std::vector<store::DagRun> runs() {
        store::RunFilter f;
        f.dag_id = "d";
        auto page = store_->list_runs(f);
        EXPECT_TRUE(page);
        return page ? page->items : std::vector<store::DagRun>{};
    }
    std::uint64_t dropped(std::string_view reason) {
        return engine_->metrics().registry_events_dropped.value(label_pairs({{"reason", reason}}));
    }

    fs::path home_;
    FakeClock clock_{kT0};
    boost::asio::io_context io_;
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<dag::DagFolder> folder_;
    NoRunner runner_;
    std::unique_ptr<Engine> engine_;
};

TEST_F(ServiceTriggerEngineTest, PostedEventStartsARunWithItsConf) {
    start(kWatcher);
    ASSERT_TRUE(engine_->service_events()->post(
        change("h:1", InstanceStatus::kUp, InstanceStatus::kDown, kT0 + 5)));
    pump();
    auto all = runs();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].run_id, "registry__servico_usuarios__h:1__down__1700000000005");
    EXPECT_EQ(all[0].run_type, store::RunType::kRegistryEvent);
    EXPECT_EQ(all[0].state, store::RunState::kRunning);
    auto conf = json::parse(all[0].conf_json).as_object();
    EXPECT_EQ(conf.at("event"), "down");
    EXPECT_EQ(conf.at("instance_id"), "h:1");
    EXPECT_EQ(conf.at("old_status"), "UP");
    EXPECT_EQ(conf.at("new_status"), "DOWN");
    EXPECT_EQ(runner_.started, std::vector<std::string>{"a"});
    EXPECT_EQ(engine_->metrics().registry_runs.value(label_pairs({{"dag_id", "d"}})), 1u);
}

TEST_F(ServiceTriggerEngineTest, MinIntervalDropsAFlappingInstancesEvents) {
    start(kWatcher);
    engine_->on_instance_change(change("h:1", InstanceStatus::kUp, InstanceStatus::kDown, kT0));
    for (int i = 1; i <= 5; ++i) {
        engine_->on_instance_change(
            change("h:1", InstanceStatus::kUp, InstanceStatus::kDown, kT0 + i * 5'000));
    }
    engine_->on_instance_change(
        change("h:1", InstanceStatus::kUp, InstanceStatus::kDown, kT0 + 30'000));
    pump();
    auto all = runs();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(dropped("debounced"), 5u);
}

TEST_F(ServiceTriggerEngineTest, SameEventTwiceMakesOneRun) {
    // What a second scheduler seeing the same event does: its run id is taken.
    start(R"(
dag_id: d
on_service: [{service: servico_usuarios, events: [down]}]
tasks:
  a: {command: ["true"]}
)");
    auto c = change("h:1", InstanceStatus::kUp, InstanceStatus::kDown);
    engine_->on_instance_change(c);
    engine_->on_instance_change(c);
    pump();
    EXPECT_EQ(runs().size(), 1u);
    EXPECT_EQ(dropped("duplicate"), 1u);
}

TEST_F(ServiceTriggerEngineTest, PauseAndMaxActiveRunsAreRespected) {
    start(R"(
dag_id: d
max_active_runs: 1
on_service: [{service: servico_usuarios, events: [down]}]
tasks:
  a: {command: ["true"]}
)");
    engine_->on_instance_change(change("h:1", InstanceStatus::kUp, InstanceStatus::kDown, kT0));
    engine_->on_instance_change(
        change("h:2", InstanceStatus::kUp, InstanceStatus::kDown, kT0 + 1));
    EXPECT_EQ(dropped("max_active_runs"), 1u);
    ASSERT_TRUE(engine_->set_paused("d", true));
    engine_->on_instance_change(
        change("h:3", InstanceStatus::kUp, InstanceStatus::kDown, kT0 + 2));
    EXPECT_EQ(dropped("paused"), 1u);
    pump();
    EXPECT_EQ(runs().size(), 1u);
}

TEST_F(ServiceTriggerEngineTest, HostileInstanceIdsStartNoRun) {
    start(kWatcher);
    engine_->on_instance_change(
        change("h 1\n", InstanceStatus::kUp, InstanceStatus::kDown, kT0));
    engine_->on_instance_change(
        change(std::string(300, 'x'), InstanceStatus::kUp, InstanceStatus::kDown, kT0));
    engine_->on_instance_change(change("h:1", InstanceStatus::kUp, InstanceStatus::kDown, -5));
    pump();
    EXPECT_TRUE(runs().empty());
    EXPECT_EQ(dropped("invalid"), 3u);
    // An id with characters a run id cannot hold is encoded in it, and kept as is in the conf.
    engine_->on_instance_change(
        change("h/1?x=\"y\"", InstanceStatus::kUp, InstanceStatus::kDown, kT0));
    pump();
    auto all = runs();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].run_id, "registry__servico_usuarios__h~2F1~3Fx~3D~22y~22__down__" +
                                 std::to_string(kT0));
    EXPECT_EQ(json::parse(all[0].conf_json).at("instance_id"), "h/1?x=\"y\"");
}

TEST_F(ServiceTriggerEngineTest, UnwatchedAndPausedEnginesTakeNothing) {
    start(R"(
dag_id: d
tasks:
  a: {command: ["true"]}
)");
    EXPECT_FALSE(engine_->service_events()->post(
        change("h:1", InstanceStatus::kUp, InstanceStatus::kDown)));
    engine_->stop();
    EXPECT_FALSE(engine_->service_events()->post(
        change("h:1", InstanceStatus::kUp, InstanceStatus::kDown)));
}

TEST(ServiceEventNamesTest, DagAndRegistryAgreeOnTheNames) {
    for (std::string_view name : dag::kServiceEvents) {
        EXPECT_TRUE(registry::parse_registry_event(name)) << name;
    }
}

}  // namespace
}  // namespace orquestra::scheduler
