// Runs triggered by the registry (on_service), wired as the processes wire them: a registry
// with its Eureka API on 127.0.0.1:0 and the workflow engine, fed either by the registry in
// the same process (standalone) or by a discovery client's deltas (a `scheduler` whose
// registry is another process). Instances are registered, set DOWN and cancelled over HTTP.

#include "app/registry_events.hpp"

#include "app/registry_directory.hpp"
#include "app/registry_node.hpp"
#include "app/workflow_node.hpp"
#include "test_http.hpp"
#include "wait.hpp"

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace orquestra::app {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kDag = R"(
dag_id: vigia
on_service:
  - {service: servico_usuarios, events: [registered, down, cancelled, evicted]}
tasks:
  registrar:
    command:
      script: 'printf "%s\n" "$EVENTO"'
      env: {EVENTO: "{{ dag_run.conf | tojson }}"}
)";

std::string instance_body(const std::string& id) {
    return fmt::format(
        R"({{"instance":{{"instanceId":"{}","hostName":"127.0.0.1","app":"SERVICO_USUARIOS",)"
        R"("ipAddr":"127.0.0.1","status":"UP","port":{{"$":9000,"@enabled":"true"}},)"
        R"("leaseInfo":{{"renewalIntervalInSecs":30,"durationInSecs":90}},)"
        R"("dataCenterInfo":{{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",)"
        R"("name":"MyOwn"}}}}}})",
        id);
}

class RegistryTriggerTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() /
                ("orquestra-onservice-it-" + std::to_string(::getpid()) + "-" +
                 std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        std::ofstream(home_ / "dags" / "vigia.yaml") << kDag;
        registry_ = std::make_unique<RegistryNode>(io_.io(), SystemClock::instance(),
                                                   RegistryNodeOptions{});
        auto port = registry_->start();
        ASSERT_TRUE(port) << port.error().message;
        registry_port_ = *port;
        directory_ = std::make_unique<RegistryDirectory>(registry_->registry());
        pool_.start();
    }

    void TearDown() override {
        pool_.stop();
        node_.reset();
        if (client_) client_->stop();
        client_.reset();
        if (registry_) registry_->stop();
        io_.stop();
        registry_.reset();
        std::error_code ec;
        fs::remove_all(home_, ec);
    }

    void start_node(discovery::ServiceDirectory& directory) {
        HomePaths paths{home_, home_ / "dags", home_ / "orquestra.db", home_ / "logs"};
        scheduler::EngineOptions options;
        options.unpause_new_dags = true;
        node_ = std::make_unique<WorkflowNode>(paths, directory, pool_, SystemClock::instance(),
                                               options);
        auto started = node_->start();
        ASSERT_TRUE(started) << started.error().message;
    }

    // The runs of `vigia`, oldest first.
    std::vector<store::DagRun> runs() {
        store::RunFilter f;
        f.dag_id = "vigia";
        auto page = node_->store().list_runs(f);
        return page ? page->items : std::vector<store::DagRun>{};
    }

    // Waits for the n-th run (1-based) to finish and returns it.
    std::optional<store::DagRun> finished_run(std::size_t n) {
        std::optional<store::DagRun> out;
        bool ok = testing::eventually([&] {
            auto all = runs();
            if (all.size() < n) return false;
            if (all[n - 1].state != store::RunState::kSuccess &&
                all[n - 1].state != store::RunState::kFailed) {
                return false;
            }
            out = all[n - 1];
            return true;
        });
        EXPECT_TRUE(ok) << "run " << n << " of vigia did not finish";
        return out;
    }

    int http(const std::string& method, const std::string& target, const std::string& body = "") {
        std::vector<std::pair<std::string, std::string>> headers;
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        return testing::request(registry_port_, method, target, body, headers).status;
    }

    // Registers h:1 UP, sets it DOWN, cancels it; checks the three runs and their conf.
    void register_down_cancel() {
        ASSERT_EQ(http("POST", "/eureka/apps/SERVICO_USUARIOS", instance_body("h:1")), 204);
        auto first = finished_run(1);
        ASSERT_TRUE(first);
        EXPECT_EQ(first->run_type, store::RunType::kRegistryEvent);
        EXPECT_EQ(first->state, store::RunState::kSuccess);
        auto conf = json::parse(first->conf_json).as_object();
        EXPECT_EQ(conf.at("event"), "registered");
        EXPECT_EQ(conf.at("service"), "servico_usuarios");
        EXPECT_EQ(conf.at("instance_id"), "h:1");
        EXPECT_TRUE(conf.at("old_status").is_null());
        EXPECT_EQ(conf.at("new_status"), "UP");
        EXPECT_EQ(conf.at("up_count"), 1);
        EXPECT_EQ(first->run_id.rfind("registry__servico_usuarios__h:1__registered__", 0), 0u)
            << first->run_id;
        // The task's output is the event.
        auto ti = node_->store().get_task_instance("vigia", first->run_id, "registrar");
        ASSERT_TRUE(ti && *ti && (*ti)->output_json);
        EXPECT_EQ(json::parse(*(*ti)->output_json).as_object(), conf);

        ASSERT_EQ(http("PUT", "/eureka/apps/SERVICO_USUARIOS/h:1/status?value=DOWN"), 200);
        auto second = finished_run(2);
        ASSERT_TRUE(second);
        conf = json::parse(second->conf_json).as_object();
        EXPECT_EQ(conf.at("event"), "down");
        EXPECT_EQ(conf.at("old_status"), "UP");
        EXPECT_EQ(conf.at("new_status"), "DOWN");
        EXPECT_EQ(conf.at("up_count"), 0);

        ASSERT_EQ(http("DELETE", "/eureka/apps/SERVICO_USUARIOS/h:1"), 200);
        auto third = finished_run(3);
        ASSERT_TRUE(third);
        conf = json::parse(third->conf_json).as_object();
        EXPECT_EQ(conf.at("event"), "cancelled");
        EXPECT_EQ(conf.at("old_status"), "DOWN");
        EXPECT_TRUE(conf.at("new_status").is_null());
        EXPECT_EQ(runs().size(), 3u);
    }

    fs::path home_;
    testing::IoThreads io_{1};
    std::unique_ptr<RegistryNode> registry_;
    std::uint16_t registry_port_ = 0;
    std::unique_ptr<RegistryDirectory> directory_;
    http::IoPool pool_{1};
    std::unique_ptr<discovery::EurekaClient> client_;
    std::unique_ptr<WorkflowNode> node_;
};

TEST_F(RegistryTriggerTest, StandaloneRegistryEventsStartRuns) {
    start_node(*directory_);
    feed_registry_events(registry_->registry(), node_->engine());
    register_down_cancel();
}

TEST_F(RegistryTriggerTest, SeparateSchedulerLearnsEventsFromDeltas) {
    discovery::EurekaClientOptions options;
    options.registry_urls = {fmt::format("http://127.0.0.1:{}/eureka", registry_port_)};
    options.refresh_interval = 20ms;
    client_ = std::make_unique<discovery::EurekaClient>(io_.io().get_executor(), options);
    client_->start();
    ASSERT_TRUE(client_->wait_until_fetched(5s));
    start_node(*client_);
    feed_registry_events(*client_, node_->engine());
    register_down_cancel();
}

}  // namespace
}  // namespace orquestra::app
