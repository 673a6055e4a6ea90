// How http tasks choose instances, end to end: instances of the example servico_usuarios as
// real processes, one of them killed (so the registry still lists it UP), runs of a DAG on a
// WorkflowNode, and the breakers and the Prometheus text read over real HTTP.

#include "api_stack.hpp"
#include "core/strings.hpp"
#include "example_processes.hpp"
#include "registry/model.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace orquestra::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kDag = R"(dag_id: usuario_lookup
schedule: none
start_date: 2024-01-01
is_paused_upon_creation: false
default_args: {retries: 0}
params:
  usuario_id: {type: integer, minimum: 1, default: 3}
tasks:
  obter_usuario:
    http: {service: servico_usuarios, path: "/usuarios/{{ params.usuario_id }}"}
)";

std::string basic_auth() {
    return "Basic " + base64_encode(std::string(ApiStack::kUser) + ":" + ApiStack::kPassword);
}

class ServiceChoiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto started = stack_.start_registry();
        ASSERT_TRUE(started) << started.error().message;
    }

    // `n` instances of servico_usuarios, UP in the registry.
    void start_usuarios(int n) {
        for (int i = 0; i < n; ++i) {
            services_.push_back(start_example(kUsuariosBin, "servico_usuarios",
                                              stack_.registry_url()));
            ASSERT_NE(services_.back().port, 0);
        }
        ASSERT_TRUE(eventually([&] {
            return stack_.registry().up_instances("servico_usuarios").size() ==
                   static_cast<std::size_t>(n);
        }));
    }

    void start_api() {
        auto started = stack_.start_api({{"usuario_lookup.yaml", kDag}});
        ASSERT_TRUE(started) << started.error().message;
        stack_.node().call([this] {
            stack_.node().engine().add_run_listener([this](const store::DagRun& run) {
                std::lock_guard lock(mu_);
                finished_.push_back(run);
                cv_.notify_all();
            });
            return 0;
        });
    }

    // Triggers one run and waits until it finished; its state.
    store::RunState run_once(int n) {
        scheduler::TriggerRequest req;
        req.dag_id = "usuario_lookup";
        req.run_id = "run_" + std::to_string(n);
        req.conf = json::object{{"usuario_id", 3}};
        auto created = stack_.node().engine().trigger_async(req).get();
        EXPECT_TRUE(created) << created.error().message;
        std::unique_lock lock(mu_);
        const bool done = cv_.wait_for(lock, 10s, [&] {
            for (const auto& r : finished_) {
                if (r.run_id == *req.run_id) return true;
            }
            return false;
        });
        EXPECT_TRUE(done) << "run " << n << " did not finish";
        for (const auto& r : finished_) {
            if (r.run_id == *req.run_id) return r.state;
        }
        return store::RunState::kQueued;
    }

    Reply get(const std::string& target) {
        return request(stack_.api_port(), "GET", target, "", {{"Authorization", basic_auth()}});
    }

    ApiStack stack_;
    std::vector<ExampleService> services_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<store::DagRun> finished_;
};

// A killed instance stays UP in the registry (until its lease expires), so every run used to
// try it again. Its breaker opens at its first failure and lets one probe through per
// back-off (5 s, doubling): across all the runs, a failed call or two, not one per run.
TEST_F(ServiceChoiceTest, ADeadInstanceCostsOneFailedCallNotOnePerRun) {
    start_usuarios(3);
    if (HasFatalFailure()) return;
    const std::string dead =
        "127.0.0.1:servico_usuarios:" + std::to_string(services_[1].port);
    services_[1].process->signal(SIGKILL);
    ASSERT_TRUE(services_[1].process->wait(5s));
    start_api();
    if (HasFatalFailure()) return;

    const auto started = std::chrono::steady_clock::now();
    constexpr int kRuns = 40;
    for (int i = 0; i < kRuns; ++i) EXPECT_EQ(run_once(i), store::RunState::kSuccess) << i;
    const auto took = std::chrono::steady_clock::now() - started;

    auto health = stack_.node().choice().health("servico_usuarios");
    ASSERT_TRUE(health);
    std::map<std::string, discovery::InstanceHealth> by_id;
    for (const auto& i : health->instances) by_id[i.instance_id] = i;
    ASSERT_TRUE(by_id.contains(dead));
    // At most one failed call per breaker period (the first, then a probe each 5 s or more).
    const auto periods = 1 + std::chrono::duration_cast<std::chrono::seconds>(took).count() / 5;
    EXPECT_GE(by_id[dead].failures, 1u);
    EXPECT_LE(by_id[dead].failures, static_cast<std::uint64_t>(periods));
    EXPECT_LE(by_id[dead].failures, 2u);
    std::uint64_t answered = 0;
    for (const auto& [id, i] : by_id) {
        if (id != dead) answered += i.calls - i.failures;
    }
    EXPECT_EQ(answered, static_cast<std::uint64_t>(kRuns));

    // The REST API shows the breaker.
    auto reply = get("/api/v1/services/servico_usuarios/breakers");
    ASSERT_EQ(reply.status, 200) << reply.body;
    auto body = json::parse(reply.body).as_object();
    EXPECT_EQ(body.at("service").as_string(), "SERVICO_USUARIOS");
    bool seen = false;
    for (const auto& v : body.at("instances").as_array()) {
        const auto& o = v.as_object();
        if (o.at("instance_id").as_string() != dead) continue;
        seen = true;
        EXPECT_NE(o.at("state").as_string(), "closed");
        EXPECT_GE(o.at("failures").as_int64(), 1);
        EXPECT_FALSE(o.at("last_error").as_string().empty());
    }
    EXPECT_TRUE(seen) << reply.body;
    auto all = get("/api/v1/services/~/breakers");
    ASSERT_EQ(all.status, 200) << all.body;
    EXPECT_EQ(json::parse(all.body).as_object().at("services").as_array().size(), 1u);
    auto unauthenticated = request(stack_.api_port(), "GET", "/api/v1/services/~/breakers");
    EXPECT_EQ(unauthenticated.status, 401);
}

// One sample line: name, optional {labels} with escaped values, a value.
const std::regex kSample(
    R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\["\\n]|[^"\\\n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(\\["\\n]|[^"\\\n])*")*\})? ([-+0-9.eE]+|NaN|\+Inf|-Inf)$)re");

TEST_F(ServiceChoiceTest, MetricsAreScrapedAsPrometheusText) {
    start_usuarios(1);
    if (HasFatalFailure()) return;
    // An instance whose id would break the text if it were not escaped, on a closed port.
    const std::string hostile = "evil\"} 1\n# TYPE orquestra_fake counter\\";
    registry::InstanceInfo info;
    info.app = "SERVICO_USUARIOS";
    info.instance_id = hostile;
    info.host_name = info.ip_addr = "127.0.0.1";
    info.port = {1, true};
    info.data_center_name = "MyOwn";
    info.status = registry::InstanceStatus::kUp;
    ASSERT_TRUE(stack_.registry().register_instance("SERVICO_USUARIOS", info));
    ASSERT_EQ(stack_.registry().up_instances("servico_usuarios").size(), 2u);
    start_api();
    if (HasFatalFailure()) return;
    // Round robin starts the two runs at different instances: the hostile one is tried once.
    EXPECT_EQ(run_once(1), store::RunState::kSuccess);
    EXPECT_EQ(run_once(2), store::RunState::kSuccess);

    auto reply = get("/metrics");
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(reply.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(request(stack_.api_port(), "GET", "/metrics").status, 401);

    std::map<std::string, std::string> types;  // family -> type
    std::map<std::string, double> samples;     // whole series text -> value
    std::set<std::string> helped;
    std::size_t start = 0;
    const std::string& text = reply.body;
    ASSERT_FALSE(text.empty());
    ASSERT_EQ(text.back(), '\n');
    while (start < text.size()) {
        const auto end = text.find('\n', start);
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (line.rfind("# HELP ", 0) == 0) {
            helped.insert(line.substr(7, line.find(' ', 7) - 7));
            continue;
        }
        if (line.rfind("# TYPE ", 0) == 0) {
            std::smatch m;
            static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
            ASSERT_TRUE(std::regex_match(line, m, kType)) << line;
            EXPECT_FALSE(types.contains(m[1])) << "two TYPE lines for " << m[1];
            types[m[1]] = m[2];
            continue;
        }
        std::smatch m;
        ASSERT_TRUE(std::regex_match(line, m, kSample)) << "not a sample line: " << line;
        std::string name = m[1];
        std::string family = name;
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
            const std::string s = suffix;
            if (name.size() > s.size() && name.ends_with(s) &&
                types.contains(name.substr(0, name.size() - s.size())) &&
                types[name.substr(0, name.size() - s.size())] == "histogram") {
                family = name.substr(0, name.size() - s.size());
            }
        }
        ASSERT_TRUE(types.contains(family)) << "no TYPE before " << line;
        EXPECT_TRUE(helped.contains(family)) << "no HELP for " << family;
        const auto space = line.rfind(' ');
        samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    for (const auto& [family, type] : types) {
        EXPECT_EQ(family.rfind("orquestra_", 0), 0u) << family;
        if (type == "counter") {
            EXPECT_TRUE(family.ends_with("_total")) << family;
        }
        if (type == "histogram") {
            EXPECT_TRUE(family.ends_with("_seconds") || family.ends_with("_changes")) << family;
        }
    }
    for (const char* family : {"orquestra_dag_runs_started_total",
                               "orquestra_dag_runs_finished_total", "orquestra_task_tries_total",
                               "orquestra_task_duration_seconds", "orquestra_task_queue_wait_seconds",
                               "orquestra_scheduler_loop_lag_seconds",
                               "orquestra_scheduler_flush_changes",
                               "orquestra_store_commit_duration_seconds",
                               "orquestra_service_call_duration_seconds",
                               "orquestra_service_calls_total",
                               "orquestra_service_breaker_state"}) {
        EXPECT_TRUE(types.contains(family)) << family;
    }
    EXPECT_EQ(types["orquestra_dag_runs_active"], "gauge");
    EXPECT_EQ(types["orquestra_service_breaker_state"], "gauge");
    EXPECT_EQ(samples[R"(orquestra_dag_runs_started_total{dag_id="usuario_lookup"})"], 2);
    EXPECT_EQ(
        samples[R"(orquestra_dag_runs_finished_total{dag_id="usuario_lookup",state="success"})"],
        2);
    EXPECT_EQ(samples[R"(orquestra_task_tries_total{kind="http",state="success"})"], 2);
    EXPECT_EQ(samples[R"(orquestra_task_duration_seconds_count{kind="http"})"], 2);
    EXPECT_EQ(samples[R"(orquestra_task_duration_seconds_bucket{kind="http",le="+Inf"})"], 2);
    EXPECT_EQ(samples[R"(orquestra_task_queue_wait_seconds_count{kind="http"})"], 2);
    EXPECT_GE(samples["orquestra_store_commit_duration_seconds_count"], 4);
    EXPECT_GE(samples["orquestra_scheduler_flush_changes_count"], 4);
    // The hostile id, escaped, with its breaker open after its one failed call.
    const std::string escaped = R"(evil\"} 1\n# TYPE orquestra_fake counter\\)";
    EXPECT_EQ(samples[R"(orquestra_service_breaker_state{service="SERVICO_USUARIOS",instance=")" +
                      escaped + R"(",state="open"})"],
              1)
        << text;
    EXPECT_EQ(samples[R"(orquestra_service_call_failures_total{service="SERVICO_USUARIOS",instance=")" +
                      escaped + R"("})"],
              1)
        << text;
    EXPECT_FALSE(types.contains("orquestra_fake"));
}

}  // namespace
}  // namespace orquestra::testing
