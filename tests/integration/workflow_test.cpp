// The workflow engine with its real runners and the system clock, against small HTTP services
// on 127.0.0.1:0 that are registered in a real registry (RegistryNode with its Eureka API).
// Each test gets its own home directory (DAG files, SQLite database, logs).

#include "app/workflow_node.hpp"

#include "app/registry_directory.hpp"
#include "app/registry_node.hpp"
#include "core/strings.hpp"
#include "store/secrets.hpp"
#include "test_http.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace orquestra::app {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using store::RunState;
using store::TaskState;
using Steady = std::chrono::steady_clock;

constexpr auto kRunDeadline = 20s;

// One request as a test service received it.
struct SeenRequest {
    std::string method;
    std::string target;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;

    std::string header(std::string_view name) const {
        for (const auto& [k, v] : headers) {
            if (iequals(k, name)) return v;
        }
        return "<absent>";
    }
};

// A tiny HTTP service: records every request it receives, then lets `respond` answer it.
// `respond` gets the request's number at this service, from 1. Handlers run on the caller's
// io_context, which must be run by exactly one thread (see stop()).
class TestService {
public:
    using Responder = std::function<void(const http::Request&, http::Response&, int n)>;

    TestService(boost::asio::io_context& io, Responder respond, http::ServerOptions options = {})
        : io_(io),
          respond_(std::move(respond)),
          server_(io, std::move(options),
                  http::SyncHandler(
                      [this](http::Request& req, http::Response& res) { handle(req, res); })) {}

    Result<std::uint16_t> start() { return server_.start(); }
    std::uint16_t port() const { return server_.port(); }
    int count() const { return count_.load(); }
    std::int64_t open_connections() const { return server_.stats().open_connections.load(); }
    std::vector<SeenRequest> seen() const {
        std::lock_guard lock(mu_);
        return seen_;
    }

    // Returns once the listening socket is closed. HttpServer::stop() posts the close onto
    // `io`; a handler posted after it runs after it, since one thread runs `io`.
    void stop() {
        server_.stop();
        std::promise<void> closed;
        boost::asio::post(io_, [&closed] { closed.set_value(); });
        closed.get_future().wait();
    }

private:
    void handle(http::Request& req, http::Response& res) {
        SeenRequest seen;
        seen.method = std::string(req.method_string());
        seen.target = std::string(req.target());
        seen.body = req.body();
        for (const auto& field : req.message()) {
            seen.headers.emplace_back(std::string(field.name_string()),
                                      std::string(field.value()));
        }
        int n = 0;
        {
            std::lock_guard lock(mu_);
            seen_.push_back(std::move(seen));
            n = ++count_;
        }
        respond_(req, res, n);
    }

    boost::asio::io_context& io_;
    Responder respond_;
    mutable std::mutex mu_;
    std::vector<SeenRequest> seen_;
    std::atomic<int> count_{0};
    http::HttpServer server_;
};

TestService::Responder answer(int status, std::string body) {
    return [status, body = std::move(body)](const http::Request&, http::Response& res, int) {
        res.set(status, "application/json", body);
    };
}

// servico_usuarios of the seed: user 1 is an admin, user 3 is not, any other is unknown.
void usuarios(const http::Request& req, http::Response& res, int) {
    if (req.method() != http::beast_http::verb::get) {
        res.set(405, "application/json", R"({"erro":"metodo"})");
    } else if (req.path() == "/usuarios/1") {
        res.set(200, "application/json", R"({"id":1,"nome":"Ana","grupos":["admin","dev"]})");
    } else if (req.path() == "/usuarios/3") {
        res.set(200, "application/json", R"({"id":3,"nome":"Caio","grupos":["dev"]})");
    } else {
        res.set(404, "application/json", R"({"erro":"usuario nao encontrado"})");
    }
}

constexpr const char* kSeedDag = R"(
dag_id: usuarios_mensagens
params:
  usuario_id: {type: integer, minimum: 1, default: 1}
tasks:
  obter_usuario:
    http: {service: servico_usuarios, method: GET, path: "/usuarios/{{ params.usuario_id }}"}
  enviar_mensagem:
    upstream: [obter_usuario]
    when: "{{ 'admin' in tasks.obter_usuario.output.grupos }}"
    http:
      service: servico_mensagens
      method: POST
      path: /enviar_mensagem
      json:
        usuario_id: "{{ params.usuario_id }}"
        grupo: admin
        mensagem: "Olá {{ tasks.obter_usuario.output.nome }}"
)";

// One HTTP task against service `eco`, with no retries.
constexpr const char* kEcoDag = R"(
dag_id: eco
tasks:
  chamar: {http: {service: eco, path: /eco}}
)";

class WorkflowIntegrationTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() /
                ("orquestra-it-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        registry_ = std::make_unique<RegistryNode>(io_.io(), SystemClock::instance(),
                                                   RegistryNodeOptions{});
        auto port = registry_->start();
        ASSERT_TRUE(port) << port.error().message;
        registry_port_ = *port;
        directory_ = std::make_unique<RegistryDirectory>(registry_->registry());
        pool_.start();
    }

    // Runner callbacks post into the node's loop: stop the client pool before the node goes,
    // and the node before the registry whose listeners point into it.
    void TearDown() override {
        pool_.stop();
        node_.reset();
        if (registry_) registry_->stop();
        io_.stop();
        services_.clear();
        registry_.reset();
        std::error_code ec;
        fs::remove_all(home_, ec);
    }

    void write_dag(const std::string& file, const std::string& yaml) {
        std::ofstream(home_ / "dags" / file) << yaml;
    }

    // Starts the orchestrator; it loads the DAG files written so far.
    void start_node() {
        HomePaths paths{home_, home_ / "dags", home_ / "orquestra.db", home_ / "logs"};
        scheduler::EngineOptions options;
        options.unpause_new_dags = true;
        node_ = std::make_unique<WorkflowNode>(paths, *directory_, pool_, SystemClock::instance(),
                                               options);
        auto started = node_->start();
        ASSERT_TRUE(started) << started.error().message;
        node_->call([this] {
            node_->engine().add_run_listener([this](const store::DagRun& run) { finished(run); });
        });
    }

    void register_instance(const std::string& app, const std::string& id, std::uint16_t port) {
        registry::InstanceInfo info;
        info.instance_id = id;
        info.host_name = "127.0.0.1";
        info.ip_addr = "127.0.0.1";
        info.app = app;
        info.port = registry::PortInfo{port, true};
        info.data_center_class = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo";
        info.data_center_name = "MyOwn";
        auto r = registry_->registry().register_instance(app, std::move(info));
        ASSERT_TRUE(r) << r.error().message;
    }

    TestService& start_service(TestService::Responder respond, http::ServerOptions options = {}) {
        services_.push_back(
            std::make_unique<TestService>(io_.io(), std::move(respond), std::move(options)));
        TestService& service = *services_.back();
        auto port = service.start();
        EXPECT_TRUE(port) << port.error().message;
        return service;
    }

    TestService& add_service(const std::string& app, const std::string& id,
                             TestService::Responder respond, http::ServerOptions options = {}) {
        TestService& service = start_service(std::move(respond), std::move(options));
        register_instance(app, id, service.port());
        return service;
    }

    struct PendingRun {
        std::string dag_id;
        std::string run_id;
        std::future<store::DagRun> done;
        Steady::time_point started;
        bool created = false;
    };

    PendingRun trigger(const std::string& dag_id, const std::string& run_id,
                       const std::string& conf = "{}") {
        PendingRun pending{dag_id, run_id, {}, {}, false};
        auto promise = std::make_shared<std::promise<store::DagRun>>();
        pending.done = promise->get_future();
        {
            std::lock_guard lock(mu_);
            waiting_[{dag_id, run_id}] = promise;
        }
        scheduler::TriggerRequest request;
        request.dag_id = dag_id;
        request.run_id = run_id;
        request.conf = json::parse(conf).as_object();
        pending.started = Steady::now();
        auto created = node_->call([&] { return node_->engine().trigger(request); });
        EXPECT_TRUE(created) << dag_id << " / " << run_id << ": " << created.error().message;
        pending.created = created.has_value();
        return pending;
    }

    struct FinishedRun {
        bool finished = false;
        store::DagRun run;
        Steady::duration elapsed{};  // from the trigger to the listener's report
    };

    FinishedRun wait(PendingRun& pending) {
        FinishedRun out;
        if (!pending.created) return out;
        if (pending.done.wait_for(kRunDeadline) != std::future_status::ready) {
            ADD_FAILURE() << pending.dag_id << " / " << pending.run_id
                          << " did not finish within 20 s";
            return out;
        }
        out.elapsed = Steady::now() - pending.started;
        out.run = pending.done.get();
        out.finished = true;
        return out;
    }

    FinishedRun run_dag(const std::string& dag_id, const std::string& run_id,
                        const std::string& conf = "{}") {
        auto pending = trigger(dag_id, run_id, conf);
        return wait(pending);
    }

    store::TaskInstance task(const std::string& dag_id, const std::string& run_id,
                             const std::string& task_id) {
        auto ti = node_->store().get_task_instance(dag_id, run_id, task_id);
        EXPECT_TRUE(ti && *ti) << "no task instance " << task_id << " in " << run_id;
        return ti && *ti ? **ti : store::TaskInstance{};
    }

    std::vector<store::TaskTry> tries(const std::string& dag_id, const std::string& run_id,
                                      const std::string& task_id) {
        auto t = node_->store().tries(dag_id, run_id, task_id);
        EXPECT_TRUE(t) << t.error().message;
        return t ? *t : std::vector<store::TaskTry>{};
    }

    std::string read_log(const std::string& dag_id, const std::string& run_id,
                         const std::string& task_id, int try_number) {
        node_->engine().flush_logs();  // written off the loop; queued before the run finished
        std::ifstream in(node_->engine().log_path(dag_id, run_id, task_id, try_number));
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

    // Polls the store until the task reaches `state` (bounded; the store is the only view of
    // a run in progress).
    bool wait_for_state(const std::string& dag_id, const std::string& run_id,
                        const std::string& task_id, TaskState state) {
        auto deadline = Steady::now() + 10s;
        while (Steady::now() < deadline) {
            auto ti = node_->store().get_task_instance(dag_id, run_id, task_id);
            if (ti && *ti && (*ti)->state == state) return true;
            std::this_thread::sleep_for(2ms);
        }
        return false;
    }

    fs::path home_;
    // The registry's listener and timers, and every test service, on one thread.
    testing::IoThreads io_{1};
    std::unique_ptr<RegistryNode> registry_;
    std::uint16_t registry_port_ = 0;
    std::unique_ptr<RegistryDirectory> directory_;
    std::vector<std::unique_ptr<TestService>> services_;
    http::IoPool pool_{2};  // the HTTP runner's client connections
    std::unique_ptr<WorkflowNode> node_;

private:
    void finished(const store::DagRun& run) {
        std::lock_guard lock(mu_);
        auto it = waiting_.find({run.dag_id, run.run_id});
        if (it == waiting_.end()) return;
        it->second->set_value(run);
        waiting_.erase(it);
    }

    std::mutex mu_;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<std::promise<store::DagRun>>>
        waiting_;
};

// --- the seed scenario ---------------------------------------------------------------------

TEST_F(WorkflowIntegrationTest, SeedAdminUserGetsTheMessage) {
    write_dag("seed.yaml", kSeedDag);
    auto& users = add_service("servico_usuarios", "usuarios-1", usuarios);
    auto& messages =
        add_service("servico_mensagens", "mensagens-1", answer(200, R"({"status":"enviada"})"));
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("usuarios_mensagens", "admin", R"({"usuario_id":1})");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kSuccess);

    auto obter = task("usuarios_mensagens", "admin", "obter_usuario");
    EXPECT_EQ(obter.state, TaskState::kSuccess);
    EXPECT_EQ(obter.served_by, "usuarios-1");
    ASSERT_TRUE(obter.output_json);
    EXPECT_EQ(json::parse(*obter.output_json),
              json::parse(R"({"id":1,"nome":"Ana","grupos":["admin","dev"]})"));
    EXPECT_EQ(task("usuarios_mensagens", "admin", "enviar_mensagem").state, TaskState::kSuccess);

    EXPECT_EQ(users.count(), 1);
    ASSERT_EQ(messages.count(), 1);
    auto sent = messages.seen().front();
    EXPECT_EQ(sent.method, "POST");
    EXPECT_EQ(sent.target, "/enviar_mensagem");
    EXPECT_EQ(sent.header("Content-Type"), "application/json");
    // usuario_id keeps its type (a number), and the user's name came from the upstream output.
    EXPECT_EQ(json::parse(sent.body),
              json::parse(R"({"usuario_id":1,"grupo":"admin","mensagem":"Olá Ana"})"));
}

TEST_F(WorkflowIntegrationTest, SeedNonAdminUserIsSkipped) {
    write_dag("seed.yaml", kSeedDag);
    auto& users = add_service("servico_usuarios", "usuarios-1", usuarios);
    auto& messages = add_service("servico_mensagens", "mensagens-1", answer(200, "{}"));
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("usuarios_mensagens", "comum", R"({"usuario_id":3})");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kSuccess);
    EXPECT_EQ(task("usuarios_mensagens", "comum", "obter_usuario").state, TaskState::kSuccess);
    auto enviar = task("usuarios_mensagens", "comum", "enviar_mensagem");
    EXPECT_EQ(enviar.state, TaskState::kSkipped);
    EXPECT_EQ(enviar.try_number, 0);
    EXPECT_EQ(users.count(), 1);
    EXPECT_EQ(messages.count(), 0);
}

TEST_F(WorkflowIntegrationTest, SeedUnknownUserFailsTheRunWithTheReason) {
    write_dag("seed.yaml", kSeedDag);
    auto& users = add_service("servico_usuarios", "usuarios-1", usuarios);
    auto& messages = add_service("servico_mensagens", "mensagens-1", answer(200, "{}"));
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("usuarios_mensagens", "desconhecido", R"({"usuario_id":99})");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kFailed);

    auto obter = task("usuarios_mensagens", "desconhecido", "obter_usuario");
    EXPECT_EQ(obter.state, TaskState::kFailed);
    EXPECT_EQ(obter.try_number, 1);
    auto obter_tries = tries("usuarios_mensagens", "desconhecido", "obter_usuario");
    ASSERT_EQ(obter_tries.size(), 1u);
    EXPECT_EQ(obter_tries[0].state, TaskState::kFailed);
    EXPECT_NE(obter_tries[0].error.find("HTTP 404"), std::string::npos) << obter_tries[0].error;
    EXPECT_NE(read_log("usuarios_mensagens", "desconhecido", "obter_usuario", 1).find("HTTP 404"),
              std::string::npos);
    EXPECT_EQ(task("usuarios_mensagens", "desconhecido", "enviar_mensagem").state,
              TaskState::kUpstreamFailed);
    EXPECT_EQ(users.count(), 1);
    EXPECT_EQ(messages.count(), 0);
}

// --- choosing instances --------------------------------------------------------------------

TEST_F(WorkflowIntegrationTest, RunsAreSpreadOverInstances) {
    write_dag("eco.yaml", kEcoDag);
    auto& a = add_service("eco", "eco-a", answer(200, "{}"));
    auto& b = add_service("eco", "eco-b", answer(200, "{}"));
    ASSERT_NO_FATAL_FAILURE(start_node());

    for (int i = 0; i < 10; ++i) {
        auto done = run_dag("eco", "r" + std::to_string(i));
        ASSERT_TRUE(done.finished);
        EXPECT_EQ(done.run.state, RunState::kSuccess);
    }
    EXPECT_EQ(a.count() + b.count(), 10);
    EXPECT_GE(a.count(), 3);
    EXPECT_GE(b.count(), 3);
}

TEST_F(WorkflowIntegrationTest, RefusedConnectionMovesToTheNextInstanceWithinOneTry) {
    write_dag("eco.yaml", kEcoDag);
    auto& dead = add_service("eco", "eco-a", answer(200, "{}"));
    auto& live = add_service("eco", "eco-b", answer(200, R"({"de":"b"})"));
    ASSERT_NO_FATAL_FAILURE(start_node());
    // Both serve first, so the runner holds kept-alive connections to both.
    for (int i = 0; i < 4; ++i) {
        ASSERT_EQ(run_dag("eco", "antes" + std::to_string(i)).run.state, RunState::kSuccess);
    }
    const int dead_before = dead.count();
    const int live_before = live.count();
    ASSERT_GE(dead_before, 1);
    ASSERT_GE(live_before, 1);

    dead.stop();  // still registered and UP
    http::ClientRequest probe;
    ASSERT_FALSE(http::fetch(http::Endpoint{"127.0.0.1", dead.port()}, probe, 2s))
        << "the stopped service still accepts connections";

    int failed_over = 0;
    for (int i = 0; i < 4; ++i) {
        std::string run_id = "r" + std::to_string(i);
        auto done = run_dag("eco", run_id);
        ASSERT_TRUE(done.finished);
        EXPECT_EQ(done.run.state, RunState::kSuccess);
        auto ti = task("eco", run_id, "chamar");
        EXPECT_EQ(ti.state, TaskState::kSuccess);
        EXPECT_EQ(ti.try_number, 1);
        EXPECT_EQ(ti.served_by, "eco-b");
        EXPECT_EQ(tries("eco", run_id, "chamar").size(), 1u);
        const std::string log = read_log("eco", run_id, "chamar", 1);
        if (log.find("(instance eco-a, time limit ") != std::string::npos) {
            ++failed_over;
        }
    }
    EXPECT_GE(failed_over, 1) << "no run tried the stopped instance first";
    EXPECT_EQ(live.count(), live_before + 4);
    EXPECT_EQ(dead.count(), dead_before);
}

TEST_F(WorkflowIntegrationTest, KeptAliveConnectionClosedByTheServerIsNotAFailure) {
    // Many servers close idle connections sooner than the runner's pool forgets them.
    write_dag("eco.yaml", kEcoDag);
    http::ServerOptions impatient;
    impatient.idle_timeout = 500ms;
    auto& eco = add_service("eco", "eco-a", answer(200, "{}"), impatient);
    ASSERT_NO_FATAL_FAILURE(start_node());

    ASSERT_EQ(run_dag("eco", "r1").run.state, RunState::kSuccess);
    ASSERT_EQ(eco.open_connections(), 1) << "the runner did not keep the connection alive";
    auto deadline = Steady::now() + 10s;
    while (eco.open_connections() != 0 && Steady::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(eco.open_connections(), 0) << "the server did not close the idle connection";

    auto done = run_dag("eco", "r2");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kSuccess);
    auto t = tries("eco", "r2", "chamar");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].served_by, "eco-a");
    EXPECT_EQ(eco.count(), 2);
}

TEST_F(WorkflowIntegrationTest, ServerErrorMovesToTheNextInstanceWithinOneTry) {
    write_dag("eco.yaml", kEcoDag);
    auto& broken = add_service("eco", "eco-a", answer(503, R"({"erro":"indisponivel"})"));
    auto& live = add_service("eco", "eco-b", answer(200, "{}"));
    ASSERT_NO_FATAL_FAILURE(start_node());

    for (int i = 0; i < 4; ++i) {
        std::string run_id = "r" + std::to_string(i);
        auto done = run_dag("eco", run_id);
        ASSERT_TRUE(done.finished);
        EXPECT_EQ(done.run.state, RunState::kSuccess);
        auto ti = task("eco", run_id, "chamar");
        EXPECT_EQ(ti.try_number, 1);
        EXPECT_EQ(ti.served_by, "eco-b");
    }
    EXPECT_EQ(live.count(), 4);
    EXPECT_GE(broken.count(), 1) << "no run asked the 503 instance first";
}

TEST_F(WorkflowIntegrationTest, ClientErrorFailsTheTryWithoutAskingAnotherInstance) {
    write_dag("eco.yaml", kEcoDag);
    auto& a = add_service("eco", "eco-a", answer(400, R"({"erro":"pedido invalido"})"));
    auto& b = add_service("eco", "eco-b", answer(400, R"({"erro":"pedido invalido"})"));
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("eco", "r1");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kFailed);
    EXPECT_EQ(a.count() + b.count(), 1);
    auto t = tries("eco", "r1", "chamar");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_NE(t[0].error.find("HTTP 400"), std::string::npos) << t[0].error;
}

TEST_F(WorkflowIntegrationTest, EveryRequestNamesItsDagRunTaskAndTry) {
    write_dag("cabecalhos.yaml", R"(
dag_id: cabecalhos
tasks:
  chamar:
    http: {service: eco, path: /eco, headers: {X-Pedido: "{{ run_id }}"}}
)");
    auto& eco = add_service("eco", "eco-a", answer(200, "{}"));
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("cabecalhos", "run-com-cabecalhos");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kSuccess);
    ASSERT_EQ(eco.count(), 1);
    auto seen = eco.seen().front();
    EXPECT_EQ(seen.header("X-Orquestra-Dag-Id"), "cabecalhos");
    EXPECT_EQ(seen.header("X-Orquestra-Run-Id"), "run-com-cabecalhos");
    EXPECT_EQ(seen.header("X-Orquestra-Task-Id"), "chamar");
    EXPECT_EQ(seen.header("X-Orquestra-Try-Number"), "1");
    EXPECT_EQ(seen.header("X-Pedido"), "run-com-cabecalhos");
}

TEST_F(WorkflowIntegrationTest, UnregisteredServiceFailsTheTryNamingIt) {
    write_dag("fantasma.yaml", R"(
dag_id: fantasma
tasks:
  chamar: {http: {service: servico_fantasma, path: /}}
)");
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("fantasma", "r1");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kFailed);
    auto t = tries("fantasma", "r1", "chamar");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_NE(t[0].error.find("servico_fantasma"), std::string::npos) << t[0].error;
    EXPECT_NE(t[0].error.find("no UP instance"), std::string::npos) << t[0].error;
}

TEST_F(WorkflowIntegrationTest, FailingServiceSucceedsOnTheThirdTry) {
    write_dag("instavel.yaml", R"(
dag_id: instavel
tasks:
  chamar:
    retries: 2
    retry_delay: 0s
    http: {service: instavel, path: /}
)");
    auto& flaky = add_service("instavel", "instavel-1",
                              [](const http::Request&, http::Response& res, int n) {
                                  if (n <= 2) {
                                      res.set(500, "application/json", R"({"erro":"ainda nao"})");
                                  } else {
                                      res.set(200, "application/json", R"({"ok":true})");
                                  }
                              });
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("instavel", "r1");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kSuccess);
    auto ti = task("instavel", "r1", "chamar");
    EXPECT_EQ(ti.state, TaskState::kSuccess);
    EXPECT_EQ(ti.try_number, 3);
    auto t = tries("instavel", "r1", "chamar");
    ASSERT_EQ(t.size(), 3u);
    EXPECT_EQ(t[0].state, TaskState::kFailed);
    EXPECT_NE(t[0].error.find("HTTP 500"), std::string::npos) << t[0].error;
    EXPECT_EQ(t[1].state, TaskState::kFailed);
    EXPECT_EQ(t[2].state, TaskState::kSuccess);
    ASSERT_EQ(flaky.count(), 3);
    auto seen = flaky.seen();
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(seen[static_cast<std::size_t>(i)].header("X-Orquestra-Try-Number"),
                  std::to_string(i + 1));
    }
}

// --- commands --------------------------------------------------------------------------------

TEST_F(WorkflowIntegrationTest, CommandSeesItsEnvironmentAndReportsItsLastJsonLine) {
    // The first try fails on purpose, so the try number must really reach the process.
    write_dag("comando.yaml", R"(
dag_id: comando
params:
  nome: {type: string, default: mundo}
tasks:
  saudar:
    retries: 1
    retry_delay: 0s
    command:
      script: |
        echo "tentativa $ORQUESTRA_TRY_NUMBER"
        test "$ORQUESTRA_TRY_NUMBER" = 2 || exit 3
        printf '{"saudacao":"%s","tentativa":%s}\n' "$SAUDACAO" "$ORQUESTRA_TRY_NUMBER"
      env: {SAUDACAO: "olá {{ params.nome }}"}
)");
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("comando", "r1", R"({"nome":"Ana"})");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kSuccess);
    auto t = tries("comando", "r1", "saudar");
    ASSERT_EQ(t.size(), 2u);
    EXPECT_NE(t[0].error.find("exited with code 3"), std::string::npos) << t[0].error;
    auto ti = task("comando", "r1", "saudar");
    ASSERT_TRUE(ti.output_json);
    EXPECT_EQ(json::parse(*ti.output_json), json::parse(R"({"saudacao":"olá Ana","tentativa":2})"));
    EXPECT_NE(read_log("comando", "r1", "saudar", 2).find("stdout: tentativa 2"),
              std::string::npos);
}

TEST_F(WorkflowIntegrationTest, CommandPastItsExecutionTimeoutIsKilled) {
    write_dag("lento.yaml", R"(
dag_id: lento
tasks:
  dormir:
    execution_timeout: 300ms
    command: [sleep, "30"]
)");
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("lento", "r1");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kFailed);
    EXPECT_LT(done.elapsed, 5s);
    auto t = tries("lento", "r1", "dormir");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_NE(t[0].error.find("timed out"), std::string::npos) << t[0].error;
}

// --- wait_for_service ------------------------------------------------------------------------

TEST_F(WorkflowIntegrationTest, WaitForServiceWakesWhenTheServiceRegisters) {
    // A poll every 10 s would miss the bound below: the registry must wake the sensor.
    write_dag("espera.yaml", R"(
dag_id: espera
tasks:
  esperar:
    wait_for_service: {service: tardio, timeout: 20s, poke_interval: 10s}
)");
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto pending = trigger("espera", "r1");
    ASSERT_TRUE(wait_for_state("espera", "r1", "esperar", TaskState::kRunning));
    // The try is dispatched in the same loop turn that made it durable; the sensor then posts
    // its waiter onto the loop. Two round trips through the loop put both behind us.
    node_->call([] {});
    node_->call([] {});
    EXPECT_EQ(pending.done.wait_for(0s), std::future_status::timeout);

    // Registered over the Eureka REST API, as a real service would.
    auto& late = start_service(answer(200, "{}"));
    std::string body = R"({"instance":{"instanceId":"tardio-1","hostName":"127.0.0.1",)"
                       R"("app":"TARDIO","ipAddr":"127.0.0.1","status":"UP",)"
                       R"("port":{"$":)" +
                       std::to_string(late.port()) +
                       R"(,"@enabled":true},"dataCenterInfo":{"@class":)"
                       R"("com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo",)"
                       R"("name":"MyOwn"}}})";
    auto registered_at = Steady::now();
    auto reply = testing::request(registry_port_, "POST", "/eureka/apps/TARDIO", body,
                                  {{"Content-Type", "application/json"}});
    ASSERT_EQ(reply.status, 204) << reply.body;

    auto done = wait(pending);
    ASSERT_TRUE(done.finished);
    auto woken_after = Steady::now() - registered_at;
    EXPECT_EQ(done.run.state, RunState::kSuccess);
    EXPECT_LT(woken_after, 2s);
    auto ti = task("espera", "r1", "esperar");
    EXPECT_EQ(ti.state, TaskState::kSuccess);
    ASSERT_TRUE(ti.start_date && ti.end_date);
    EXPECT_LT(*ti.end_date - *ti.start_date, 5000);
    ASSERT_TRUE(ti.output_json);
    EXPECT_EQ(json::parse(*ti.output_json).as_object().at("up_instances").as_int64(), 1);
}

TEST_F(WorkflowIntegrationTest, WaitForServiceTimesOut) {
    write_dag("espera.yaml", R"(
dag_id: espera_curta
tasks:
  esperar:
    wait_for_service: {service: nunca, timeout: 300ms}
)");
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("espera_curta", "r1");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kFailed);
    EXPECT_LT(done.elapsed, 5s);
    auto t = tries("espera_curta", "r1", "esperar");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_NE(t[0].error.find("timed out"), std::string::npos) << t[0].error;
}

// --- latency ---------------------------------------------------------------------------------

TEST_F(WorkflowIntegrationTest, ChainOfTwoHttpTasksFinishesQuickly) {
    write_dag("cadeia.yaml", R"(
dag_id: cadeia
tasks:
  primeiro: {http: {service: rapido, path: /um}}
  segundo: {upstream: primeiro, http: {service: rapido, path: /dois}}
)");
    auto& fast = add_service("rapido", "rapido-1", answer(200, R"({"ok":true})"));
    ASSERT_NO_FATAL_FAILURE(start_node());

    ASSERT_TRUE(run_dag("cadeia", "aquecimento").finished);  // first connections, first pages
    constexpr int kRuns = 50;
    std::vector<double> ms;
    for (int i = 0; i < kRuns; ++i) {
        auto done = run_dag("cadeia", "r" + std::to_string(i));
        ASSERT_TRUE(done.finished);
        ASSERT_EQ(done.run.state, RunState::kSuccess);
        ms.push_back(std::chrono::duration<double, std::milli>(done.elapsed).count());
    }
    EXPECT_EQ(fast.count(), 2 * (kRuns + 1));
    std::sort(ms.begin(), ms.end());
    double p50 = ms[ms.size() / 2];
    double p99 = ms[(ms.size() * 99 + 99) / 100 - 1];
    std::printf("trigger-to-finish of a 2-HTTP-task chain over %d runs: p50 %.2f ms, p99 %.2f ms, "
                "max %.2f ms\n",
                kRuns, p50, p99, ms.back());
    EXPECT_LT(p50, 50.0);
}

// --- what a run's conf cannot do ----------------------------------------------------------------

// A conf value in a templated path used to smuggle a second request onto the service's
// connection; now it is one percent-encoded path segment, and the log cannot be forged.
TEST_F(WorkflowIntegrationTest, AConfValueInAPathReachesTheServiceAsOneEncodedSegment) {
    write_dag("caminho.yaml", R"(
dag_id: caminho
tasks:
  obter:
    http: {service: servico_usuarios, path: "/usuarios/{{ dag_run.conf.id }}", query: {q: "{{ dag_run.conf.id }}"}}
  cabecalho:
    upstream: [obter]
    http: {service: servico_usuarios, path: /x, headers: {X-Id: "{{ dag_run.conf.id }}"}}
)");
    auto& service = add_service("servico_usuarios", "u1", answer(200, R"({"ok":true})"));
    ASSERT_NO_FATAL_FAILURE(start_node());

    auto done = run_dag("caminho", "r1", R"({"id": "1 HTTP/1.1\r\nHost: x\r\n\r\nGET /admin"})");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(task("caminho", "r1", "obter").state, TaskState::kSuccess);
    const std::string encoded = "1%20HTTP%2F1.1%0D%0AHost%3A%20x%0D%0A%0D%0AGET%20%2Fadmin";
    auto seen = service.seen();
    ASSERT_EQ(seen.size(), 1u);  // one request, no smuggled second one, no header call
    EXPECT_EQ(seen[0].target, "/usuarios/" + encoded + "?q=" + encoded);
    // The header cannot carry it either: that try fails before anything is sent.
    EXPECT_EQ(task("caminho", "r1", "cabecalho").state, TaskState::kFailed);
    auto t = tries("caminho", "r1", "cabecalho");
    ASSERT_EQ(t.size(), 1u);
    EXPECT_NE(t[0].error.find("header X-Id: the value holds the control character \\x0d"),
              std::string::npos)
        << t[0].error;
    // Every line of both logs starts with its time stamp: none was forged, and no raw CR made
    // it into a file.
    for (const char* task_id : {"obter", "cabecalho"}) {
        std::string log = read_log("caminho", "r1", task_id, 1);
        if (std::string_view(task_id) == "obter") {
            EXPECT_NE(log.find("/usuarios/" + encoded), std::string::npos) << log;
        }
        EXPECT_EQ(log.find('\r'), std::string::npos) << log;
        std::istringstream lines(log);
        for (std::string line; std::getline(lines, line);) {
            EXPECT_EQ(line.rfind("[", 0), 0u) << line;
        }
    }
}

TEST_F(WorkflowIntegrationTest, CommandLogsNameEnvironmentVariablesWithoutValues) {
    write_dag("segredo.yaml", R"(
dag_id: segredo
tasks:
  usar:
    command:
      script: 'test "${#SENHA}" = 7'
      env: {SENHA: "{{ dag_run.conf.senha }}"}
)");
    ASSERT_NO_FATAL_FAILURE(start_node());
    auto done = run_dag("segredo", "r1", R"({"senha": "hunter2"})");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kSuccess);
    std::string log = read_log("segredo", "r1", "usar", 1);
    EXPECT_NE(log.find("env: SENHA ORQUESTRA_DAG_ID ORQUESTRA_RUN_ID"), std::string::npos) << log;
    EXPECT_EQ(log.find("hunter2"), std::string::npos) << log;
}

TEST_F(WorkflowIntegrationTest, ACommandsOutputReachesItsLogWhileItRuns) {
    write_dag("aos_poucos.yaml", R"(
dag_id: aos_poucos
tasks:
  falar:
    command:
      script: |
        echo primeira
        while [ ! -e "$PORTAO" ]; do sleep 0.02; done
        echo segunda
      env: {PORTAO: "{{ dag_run.conf.portao }}"}
)");
    ASSERT_NO_FATAL_FAILURE(start_node());
    const fs::path gate = fs::temp_directory_path() /
                          ("orquestra-gate-" + std::to_string(::getpid()) + "-" +
                           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    auto pending = trigger("aos_poucos", "r1", R"({"portao":")" + gate.string() + "\"}");
    // The first line is in the log while the command waits for the gate: nothing races here,
    // the command cannot go on until the test opens it.
    std::string log;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (log.find("stdout: primeira") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        log = read_log("aos_poucos", "r1", "falar", 1);
    }
    ASSERT_NE(log.find("stdout: primeira"), std::string::npos) << log;
    EXPECT_EQ(log.find("stdout: segunda"), std::string::npos) << log;
    EXPECT_EQ(task("aos_poucos", "r1", "falar").state, TaskState::kRunning);
    std::ofstream(gate) << "open";
    auto done = wait(pending);
    fs::remove(gate);
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kSuccess);
    log = read_log("aos_poucos", "r1", "falar", 1);
    const auto first = log.find("stdout: primeira");
    const auto second = log.find("stdout: segunda");
    const auto exit_line = log.find("exit code 0");
    ASSERT_NE(second, std::string::npos) << log;
    EXPECT_LT(first, second);
    EXPECT_LT(second, exit_line);
    EXPECT_EQ(log.find("stdout: primeira", first + 1), std::string::npos) << "written twice: " << log;
    EXPECT_EQ(log.find("command: /bin/sh -c"), log.rfind("command: /bin/sh -c"));
}

// Variables and connections end to end with the real runners: a command reads a variable (a
// secret one too) and a connection's host through env, an http task calls the connection's base
// URL with its credentials; the log shows the secret masked and the outputs carry the values.
TEST_F(WorkflowIntegrationTest, VariablesAndConnectionsReachCommandsAndHttpTasks) {
    TestService& api = start_service(answer(200, R"({"ok":true})"));
    write_dag("vars.yaml", R"(
dag_id: vars_and_conns
tasks:
  read:
    command:
      script: 'echo "token=$API_TOKEN"; echo "{\"region\": \"$REGION\", \"host\": \"$HOST\"}"'
      env:
        REGION: "{{ var.value.region }}"
        API_TOKEN: "{{ var.value.api_token }}"
        HOST: "{{ conn.backend.host }}"
  call:
    upstream: [read]
    http:
      connection: backend
      method: POST
      path: "/v1/{{ tasks.read.output.region }}"
      json: {host: "{{ tasks.read.output.host }}"}
)");
    start_node();
    store::Secrets secrets(node_->store(), node_->secret_keys());
    ASSERT_TRUE(secrets.put_variable("region", "eu-west", std::nullopt, store::PutMode::kUpsert));
    ASSERT_TRUE(secrets.put_variable("api_token", "tok-INTEGRATION-77", std::nullopt,
                                     store::PutMode::kUpsert));
    auto conn = store::parse_connection_uri(
        "backend", fmt::format("http://svc:pw-INTEGRATION-5@127.0.0.1:{}/base", api.port()));
    ASSERT_TRUE(conn) << conn.error().message;
    ASSERT_TRUE(secrets.put_connection(*conn, store::PutMode::kCreate));

    auto done = run_dag("vars_and_conns", "r1");
    ASSERT_TRUE(done.finished);
    EXPECT_EQ(done.run.state, RunState::kSuccess);
    EXPECT_EQ(json::parse(*task("vars_and_conns", "r1", "read").output_json),
              json::parse(R"({"region":"eu-west","host":"127.0.0.1"})"));
    const std::string log = read_log("vars_and_conns", "r1", "read", 1);
    EXPECT_NE(log.find("stdout: token=***"), std::string::npos) << log;
    EXPECT_EQ(log.find("tok-INTEGRATION-77"), std::string::npos) << log;
    auto seen = api.seen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].target, "/base/v1/eu-west");
    EXPECT_EQ(seen[0].header("Authorization"), "Basic " + base64_encode("svc:pw-INTEGRATION-5"));
    EXPECT_EQ(json::parse(seen[0].body), json::parse(R"({"host":"127.0.0.1"})"));
    auto tries = node_->store().tries("vars_and_conns", "r1", "call");
    ASSERT_TRUE(tries && !tries->empty());
    EXPECT_EQ(tries->back().rendered_json.find("pw-INTEGRATION-5"), std::string::npos);
}

}  // namespace
}  // namespace orquestra::app
