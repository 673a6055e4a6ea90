// The C++ library's public API: DAGs in code (validated by the DAG file loader), an
// Orchestrator running them in memory, and a ServiceRegistration in a real registry on
// loopback that an http task then finds by name.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "app/registry_node.hpp"
#include "dag/loader.hpp"
#include "http/server.hpp"
#include "orquestra/orquestra.hpp"
#include "test_http.hpp"
#include "wait.hpp"

namespace {

using namespace std::chrono_literals;
using orquestra::Dag;
using orquestra::DagError;

// What the loader makes of the Dag's document: the model the engine runs.
orquestra::dag::Dag model(const Dag& dag) {
    auto loaded = orquestra::dag::parse_dag(dag.to_yaml(), "<test>");
    EXPECT_TRUE(loaded) << (loaded ? "" : loaded.error().message);
    return loaded ? std::move(*loaded) : orquestra::dag::Dag{};
}

std::string error_of(const Dag& dag) {
    try {
        dag.validate();
    } catch (const DagError& e) {
        return e.what();
    }
    return {};
}

TEST(LibraryDagTest, ShiftBuildsUpstreamAndKeepsFields) {
    Dag dag("usuarios_mensagens", {.description = "d", .tags = {"seed"}});
    dag.param("usuario_id", "1", R"({"type": "integer", "minimum": 1})");
    auto a = dag.http("obter_usuario", {.service = "servico_usuarios",
                                        .path = "/usuarios/{{ params.usuario_id }}",
                                        .timeout = 1500ms});
    auto b = dag.http("enviar_mensagem",
                      {.service = "servico_mensagens",
                       .method = "POST",
                       .path = "/enviar",
                       .json = R"({"id": "{{ params.usuario_id }}", "n": 2})"},
                      {.when = "'admin' in tasks.obter_usuario.output.grupos", .retries = 2});
    auto c = dag.command("fim", {.argv = {"echo", "{{ ds }}"}});
    EXPECT_EQ((a >> b).id(), "enviar_mensagem");
    b >> c;
    a >> b;  // once is enough
    EXPECT_EQ(dag.validation_error(), "");

    const auto m = model(dag);
    ASSERT_EQ(m.tasks.size(), 3u);
    EXPECT_EQ(m.tasks[0].task_id, "obter_usuario");
    EXPECT_EQ(m.find_task("enviar_mensagem")->upstream, std::vector<std::string>{"obter_usuario"});
    EXPECT_EQ(m.find_task("fim")->upstream, std::vector<std::string>{"enviar_mensagem"});
    EXPECT_EQ(m.find_task("obter_usuario")->downstream,
              std::vector<std::string>{"enviar_mensagem"});
    const auto& http = std::get<orquestra::dag::HttpSpec>(m.find_task("obter_usuario")->kind);
    EXPECT_EQ(http.service, "servico_usuarios");
    EXPECT_EQ(http.timeout, 1500);
    EXPECT_EQ(m.find_task("enviar_mensagem")->retries, 2);
    EXPECT_TRUE(m.find_task("enviar_mensagem")->condition.has_value());
    ASSERT_EQ(m.params.size(), 1u);
    EXPECT_EQ(m.params[0].name, "usuario_id");
    EXPECT_EQ(m.tags, std::vector<std::string>{"seed"});
}

TEST(LibraryDagTest, DagOptionsReachTheModel) {
    Dag dag("agendada", {.schedule = "@daily",
                         .start_date = "2024-01-01",
                         .catchup = true,
                         .max_active_runs = 2,
                         .default_args = {.owner = "equipe", .retries = 3, .retry_delay = 90s}});
    dag.command("a", {.argv = {"true"}});
    dag.command("b", {.argv = {"true"}}, {.retries = 0, .owner = "outra"});
    const auto m = model(dag);
    EXPECT_EQ(m.schedule.text(), "@daily");
    EXPECT_TRUE(m.catchup);
    EXPECT_EQ(m.max_active_runs, 2);
    EXPECT_EQ(m.find_task("a")->retries, 3);
    EXPECT_EQ(m.find_task("a")->retry_delay, 90'000);
    EXPECT_EQ(m.find_task("a")->owner, "equipe");
    EXPECT_EQ(m.find_task("b")->retries, 0);
    EXPECT_EQ(m.find_task("b")->owner, "outra");

    Dag unanchored("sem_inicio", {.schedule = "@daily"});
    unanchored.command("a", {.argv = {"true"}});
    EXPECT_NE(error_of(unanchored).find("needs a start_date"), std::string::npos)
        << error_of(unanchored);
    EXPECT_THROW(Dag("x", {.extra_json = R"({"tasks": {}})"}), DagError);
    Dag extra("extra", {.extra_json = R"({"is_paused_upon_creation": false})"});
    extra.command("a", {.argv = {"true"}});
    EXPECT_FALSE(model(extra).is_paused_upon_creation);
}

TEST(LibraryDagTest, FanOutWithAVectorAndShiftLeft) {
    Dag dag("fan");
    auto a = dag.command("a", {.argv = {"true"}});
    auto b = dag.command("b", {.argv = {"true"}});
    auto c = dag.command("c", {.argv = {"true"}});
    auto d = dag.command("d", {.argv = {"true"}});
    a >> std::vector{b, c};
    d << c;
    const auto m = model(dag);
    EXPECT_EQ(m.find_task("a")->downstream, (std::vector<std::string>{"b", "c"}));
    EXPECT_EQ(m.find_task("d")->upstream, std::vector<std::string>{"c"});
}

TEST(LibraryDagTest, ACycleIsRefusedNamingIt) {
    Dag dag("ciclo");
    auto a = dag.command("a", {.argv = {"true"}});
    auto b = dag.command("b", {.argv = {"true"}});
    auto c = dag.command("c", {.argv = {"true"}});
    a >> b >> c >> a;
    EXPECT_EQ(error_of(dag), "DAG 'ciclo': cycle between tasks: a -> b -> c -> a");
    EXPECT_THROW(dag.validate(), DagError);
}

TEST(LibraryDagTest, AnUnknownKindOrFieldGetsTheLoadersHint) {
    Dag kind("k");
    kind.task("t", "htpp", R"({"service": "s"})");
    EXPECT_NE(error_of(kind).find("unknown key 'htpp'"), std::string::npos) << error_of(kind);
    EXPECT_NE(error_of(kind).find("did you mean 'http'?"), std::string::npos) << error_of(kind);

    Dag field("f");
    field.task("t", "http", R"({"servce": "s"})");
    EXPECT_NE(error_of(field).find("did you mean 'service'?"), std::string::npos)
        << error_of(field);

    Dag method("m");
    method.http("t", {.service = "s", .method = "FETCH"});
    EXPECT_NE(error_of(method).find("FETCH"), std::string::npos) << error_of(method);
}

TEST(LibraryDagTest, TemplateAndCommandRulesAreTheLoaders) {
    Dag syntax("s");
    syntax.http("t", {.service = "s", .path = "/u/{{ params.x "});
    EXPECT_NE(error_of(syntax).find("task 't'"), std::string::npos) << error_of(syntax);

    Dag argv("a");
    argv.command("t", {.argv = {"echo", "{{ params.x }}"}});
    EXPECT_NE(error_of(argv).find("env"), std::string::npos) << error_of(argv);

    Dag kinds("two");
    kinds.http("t", {.service = "s", .url = "http://x"});
    EXPECT_NE(error_of(kinds), "");
}

TEST(LibraryDagTest, MistakesACallCanSeeThrowAtOnce) {
    Dag dag("d");
    auto a = dag.command("a", {.argv = {"true"}});
    EXPECT_THROW(dag.command("a", {.argv = {"true"}}), DagError);
    EXPECT_THROW(dag.http("j", {.service = "s", .json = "{nope"}), DagError);
    EXPECT_THROW(dag.param("p", "[1,"), DagError);
    EXPECT_THROW(dag["missing"], DagError);
    Dag other("o");
    auto x = other.command("x", {.argv = {"true"}});
    EXPECT_THROW(a >> x, DagError);
    EXPECT_EQ(dag["a"].id(), "a");
    // A task handle stays valid when its Dag moves.
    Dag moved = std::move(dag);
    auto b = moved.command("b", {.argv = {"true"}});
    a >> b;
    EXPECT_EQ(model(moved).find_task("b")->upstream, std::vector<std::string>{"a"});
}

TEST(LibraryOrchestratorTest, RunsCommandTasksInMemory) {
    std::string home;
    {
        orquestra::Orchestrator o;
        home = o.home();
        Dag dag("local", {.default_args = {.retries = 0}});
        dag.param("nome", "\"mundo\"");
        auto hello = dag.command("ola", {.script = R"(printf '{"saudacao": "ola %s"}\n' "$NOME")",
                                         .env = {{"NOME", "{{ params.nome }}"}}});
        auto skipped = dag.command("pulada", {.argv = {"true"}}, {.when = "params.nome == 'x'"});
        auto broken = dag.command("quebrada", {.script = "echo falhou >&2; exit 3"});
        hello >> skipped;
        hello >> broken;
        o.add(dag);
        auto run = o.trigger("local", R"({"nome": "Ana"})", "primeira");
        EXPECT_EQ(run.run_id(), "primeira");
        EXPECT_EQ(run.wait(30s), orquestra::RunState::kFailed);
        EXPECT_EQ(run.task_output("ola"), std::optional<std::string>(R"({"saudacao": "ola Ana"})"));
        EXPECT_EQ(run.task("pulada").state, "skipped");
        auto failed = run.task("quebrada");
        EXPECT_EQ(failed.state, "failed");
        EXPECT_NE(failed.error.find("3"), std::string::npos) << failed.error;
        EXPECT_EQ(o.run("local", "primeira").state(), orquestra::RunState::kFailed);
        // A bad conf and an unknown DAG are refused with the engine's reason.
        EXPECT_THROW(o.trigger("local", "[1]"), orquestra::RunError);
        EXPECT_THROW(o.trigger("nada"), orquestra::RunError);
        EXPECT_THROW(o.run("local", "nenhuma"), orquestra::RunError);
        Dag bad("ruim");
        bad.command("a", {.argv = {"true"}}) >> bad.command("b", {.argv = {"true"}});
        bad["b"] >> bad["a"];
        EXPECT_THROW(o.add(bad), DagError);
        EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(home) / "dags" / "local.yaml"));
    }
    EXPECT_FALSE(std::filesystem::exists(home)) << "the temporary home stays behind";
}

TEST(LibraryOrchestratorTest, ADurableStoreKeepsRunsForTheNextOrchestrator) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("orquestra-lib-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directory(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
    const std::string db = (dir / "runs.db").string();
    {
        orquestra::Orchestrator o({.db = db, .home = dir.string()});
        Dag dag("duravel");
        dag.command("a", {.script = "echo '[1, 2]'"});
        o.add(dag);
        EXPECT_EQ(o.trigger("duravel", "{}", "r1").wait(30s), orquestra::RunState::kSuccess);
    }
    {
        orquestra::Orchestrator o({.db = db, .home = dir.string()});
        auto run = o.run("duravel", "r1");
        EXPECT_EQ(run.wait(1s), orquestra::RunState::kSuccess);
        EXPECT_EQ(run.task_output("a"), std::optional<std::string>("[1, 2]"));
    }
    std::filesystem::remove_all(dir);
}

// A registry on loopback, a service registered through the library, and a DAG in code whose
// http task finds it by name.
TEST(LibraryRegistrationTest, ARegisteredServiceIsCalledByNameAndCancelledOnStop) {
    using namespace orquestra;
    orquestra::testing::IoThreads registry_io(1);
    app::RegistryNode registry(registry_io.io(), SystemClock::instance(), {});
    auto registry_port = registry.start();
    ASSERT_TRUE(registry_port);
    const std::string registry_url =
        "http://127.0.0.1:" + std::to_string(*registry_port) + "/eureka";

    orquestra::testing::IoThreads service_io(1);
    http::HttpServer service(service_io.io(), {}, [](http::Request& req, http::Response& res) {
        res.set(200, "application/json",
                "{\"caminho\": \"" + std::string(req.target()) + "\", \"grupos\": [\"admin\"]}");
    });
    auto service_port = service.start();
    ASSERT_TRUE(service_port);

    ServiceRegistration reg({.registry_url = registry_url,
                             .app_name = "servico_teste",
                             .port = *service_port,
                             .metadata = {{"versao", "1"}}});
    reg.start();
    ASSERT_TRUE(reg.wait_registered(5s));
    auto stored = registry.registry().instance("SERVICO_TESTE", reg.instance_id());
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->port.port, *service_port);
    EXPECT_EQ(*stored->find_metadata("versao"), "1");

    {
        Orchestrator o({.registry_url = registry_url});
        Dag dag("chamada");
        dag.param("id", "7");
        dag.http("buscar", {.service = "servico_teste", .path = "/itens/{{ params.id }}"});
        o.add(dag);
        auto run = o.trigger("chamada", R"({"id": 42})");
        ASSERT_EQ(run.wait(30s), RunState::kSuccess) << run.task("buscar").error;
        EXPECT_EQ(run.task_output("buscar"),
                  std::optional<std::string>(R"({"caminho": "/itens/42", "grupos": ["admin"]})"));
    }

    reg.stop();
    EXPECT_FALSE(registry.registry().instance("SERVICO_TESTE", reg.instance_id()));
    service.stop();
    registry.stop();
    EXPECT_THROW(ServiceRegistration({.registry_url = registry_url, .app_name = "x"}),
                 std::invalid_argument);
    EXPECT_THROW(ServiceRegistration({.registry_url = registry_url,
                                      .app_name = "x",
                                      .port = 1,
                                      .health_path = "health"}),
                 std::invalid_argument);
}

TEST(LibraryTest, VersionIsTheProjects) { EXPECT_STREQ(orquestra::version(), "0.1.0"); }

}  // namespace
