// Callbacks through the engine: which events fire, what they are told, that they run once the
// state is durable and never change it; then end to end with the real runners, over loopback
// HTTP and a real command.
#include "scheduler/callbacks.hpp"

#include "executor/http_runner.hpp"
#include "executor/runners.hpp"
#include "http/io_pool.hpp"
#include "http/server.hpp"
#include "scheduler/engine.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace orquestra::scheduler {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using store::RunState;
using store::TaskState;
using namespace std::chrono_literals;

// Records every try it is given; the test decides how each ends.
class ManualRunner final : public executor::TaskRunner {
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

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class CallbacksTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-callbacks-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        auto s = store::SqliteStore::open(home_ / "orquestra.db");
        ASSERT_TRUE(s) << s.error().message;
        store_ = std::move(*s);
        ASSERT_TRUE(store_->migrate());
        store::SecretBox::Key key{};
        key.fill(5);
        keys_ = std::make_unique<store::SecretKeySource>(store::SecretBox(key));
        secrets_ = std::make_unique<store::Secrets>(*store_, *keys_);
    }
    void TearDown() override {
        engine_.reset();
        folder_.reset();
        store_.reset();
        fs::remove_all(home_);
    }
    void write_dag(const std::string& yaml) { std::ofstream(home_ / "dags" / "d.yaml") << yaml; }
    void pump() {
        io_.restart();
        io_.poll();
    }
    void start_engine(CallbackLimits limits = {}) {
        folder_ = std::make_unique<dag::DagFolder>(home_ / "dags", clock_);
        EngineOptions opts;
        opts.log_dir = home_ / "logs";
        opts.unpause_new_dags = true;
        opts.callback_runner = &callbacks_;
        opts.callback_limits = limits;
        opts.secret_keys = keys_.get();
        engine_ = std::make_unique<Engine>(io_, *store_, *folder_, tasks_, clock_, opts);
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
    void finish(ManualRunner& runner, std::size_t index, bool success,
                std::string error = "boom") {
        executor::AttemptResult r;
        r.success = success;
        if (!success) r.error = std::move(error);
        runner.started.at(index).done(std::move(r));
        pump();
    }
    TaskState state(const std::string& task) {
        auto ti = store_->get_task_instance("d", "r1", task);
        EXPECT_TRUE(ti && *ti);
        return ti && *ti ? (*ti)->state : TaskState::kRemoved;
    }
    RunState run_state() {
        auto r = store_->get_run("d", "r1");
        EXPECT_TRUE(r && *r);
        return r && *r ? (*r)->state : RunState::kQueued;
    }
    // The body a callback's http try would send, as JSON.
    json::object body(std::size_t index) {
        const auto& http = std::get<executor::RenderedHttp>(callbacks_.started.at(index).attempt.work);
        EXPECT_TRUE(http.body.has_value());
        return json::parse(http.body.value_or("{}")).as_object();
    }
    std::string try_log(const std::string& task, int try_number) {
        engine_->flush_logs();
        return read_text(engine_->log_path("d", "r1", task, try_number));
    }
    std::uint64_t counted(std::string_view event, std::string_view kind,
                          std::string_view outcome) {
        return engine_->metrics().callbacks.value(
            label_pairs({{"event", event}, {"kind", kind}, {"outcome", outcome}}));
    }

    fs::path home_;
    FakeClock clock_{1'700'000'000'000};
    boost::asio::io_context io_;
    std::unique_ptr<store::SqliteStore> store_;
    std::unique_ptr<store::SecretKeySource> keys_;
    std::unique_ptr<store::Secrets> secrets_;
    std::unique_ptr<dag::DagFolder> folder_;
    ManualRunner tasks_;
    ManualRunner callbacks_;
    std::unique_ptr<Engine> engine_;
};

TEST_F(CallbacksTest, AFailingTaskFiresOnRetryThenOnFailureAndTheRunsOnFailureOnce) {
    write_dag(R"(
dag_id: d
on_failure: {url: "http://127.0.0.1:9/run-failed"}
default_args:
  retries: 1
  retry_delay: 1m
  on_retry: {url: "http://127.0.0.1:9/retry"}
tasks:
  a:
    command: ["false"]
    on_failure: {url: "http://127.0.0.1:9/failed", headers: {X-Event: "{{ callback.event }}"}}
  b: {command: ["true"], upstream: [a]}
)");
    start_engine();
    trigger();
    ASSERT_EQ(tasks_.started.size(), 1u);
    finish(tasks_, 0, false, "exit code 1");
    EXPECT_EQ(state("a"), TaskState::kUpForRetry);
    ASSERT_EQ(callbacks_.started.size(), 1u);
    const auto& retry = callbacks_.started[0].attempt;
    const auto& retry_http = std::get<executor::RenderedHttp>(retry.work);
    EXPECT_EQ(retry_http.method, "POST");
    EXPECT_EQ(retry_http.url.value_or(""), "http://127.0.0.1:9/retry");
    EXPECT_EQ(retry_http.content_type, "application/json");
    EXPECT_EQ(retry.timeout, 30'000ms);
    json::object event = body(0);
    EXPECT_EQ(event.at("event"), "retry");
    EXPECT_EQ(event.at("dag_id"), "d");
    EXPECT_EQ(event.at("run_id"), "r1");
    EXPECT_EQ(event.at("task_id"), "a");
    EXPECT_EQ(event.at("try_number"), 1);
    EXPECT_EQ(event.at("map_index"), -1);
    EXPECT_EQ(event.at("state"), "up_for_retry");
    EXPECT_EQ(event.at("error"), "exit code 1");
    EXPECT_EQ(event.at("run_type"), "manual");
    EXPECT_EQ(event.at("logical_date"), "2023-11-14T22:13:20+00:00");
    EXPECT_FALSE(event.contains("conf"));  // a trigger's conf stays in the run

    clock_.advance(60'000);
    engine_->fire_timers();
    pump();
    ASSERT_EQ(tasks_.started.size(), 2u);
    finish(tasks_, 1, false, "exit code 2");
    EXPECT_EQ(state("a"), TaskState::kFailed);
    EXPECT_EQ(run_state(), RunState::kFailed);
    // The task's own on_failure, then the run's: one each.
    ASSERT_EQ(callbacks_.started.size(), 3u);
    const auto& failed_http = std::get<executor::RenderedHttp>(callbacks_.started[1].attempt.work);
    EXPECT_EQ(failed_http.url.value_or(""), "http://127.0.0.1:9/failed");
    ASSERT_EQ(failed_http.headers.size(), 1u);
    EXPECT_EQ(failed_http.headers[0].second, "failure");
    event = body(1);
    EXPECT_EQ(event.at("event"), "failure");
    EXPECT_EQ(event.at("try_number"), 2);
    EXPECT_EQ(event.at("state"), "failed");
    EXPECT_EQ(event.at("error"), "exit code 2");
    json::object run = body(2);
    EXPECT_EQ(run.at("event"), "failure");
    EXPECT_EQ(run.at("state"), "failed");
    EXPECT_FALSE(run.contains("task_id"));
    EXPECT_EQ(run.at("error"), "failed tasks: a");
    EXPECT_EQ(std::get<executor::RenderedHttp>(callbacks_.started[2].attempt.work).url.value_or(""),
              "http://127.0.0.1:9/run-failed");
    // Nothing fires twice, whatever the engine looks at again.
    engine_->tick();
    engine_->housekeeping();
    pump();
    EXPECT_EQ(callbacks_.started.size(), 3u);

    finish(callbacks_, 0, true);
    finish(callbacks_, 1, false, "HTTP 500 from the hook");
    finish(callbacks_, 2, true);
    EXPECT_EQ(run_state(), RunState::kFailed);
    EXPECT_EQ(counted("retry", "http", "ok"), 1u);
    EXPECT_EQ(counted("failure", "http", "failed"), 1u);
    EXPECT_EQ(counted("failure", "http", "ok"), 1u);
    EXPECT_NE(try_log("a", 1).find("on_retry callback (http): http POST http://127.0.0.1:9/retry: ok"),
              std::string::npos)
        << try_log("a", 1);
    EXPECT_NE(try_log("a", 2).find("on_failure callback (http): http POST "
                                   "http://127.0.0.1:9/failed: failed: HTTP 500 from the hook"),
              std::string::npos)
        << try_log("a", 2);
    std::string metrics;
    engine_->metrics().render(metrics);
    EXPECT_NE(metrics.find(R"(orquestra_callbacks_total{event="failure",kind="http",outcome="failed"} 1)"),
              std::string::npos)
        << metrics;
}

TEST_F(CallbacksTest, EachMappedInstanceReportsItsOwnEndWithItsMapIndex) {
    write_dag(R"(
dag_id: d
tasks:
  a:
    expand: {n: [1, 2]}
    command: ["false"]
    on_failure: {url: "http://127.0.0.1:9/failed"}
)");
    start_engine();
    trigger();
    ASSERT_EQ(tasks_.started.size(), 2u);
    finish(tasks_, 0, false, "exit code 1");
    finish(tasks_, 1, false, "exit code 1");
    // One event per instance (not one per task and try), each naming its instance.
    ASSERT_EQ(callbacks_.started.size(), 2u);
    std::set<std::int64_t> indexes;
    for (std::size_t i = 0; i < 2; ++i) {
        json::object event = body(i);
        EXPECT_EQ(event.at("task_id"), "a");
        EXPECT_EQ(event.at("try_number"), 1);
        indexes.insert(event.at("map_index").as_int64());
    }
    EXPECT_EQ(indexes, (std::set<std::int64_t>{0, 1}));
    EXPECT_EQ(run_state(), RunState::kFailed);
}

TEST_F(CallbacksTest, SuccessFiresOnSuccessWithTheCallbackInTheTemplates) {
    write_dag(R"(
dag_id: d
on_success: {url: "http://127.0.0.1:9/done", json: {text: "{{ dag_run.dag_id }} {{ run_id }}: {{ callback.state }}"}}
tasks:
  a:
    http: {url: "http://127.0.0.1:9/work"}
    on_success:
      url: "http://127.0.0.1:9/ok"
      method: PUT
      path: "/{{ callback.task_id }}/{{ callback.try_number }}"
      json: {text: "{{ callback.event }} of {{ callback.task_id }}", out: "{{ tasks.a.output }}"}
    on_failure: {url: "http://127.0.0.1:9/never"}
)");
    start_engine();
    trigger();
    executor::AttemptResult ok;
    ok.success = true;
    ok.output_json = R"({"n":7})";
    tasks_.started.at(0).done(std::move(ok));
    pump();
    EXPECT_EQ(run_state(), RunState::kSuccess);
    ASSERT_EQ(callbacks_.started.size(), 2u);
    const auto& task_cb = std::get<executor::RenderedHttp>(callbacks_.started[0].attempt.work);
    EXPECT_EQ(task_cb.method, "PUT");
    EXPECT_EQ(task_cb.path, "/a/1");
    EXPECT_EQ(json::serialize(body(0)), R"({"text":"success of a","out":{"n":7}})");
    EXPECT_EQ(json::serialize(body(1)), R"({"text":"d r1: success"})");
}

TEST_F(CallbacksTest, ACallbackThatCannotRenderIsLoggedAndChangesNothing) {
    write_dag(R"(
dag_id: d
tasks:
  a:
    command: ["true"]
    on_success: {url: "http://127.0.0.1:9/x", json: {token: "{{ var.value.no_such_token }}"}}
)");
    start_engine();
    trigger();
    finish(tasks_, 0, true);
    EXPECT_EQ(run_state(), RunState::kSuccess);
    EXPECT_TRUE(callbacks_.started.empty());
    EXPECT_EQ(counted("success", "http", "failed"), 1u);
    EXPECT_NE(try_log("a", 1).find("on_success callback (http): cannot render the callback: "
                                   "variable 'no_such_token' does not exist"),
              std::string::npos)
        << try_log("a", 1);
}

TEST_F(CallbacksTest, WhatACallbackReadsOfSecretsIsMaskedInTheTryLog) {
    ASSERT_TRUE(secrets_->put_variable("api_token", "tok-SECRET-42", std::nullopt,
                                       store::PutMode::kUpsert));
    write_dag(R"(
dag_id: d
tasks:
  a:
    command: ["true"]
    on_failure:
      url: "http://127.0.0.1:9/hook"
      headers: {Authorization: "Bearer {{ var.value.api_token }}"}
)");
    start_engine();
    trigger();
    finish(tasks_, 0, false);
    ASSERT_EQ(callbacks_.started.size(), 1u);
    const auto& http = std::get<executor::RenderedHttp>(callbacks_.started[0].attempt.work);
    ASSERT_EQ(http.headers.size(), 1u);
    EXPECT_EQ(http.headers[0].second, "Bearer tok-SECRET-42");  // the hook gets the real value
    executor::AttemptResult refused;
    refused.error = "HTTP 401: token tok-SECRET-42 refused";
    refused.log = {"request header Authorization: Bearer tok-SECRET-42"};
    callbacks_.started[0].done(std::move(refused));
    pump();
    const std::string log = try_log("a", 1);
    EXPECT_EQ(log.find("tok-SECRET-42"), std::string::npos) << log;
    EXPECT_NE(log.find("failed: HTTP 401: token *** refused"), std::string::npos) << log;
    EXPECT_NE(log.find("request header Authorization: ***"), std::string::npos) << log;
    EXPECT_EQ(run_state(), RunState::kFailed);
}

TEST_F(CallbacksTest, CommandCallbacksGetTheEventInTheirEnvironment) {
    write_dag(R"(
dag_id: d
tasks:
  a:
    command: ["true"]
    on_failure: {argv: [notify-send], env: {WHO: "{{ callback.task_id }}"}}
)");
    start_engine();
    trigger();
    finish(tasks_, 0, false);
    ASSERT_EQ(callbacks_.started.size(), 1u);
    const auto& cmd = std::get<executor::RenderedCommand>(callbacks_.started[0].attempt.work);
    EXPECT_EQ(cmd.argv, std::vector<std::string>{"notify-send"});
    std::map<std::string, std::string> env(cmd.env.begin(), cmd.env.end());
    EXPECT_EQ(env["WHO"], "a");
    EXPECT_EQ(env["ORQUESTRA_CALLBACK_EVENT"], "failure");
    EXPECT_EQ(env["ORQUESTRA_TASK_ID"], "a");
    EXPECT_EQ(env["ORQUESTRA_TRY_NUMBER"], "1");
    json::object event = json::parse(env["ORQUESTRA_CALLBACK"]).as_object();
    EXPECT_EQ(event.at("event"), "failure");
    EXPECT_EQ(event.at("error"), "boom");
    EXPECT_EQ(callbacks_.started[0].attempt.timeout, 30'000ms);
}

// Past the cap, callbacks wait; past the queue, they are dropped and counted.
TEST_F(CallbacksTest, InFlightCallbacksAreCappedAndTheExcessQueuedThenDropped) {
    write_dag(R"(
dag_id: d
default_args:
  on_success: {url: "http://127.0.0.1:9/ok"}
tasks:
  a: {command: ["true"]}
  b: {command: ["true"]}
  c: {command: ["true"]}
)");
    CallbackLimits limits;
    limits.max_in_flight = 1;
    limits.max_queued = 1;
    start_engine(limits);
    trigger();
    ASSERT_EQ(tasks_.started.size(), 3u);
    executor::AttemptResult ok;
    ok.success = true;
    // All three end before the engine's next decision: one flush, three events.
    for (auto& s : tasks_.started) s.done(ok);
    pump();
    EXPECT_EQ(run_state(), RunState::kSuccess);
    ASSERT_EQ(callbacks_.started.size(), 1u);
    EXPECT_EQ(counted("success", "http", "dropped"), 1u);
    finish(callbacks_, 0, true);
    ASSERT_EQ(callbacks_.started.size(), 2u);  // the queued one started
    finish(callbacks_, 1, true);
    EXPECT_EQ(callbacks_.started.size(), 2u);
    EXPECT_EQ(counted("success", "http", "ok"), 2u);
}

TEST(CallbackDispatcherTest, AnEventIsReportedOnce) {
    boost::asio::io_context loop;
    ManualRunner runner;
    auto metrics = std::make_shared<EngineMetrics>();
    auto dag = std::make_shared<dag::Dag>();
    dag::Callback cb;
    dag::CommandSpec cmd;
    cmd.script = "true";
    cb.target = cmd;
    dag->callbacks.on_failure.push_back(cb);
    std::vector<std::string> logged;
    CallbackDispatcher dispatcher(
        loop, runner, nullptr, metrics,
        [&](const std::string&, const std::string&, const std::string&, int, int,
            const std::vector<std::string>& lines) {
            logged.insert(logged.end(), lines.begin(), lines.end());
        });
    auto job = [&] {
        CallbackJob j;
        j.dag = dag;
        j.callbacks = &dag->callbacks.on_failure;
        j.dag_id = "d";
        j.run_id = "r";
        j.task_id = "t";
        j.try_number = 1;
        j.once_key = "t/1/failure";
        return j;
    };
    dispatcher.submit(job());
    dispatcher.submit(job());
    EXPECT_EQ(runner.started.size(), 1u);
    executor::AttemptResult failed;
    failed.error = "exit code 3";
    runner.started[0].done(failed);
    loop.poll();
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_EQ(logged[0], "on_failure callback (command): command (script): failed: exit code 3");
    EXPECT_EQ(dispatcher.in_flight(), 0);
}

// ---- End to end: the real runners, a hook server on loopback, a real command ----------------

// An HTTP server on its own thread that records the requests it gets.
class HookServer {
public:
    HookServer()
        : guard_(io_.get_executor()),
          server_(io_, http::ServerOptions{},
                  http::SyncHandler([this](http::Request& req, http::Response& res) {
                      {
                          std::lock_guard lock(mu_);
                          requests_.push_back({std::string(req.method_string()),
                                               std::string(req.target()), req.body()});
                      }
                      res.set(200, "application/json", R"({"ok":true})");
                  })) {
        auto port = server_.start();
        EXPECT_TRUE(port) << port.error().message;
        thread_ = std::thread([this] { io_.run(); });
    }
    ~HookServer() {
        server_.stop();
        guard_.reset();
        io_.stop();
        thread_.join();
    }
    std::uint16_t port() const { return server_.port(); }
    struct Received {
        std::string method, target, body;
    };
    std::vector<Received> requests() {
        std::lock_guard lock(mu_);
        return requests_;
    }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    http::HttpServer server_;
    std::mutex mu_;
    std::vector<Received> requests_;
    std::thread thread_;
};

// No service is registered.
class EmptyDirectory final : public discovery::ServiceDirectory {
public:
    std::vector<discovery::ServiceInstance> up_instances(const std::string&) override {
        return {};
    }
    void subscribe(std::function<void(const std::string&)>) override {}
};

TEST(CallbacksEndToEndTest, AFailedRunPostsToAHookRunsACommandAndSurvivesAnUnknownService) {
    std::random_device rd;
    const fs::path home = fs::temp_directory_path() / ("orquestra-cb-e2e-" + std::to_string(rd()));
    fs::create_directories(home / "dags");
    const fs::path written = home / "callback.json";
    HookServer hook;
    std::ofstream(home / "dags" / "d.yaml") << fmt::format(R"(
dag_id: d
on_failure:
  - url: "http://127.0.0.1:{port}/hooks/T000/B000"
    json: {{text: "Run {{{{ run_id }}}} of {{{{ dag_run.dag_id }}}} failed: {{{{ callback.error }}}}"}}
  - {{service: no_such_service, path: /alert}}
tasks:
  a:
    command: {{script: "exit 3"}}
    on_failure:
      script: 'printf "%s" "$ORQUESTRA_CALLBACK" > "$OUT"'
      env: {{OUT: "{written}"}}
)",
                                                           fmt::arg("port", hook.port()),
                                                           fmt::arg("written", written.string()));
    {
        auto opened = store::SqliteStore::open(home / "orquestra.db");
        ASSERT_TRUE(opened) << opened.error().message;
        auto store = std::move(*opened);
        ASSERT_TRUE(store->migrate());
        http::IoPool pool(1);
        pool.start();
        EmptyDirectory directory;
        discovery::InstanceChoice choice;
        boost::asio::io_context loop;
        executor::HttpTaskRunner http_runner(pool, directory, choice);
        executor::CommandTaskRunner command_runner(2);
        executor::ServiceWaitRunner wait_runner(loop, directory);
        executor::RunnerSet runners(http_runner, command_runner, wait_runner);
        SystemClock clock;
        dag::DagFolder folder(home / "dags", clock);
        EngineOptions opts;
        opts.log_dir = home / "logs";
        opts.unpause_new_dags = true;
        Engine engine(loop, *store, folder, runners, clock, opts);
        ASSERT_TRUE(engine.start());
        TriggerRequest req;
        req.dag_id = "d";
        req.run_id = "r1";
        ASSERT_TRUE(engine.trigger(req));
        auto settled = [&] {
            auto outcomes = [&](std::string_view kind, std::string_view outcome) {
                return engine.metrics().callbacks.value(label_pairs(
                    {{"event", "failure"}, {"kind", kind}, {"outcome", outcome}}));
            };
            return outcomes("http", "ok") + outcomes("http", "failed") +
                       outcomes("command", "ok") + outcomes("command", "failed") ==
                   3;
        };
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!settled() && std::chrono::steady_clock::now() < deadline) {
            loop.restart();
            loop.run_for(20ms);
        }
        ASSERT_TRUE(settled());
        auto run = store->get_run("d", "r1");
        ASSERT_TRUE(run && *run);
        EXPECT_EQ((*run)->state, RunState::kFailed);  // the failing callback changed nothing
        auto outcome = [&](std::string_view kind, std::string_view result) {
            return engine.metrics().callbacks.value(
                label_pairs({{"event", "failure"}, {"kind", kind}, {"outcome", result}}));
        };
        EXPECT_EQ(outcome("http", "ok"), 1u);
        EXPECT_EQ(outcome("http", "failed"), 1u);  // no_such_service
        EXPECT_EQ(outcome("command", "ok"), 1u);

        auto got = hook.requests();
        ASSERT_EQ(got.size(), 1u);
        EXPECT_EQ(got[0].method, "POST");
        EXPECT_EQ(got[0].target, "/hooks/T000/B000");
        EXPECT_EQ(got[0].body, R"({"text":"Run r1 of d failed: failed tasks: a"})");

        json::object event = json::parse(read_text(written)).as_object();
        EXPECT_EQ(event.at("event"), "failure");
        EXPECT_EQ(event.at("task_id"), "a");
        EXPECT_EQ(event.at("state"), "failed");
        EXPECT_NE(std::string(event.at("error").as_string()).find("3"), std::string::npos)
            << event.at("error");
        engine.flush_logs();
        const std::string log = read_text(engine.log_path("d", "r1", "a", 1));
        EXPECT_NE(log.find("on_failure callback (command): command (script): ok"),
                  std::string::npos)
            << log;
        engine.stop();
        pool.stop();
    }
    fs::remove_all(home);
}

}  // namespace
}  // namespace orquestra::scheduler
