// Variables and connections as the engine renders them: looked up when a try starts, secret
// values masked in the try's rendered request, log and error; a missing one fails the task
// with a message naming it.
#include "scheduler/engine.hpp"

#include "core/strings.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

namespace orquestra::scheduler {
namespace {

namespace fs = std::filesystem;
using store::RunState;
using store::TaskState;

class RecordingRunner final : public executor::TaskRunner {
public:
    void run(executor::Attempt attempt, std::function<void(executor::AttemptResult)> done) override {
        if (attempt.on_started) attempt.on_started({0, ""});
        started.push_back({std::move(attempt), std::move(done)});
    }
    struct Started {
        executor::Attempt attempt;
        std::function<void(executor::AttemptResult)> done;
    };
    std::vector<Started> started;
};

class SecretsEngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-secrets-engine-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        auto s = store::SqliteStore::open(home_ / "orquestra.db");
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::move(*s);
        ASSERT_TRUE(store_->migrate());
        store::SecretBox::Key key{};
        key.fill(3);
        keys_ = std::make_unique<store::SecretKeySource>(store::SecretBox(key));
        secrets_ = std::make_unique<store::Secrets>(*store_, *keys_);
    }
    void TearDown() override {
        engine_.reset();
        folder_.reset();
        store_.reset();
        fs::remove_all(home_);
    }
    void pump() {
        io_.restart();
        io_.poll();
    }
    void start_engine(const std::string& yaml) {
        std::ofstream(home_ / "dags" / "d.yaml") << yaml;
        folder_ = std::make_unique<dag::DagFolder>(home_ / "dags", clock_);
        EngineOptions opts;
        opts.log_dir = home_ / "logs";
        opts.unpause_new_dags = true;
        opts.secret_keys = keys_.get();
        engine_ = std::make_unique<Engine>(io_, *store_, *folder_, runner_, clock_, opts);
        ASSERT_TRUE(engine_->start());
        pump();
    }
    void trigger(const std::string& run_id = "r1") {
        TriggerRequest req;
        req.dag_id = "d";
        req.run_id = run_id;
        auto r = engine_->trigger(req);
        ASSERT_TRUE(r) << r.error().message;
        pump();
    }
    std::string read_log(const std::string& task, const std::string& run_id = "r1") {
        engine_->flush_logs();
        std::ifstream in(engine_->log_path("d", run_id, task, 1));
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }
    store::TaskTry last_try(const std::string& task, const std::string& run_id = "r1") {
        auto tries = store_->tries("d", run_id, task);
        EXPECT_TRUE(tries && !tries->empty());
        return tries && !tries->empty() ? tries->back() : store::TaskTry{};
    }

    fs::path home_;
    FakeClock clock_{1'700'000'000'000};
    boost::asio::io_context io_;
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<store::SecretKeySource> keys_;
    std::unique_ptr<store::Secrets> secrets_;
    std::unique_ptr<dag::DagFolder> folder_;
    RecordingRunner runner_;
    std::unique_ptr<Engine> engine_;
};

constexpr const char* kDag = R"(
dag_id: d
tasks:
  cmd:
    command:
      script: 'echo "$REGION $TOKEN $HOST $LIMIT"'
      env:
        REGION: "{{ var.value.region }}"
        TOKEN: "{{ var.value.api_token }}"
        HOST: "{{ conn.my_api.host }}:{{ conn.my_api.port }}"
        LIMIT: "{{ var.json.settings.limit }}"
  call:
    upstream: [cmd]
    http:
      connection: my_api
      method: POST
      path: "/items/{{ var.value.region }}"
      json: {who: "{{ conn.my_api.login }}"}
)";

TEST_F(SecretsEngineTest, VariablesAndConnectionsAreReadWhenATryIsRendered) {
    ASSERT_TRUE(secrets_->put_variable("region", "eu-west", std::nullopt, store::PutMode::kUpsert));
    ASSERT_TRUE(secrets_->put_variable("api_token", "tok-SECRET-42", std::nullopt,
                                       store::PutMode::kUpsert));
    ASSERT_TRUE(secrets_->put_variable("settings", R"({"limit": 7})", std::nullopt,
                                       store::PutMode::kUpsert));
    auto conn = store::parse_connection_uri("my_api", "http://ana:pw-SECRET-9@api.test:8080/v2");
    ASSERT_TRUE(conn);
    ASSERT_TRUE(secrets_->put_connection(*conn, store::PutMode::kCreate));
    start_engine(kDag);
    // Changed after the DAG loaded: the try reads the value of when it starts.
    ASSERT_TRUE(secrets_->put_variable("region", "sa-east", std::nullopt, store::PutMode::kUpsert));
    trigger();
    ASSERT_EQ(runner_.started.size(), 1u);
    const auto& cmd = std::get<executor::RenderedCommand>(runner_.started[0].attempt.work);
    std::map<std::string, std::string> env(cmd.env.begin(), cmd.env.end());
    EXPECT_EQ(env["REGION"], "sa-east");
    EXPECT_EQ(env["TOKEN"], "tok-SECRET-42");
    EXPECT_EQ(env["HOST"], "api.test:8080");
    EXPECT_EQ(env["LIMIT"], "7");
    EXPECT_EQ(last_try("cmd").rendered_json.find("tok-SECRET-42"), std::string::npos);

    // The command echoes its secret: its log shows *** instead; so does its error.
    executor::AttemptResult result;
    result.success = true;
    result.log = {"stdout: sa-east tok-SECRET-42 api.test:8080 7"};
    runner_.started[0].done(std::move(result));
    pump();
    const std::string log = read_log("cmd");
    EXPECT_NE(log.find("stdout: sa-east *** api.test:8080 7"), std::string::npos) << log;
    EXPECT_EQ(log.find("tok-SECRET-42"), std::string::npos) << log;

    ASSERT_EQ(runner_.started.size(), 2u);
    const auto& http = std::get<executor::RenderedHttp>(runner_.started[1].attempt.work);
    EXPECT_EQ(http.url, "http://api.test:8080/v2");
    EXPECT_EQ(http.path, "/items/sa-east");
    ASSERT_EQ(http.body, R"({"who":"ana"})");
    std::string authorization;
    for (const auto& [k, v] : http.headers) {
        if (k == "Authorization") authorization = v;
    }
    EXPECT_EQ(authorization, "Basic " + base64_encode("ana:pw-SECRET-9"));
    const std::string rendered = last_try("call").rendered_json;
    EXPECT_EQ(rendered.find("pw-SECRET-9"), std::string::npos) << rendered;
    EXPECT_NE(rendered.find("\"Authorization\":\"***\""), std::string::npos) << rendered;

    executor::AttemptResult failed;
    failed.error = "401 from the server for ana:pw-SECRET-9";
    runner_.started[1].done(std::move(failed));
    pump();
    const auto t = last_try("call");
    EXPECT_EQ(t.state, TaskState::kFailed);
    EXPECT_EQ(t.error, "401 from the server for ana:***");
}

TEST_F(SecretsEngineTest, AMissingVariableFailsTheTaskNamingIt) {
    start_engine(kDag);
    trigger();
    EXPECT_TRUE(runner_.started.empty());
    const auto t = last_try("cmd");
    EXPECT_EQ(t.state, TaskState::kFailed);
    EXPECT_NE(t.error.find("variable 'region' does not exist"), std::string::npos) << t.error;
    EXPECT_NE(t.error.find("ORQUESTRA_VAR_REGION"), std::string::npos) << t.error;
    auto run = store_->get_run("d", "r1");
    ASSERT_TRUE(run && *run);
    EXPECT_EQ((*run)->state, RunState::kFailed);
    auto call = store_->get_task_instance("d", "r1", "call");
    EXPECT_EQ((*call)->state, TaskState::kUpstreamFailed);
}

TEST_F(SecretsEngineTest, AMissingConnectionFailsTheHttpTaskNamingIt) {
    start_engine(R"(
dag_id: d
tasks:
  call: {http: {connection: nowhere, path: /x}}
)");
    trigger();
    EXPECT_TRUE(runner_.started.empty());
    const auto t = last_try("call");
    EXPECT_EQ(t.state, TaskState::kFailed);
    EXPECT_NE(t.error.find("connection 'nowhere' does not exist"), std::string::npos) << t.error;
}

TEST_F(SecretsEngineTest, TheEnvironmentOverridesAndDefaultsApply) {
    ::setenv("ORQUESTRA_VAR_SECRETS_ENGINE_TEST_KEY", "from-env", 1);
    start_engine(R"(
dag_id: d
tasks:
  cmd:
    command:
      script: 'true'
      env:
        A: "{{ var.value.secrets_engine_test_key }}"
        B: "{{ var.value.not_there | default('fallback') }}"
)");
    trigger();
    ::unsetenv("ORQUESTRA_VAR_SECRETS_ENGINE_TEST_KEY");
    ASSERT_EQ(runner_.started.size(), 1u);
    const auto& cmd = std::get<executor::RenderedCommand>(runner_.started[0].attempt.work);
    std::map<std::string, std::string> env(cmd.env.begin(), cmd.env.end());
    EXPECT_EQ(env["A"], "from-env");
    EXPECT_EQ(env["B"], "fallback");
}

}  // namespace
}  // namespace orquestra::scheduler
