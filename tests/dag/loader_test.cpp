#include "dag/loader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dag/json_text.hpp"
#include "dag/time_text.hpp"

namespace orquestra::dag {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kDataDir = ORQUESTRA_DAG_TEST_DATA;

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(dir)) {
        auto ext = entry.path().extension();
        if (ext == ".yaml" || ext == ".yml") out.push_back(entry.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string test_name(const testing::TestParamInfo<fs::path>& info) {
    std::string name = info.param.stem().string();
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name;
}

// ---- Data-driven: every good file loads, every bad file fails as its header says ----------

class GoodDagFileTest : public testing::TestWithParam<fs::path> {};

TEST_P(GoodDagFileTest, Loads) {
    Result<Dag> dag = load_dag_file(GetParam());
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    EXPECT_FALSE(dag->dag_id.empty());
    EXPECT_EQ(dag->fileloc, GetParam().string());
    // Topological order: every upstream comes earlier.
    for (std::size_t i = 0; i < dag->tasks.size(); ++i) {
        for (const auto& up : dag->tasks[i].upstream) {
            auto it = std::find_if(dag->tasks.begin(), dag->tasks.end(),
                                   [&](const Task& t) { return t.task_id == up; });
            ASSERT_NE(it, dag->tasks.end());
            EXPECT_LT(static_cast<std::size_t>(it - dag->tasks.begin()), i);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Data, GoodDagFileTest, testing::ValuesIn(files_in(kDataDir / "good")),
                         test_name);

class BadDagFileTest : public testing::TestWithParam<fs::path> {};

TEST_P(BadDagFileTest, FailsWithExpectedError) {
    std::string text = read_text(GetParam());
    std::istringstream lines(text);
    std::string first, second;
    std::getline(lines, first);
    std::getline(lines, second);
    const std::string kExpect = "# expect: ";
    const std::string kExpectLine = "# expect-line: ";
    ASSERT_EQ(first.rfind(kExpect, 0), 0u) << "a bad file starts with '# expect: <substring>'";
    std::string expected = first.substr(kExpect.size());

    Result<Dag> dag = load_dag_file(GetParam());
    ASSERT_FALSE(dag.has_value()) << "loaded " << dag->dag_id;
    EXPECT_EQ(dag.error().code, ErrorCode::kInvalidArgument);
    const std::string& message = dag.error().message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(message.rfind(GetParam().string() + ":", 0), 0u) << message;
    if (second.rfind(kExpectLine, 0) == 0) {
        std::string line = second.substr(kExpectLine.size());
        EXPECT_EQ(message.rfind(GetParam().string() + ":" + line + ": ", 0), 0u) << message;
        LoadResult detailed = load_dag_file_detailed(GetParam());
        ASSERT_FALSE(detailed.has_value());
        EXPECT_EQ(detailed.error().line, std::stoi(line));
        EXPECT_NE(detailed.error().reason.find(expected), std::string::npos);
    }
}

INSTANTIATE_TEST_SUITE_P(Data, BadDagFileTest, testing::ValuesIn(files_in(kDataDir / "bad")),
                         test_name);

// ---- The seed DAG, field by field ----------------------------------------------------------

class SeedDagTest : public testing::Test {
  protected:
    void SetUp() override {
        Result<Dag> loaded = load_dag_file(kDataDir / "good" / "seed.yaml");
        ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
        dag_ = std::move(*loaded);
    }
    Dag dag_;
};

TEST_F(SeedDagTest, TopLevelFields) {
    EXPECT_EQ(dag_.dag_id, "servico_usuarios_mensagens");
    EXPECT_EQ(dag_.description, "Consulta usuário e envia mensagem");
    EXPECT_EQ(dag_.schedule.kind(), ScheduleKind::kInterval);
    EXPECT_EQ(dag_.schedule.interval(), 86'400'000);
    EXPECT_EQ(dag_.schedule.text(), "1d");
    ASSERT_TRUE(dag_.start_date.has_value());
    EXPECT_EQ(*dag_.start_date, 1'704'067'200'000);  // 2024-01-01T00:00:00Z
    EXPECT_EQ(dag_.schedule.anchor(), *dag_.start_date);
    EXPECT_FALSE(dag_.end_date.has_value());
    EXPECT_FALSE(dag_.catchup);
    EXPECT_TRUE(dag_.is_paused_upon_creation);
    EXPECT_EQ(dag_.max_active_runs, 16);
    EXPECT_EQ(dag_.default_args.owner, "airflow");
    EXPECT_EQ(dag_.default_args.retries, 0);
    EXPECT_EQ(dag_.default_args.retry_delay, 60'000);
    EXPECT_EQ(dag_.dag_id_line, 1);
}

TEST_F(SeedDagTest, Params) {
    ASSERT_EQ(dag_.params.size(), 1u);
    const Param& p = dag_.params[0];
    EXPECT_EQ(p.name, "usuario_id");
    ASSERT_TRUE(p.default_value.has_value());
    EXPECT_EQ(*p.default_value, json::value(1));
    EXPECT_FALSE(p.schema.contains("default"));
    EXPECT_EQ(json::value(p.schema), json::parse(R"({"type":"integer","minimum":1})"));

    auto resolved = resolve_params(dag_, json::object{});
    ASSERT_TRUE(resolved.has_value());
    EXPECT_EQ(resolved->at("usuario_id"), json::value(1));
    auto bad = resolve_params(dag_, json::object{{"usuario_id", 0}});
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().message, "param 'usuario_id': 0 is less than the minimum of 1");
}

TEST_F(SeedDagTest, TasksAndGraph) {
    ASSERT_EQ(dag_.tasks.size(), 2u);
    const Task& get = dag_.tasks[0];
    const Task& send = dag_.tasks[1];
    EXPECT_EQ(get.task_id, "obter_usuario");
    EXPECT_EQ(send.task_id, "enviar_mensagem");
    EXPECT_EQ(get.line, 10);
    EXPECT_EQ(send.line, 12);
    EXPECT_EQ(send.upstream, std::vector<std::string>{"obter_usuario"});
    EXPECT_EQ(get.downstream, std::vector<std::string>{"enviar_mensagem"});
    EXPECT_EQ(dag_.downstream_of("obter_usuario"), std::vector<std::string>{"enviar_mensagem"});
    EXPECT_TRUE(dag_.downstream_of("nope").empty());
    EXPECT_EQ(dag_.find_task("enviar_mensagem"), &send);
    EXPECT_EQ(dag_.find_task("nope"), nullptr);
    EXPECT_EQ(get.trigger_rule, TriggerRule::kAllSuccess);
    EXPECT_EQ(get.owner, "airflow");
    EXPECT_EQ(get.retries, 0);
    EXPECT_EQ(get.retry_delay, 60'000);
    EXPECT_EQ(get.kind_name(), "http");
    EXPECT_FALSE(get.condition.has_value());
}

TEST_F(SeedDagTest, HttpSpecsRenderWithTypes) {
    RenderInputs in;
    in.dag_id = dag_.dag_id;
    in.run_id = "manual__1";
    in.params = *resolve_params(dag_, json::object{{"usuario_id", 7}});
    in.task_outputs =
        json::object{{"obter_usuario", json::parse(R"({"id":7,"nome":"Ana","grupos":["admin"]})")}};
    json::object ctx = make_context(in);
    const auto& get = std::get<HttpSpec>(dag_.tasks[0].kind);
    EXPECT_EQ(get.service, "servico_usuarios");
    EXPECT_FALSE(get.url.has_value());
    EXPECT_EQ(get.method, "GET");
    EXPECT_EQ(get.timeout, 30'000);
    EXPECT_TRUE(get.expected_status.empty());
    EXPECT_EQ(*get.path.render_text(ctx), "/usuarios/7");

    const auto& send = std::get<HttpSpec>(dag_.tasks[1].kind);
    EXPECT_EQ(send.method, "POST");
    EXPECT_EQ(*send.path.render_text(ctx), "/enviar_mensagem");
    ASSERT_TRUE(send.json.has_value());
    EXPECT_EQ(*send.json->render(ctx),
              json::parse(R"({"usuario_id":7,"grupo":"admin","mensagem":"Mensagem automática"})"));
}

TEST_F(SeedDagTest, ConditionDecidesOnGroups) {
    const Template& when = *dag_.tasks[1].condition;
    auto ctx_with = [](const char* output) {
        RenderInputs in;
        in.params = json::object{{"usuario_id", 1}};
        in.task_outputs = json::object{{"obter_usuario", json::parse(output)}};
        return make_context(in);
    };
    EXPECT_EQ(*when.render(ctx_with(R"({"grupos":["dev","admin"]})")), json::value(true));
    EXPECT_EQ(*when.render(ctx_with(R"({"grupos":["dev"]})")), json::value(false));
    auto missing = when.render(ctx_with(R"({"grupoz":[]})"));
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().message, "undefined: tasks.obter_usuario.output.grupos");
}

// ---- Other good files ----------------------------------------------------------------------

TEST(LoaderTest, CommandAndSensorFields) {
    Result<Dag> dag = load_dag_file(kDataDir / "good" / "command_and_sensor.yaml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    EXPECT_EQ(dag->schedule.cron_expression(), "0 0 * * *");
    EXPECT_EQ(*dag->start_date, *parse_datetime("2024-03-01T06:00:00Z"));
    EXPECT_EQ(*dag->end_date, *parse_datetime("2024-12-31"));
    EXPECT_TRUE(dag->catchup);
    EXPECT_FALSE(dag->is_paused_upon_creation);
    EXPECT_EQ(dag->max_active_runs, 1);
    EXPECT_EQ(dag->max_active_tasks, 4);
    EXPECT_EQ(dag->tags, (std::vector<std::string>{"ops", "nightly"}));

    const Task* wait = dag->find_task("wait_registry");
    ASSERT_NE(wait, nullptr);
    const auto& w = std::get<WaitForServiceSpec>(wait->kind);
    EXPECT_EQ(w.service, "servico_usuarios");
    EXPECT_EQ(w.min_instances, 2);
    EXPECT_EQ(w.timeout, 600'000);
    EXPECT_EQ(w.poke_interval, 15'000);
    EXPECT_EQ(wait->doc, "Blocks until two instances are up");
    // default_args reach tasks that do not override them...
    EXPECT_EQ(wait->owner, "ops");
    EXPECT_EQ(wait->retries, 2);
    EXPECT_EQ(wait->retry_delay, 30'000);
    EXPECT_TRUE(wait->retry_exponential_backoff);
    EXPECT_EQ(wait->max_retry_delay, 600'000);
    EXPECT_EQ(wait->execution_timeout, 3'600'000);

    const Task* exp = dag->find_task("export");
    ASSERT_NE(exp, nullptr);
    EXPECT_EQ(exp->retries, 5);  // ...and a task's own value wins.
    EXPECT_EQ(exp->upstream, std::vector<std::string>{"wait_registry"});
    const auto& c = std::get<CommandSpec>(exp->kind);
    ASSERT_EQ(c.argv.size(), 4u);
    EXPECT_FALSE(c.script.has_value());
    EXPECT_EQ(c.timeout, 900'000);
    EXPECT_EQ(c.cwd, "/tmp");
    RenderInputs in;
    in.dag_id = "command_and_sensor";
    in.run_id = "r1";
    in.params = json::object{{"target", "staging"}};
    in.logical_date = *parse_datetime("2024-03-02");
    json::object ctx = make_context(in);
    EXPECT_EQ(*c.argv[2].render_text(ctx), "--dag=command_and_sensor");
    EXPECT_EQ(*c.argv[3].render_text(ctx), "--day=2024-03-02");
    EXPECT_EQ(*c.env.at("RUN_ID").render_text(ctx), "r1");
    EXPECT_EQ(*c.env.at("LIMIT").render_text(ctx), "100");

    const auto& report = std::get<CommandSpec>(dag->find_task("report")->kind);
    ASSERT_TRUE(report.script.has_value());
    EXPECT_NE(report.script->find("echo \"run $RUN_ID for $TARGET\""), std::string::npos);
    // Braces that are not a template of run values stay as written.
    EXPECT_NE(report.script->find("--format '{{.State.Status}}'"), std::string::npos);
    EXPECT_TRUE(report.argv.empty());
}

// Values a trigger cannot choose may go into argv; run values may not, whatever the program.
TEST(LoaderTest, ArgvTakesOnlyValuesARunCannotSet) {
    Result<Dag> dag = parse_dag(R"(
dag_id: argv_static
tasks:
  a:
    command: [/bin/echo, "{{ ds }}", "{{ ds_nodash }}-{{ ts }}", "{{ logical_date }}",
              "{{ data_interval_start }}/{{ data_interval_end }}", "{{ dag_run.dag_id }}",
              "{{ dag_run['logical_date'] | lower }}", "--flag"]
)",
                                "static.yaml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    for (std::string_view arg :
         {"{{ params.x }}", "{{ dag_run.conf }}", "{{ dag_run }}", "{{ run_id }}",
          "{{ dag_run.run_id }}", "{{ tasks.a.output }}", "{{ ds and params.x }}",
          "{{ [params.x] | tojson }}", "x{{ dag_run.conf.y | default(ds) }}"}) {
        std::string text = "dag_id: argv_run\ntasks:\n  a: {command: [/bin/sh, -c, \"echo " +
                           std::string(arg) + "\"]}\n";
        Result<Dag> refused = parse_dag(text, "run.yaml");
        ASSERT_FALSE(refused.has_value()) << arg;
        EXPECT_EQ(refused.error().message.rfind("run.yaml:3: task 'a' command.argv[2] uses '", 0),
                  0u)
            << refused.error().message;
        EXPECT_NE(refused.error().message.find("pass values through env"), std::string::npos);
    }
}

TEST(LoaderTest, EveryTriggerRule) {
    Result<Dag> dag = load_dag_file(kDataDir / "good" / "trigger_rules.yaml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    EXPECT_EQ(dag->schedule.kind(), ScheduleKind::kNone);
    std::vector<std::string> seen;
    for (const Task& t : dag->tasks) {
        if (t.task_id == "start") continue;
        EXPECT_EQ(t.task_id, std::string(to_string(t.trigger_rule)) + "_task");
        seen.emplace_back(to_string(t.trigger_rule));
    }
    EXPECT_EQ(seen.size(), 8u);
    EXPECT_EQ(dag->tasks.front().task_id, "start");
    EXPECT_EQ(dag->tasks.back().task_id, "always_task");
    EXPECT_EQ(dag->find_task("start")->downstream,
              (std::vector<std::string>{"all_success_task", "all_failed_task", "all_done_task"}));
}

TEST(LoaderTest, HttpWithUrlAndEveryOption) {
    Result<Dag> dag = load_dag_file(kDataDir / "good" / "cron_weekdays.yaml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    EXPECT_TRUE(dag->schedule.is_cron());
    EXPECT_EQ(dag->schedule.text(), "0 6 * * MON-FRI");
    ASSERT_EQ(dag->params.size(), 5u);
    EXPECT_EQ(dag->params[4].name, "verbose");
    EXPECT_TRUE(dag->params[4].schema.empty());
    EXPECT_EQ(*dag->params[4].default_value, json::value(false));
    EXPECT_EQ(*dag->params[1].default_value, json::value(nullptr));

    const auto& h = std::get<HttpSpec>(dag->find_task("fetch")->kind);
    EXPECT_EQ(h.url, "http://reports.internal:8080/api");
    EXPECT_EQ(h.method, "POST");
    EXPECT_EQ(h.timeout, 90'000);
    EXPECT_EQ(h.expected_status, (std::vector<int>{200, 202}));
    RenderInputs in;
    in.run_id = "r9";
    in.params = *resolve_params(*dag, json::object{});
    in.logical_date = *parse_datetime("2024-05-06");
    json::object ctx = make_context(in);
    EXPECT_EQ(*h.path.render_text(ctx), "/reports/abc");
    EXPECT_EQ(*h.query.at("day").render_text(ctx), "2024-05-06");
    EXPECT_EQ(*h.query.at("limit").render_text(ctx), "10");  // null is falsy: default applies
    EXPECT_EQ(*h.headers.at("X-Request-Id").render_text(ctx), "r9");
    EXPECT_EQ(*h.headers.at("Accept").render_text(ctx), "application/json");
    ASSERT_TRUE(h.body.has_value());
    EXPECT_EQ(*h.body->render_text(ctx), "day=2024-05-06");

    const Task* second = dag->find_task("cron_every_15");
    const auto& h2 = std::get<HttpSpec>(second->kind);
    EXPECT_EQ(h2.expected_status, std::vector<int>{204});
    EXPECT_EQ(h2.path.source(), "/");  // default path for a service
    // `when` without braces is an expression.
    ASSERT_TRUE(second->condition.has_value());
    EXPECT_EQ(*second->condition->render(ctx), json::value(false));
    ctx["tasks"] = json::parse(R"({"fetch":{"output":{"count":3}}})");
    EXPECT_EQ(*second->condition->render(ctx), json::value(true));
}

TEST(LoaderTest, ShorthandsAndYmlExtension) {
    Result<Dag> dag = load_dag_file(kDataDir / "good" / "presets.yml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    EXPECT_EQ(dag->schedule.cron_expression(), "0 0 1 * *");
    EXPECT_EQ(std::get<WaitForServiceSpec>(dag->tasks[0].kind).service, "servico_usuarios");
    EXPECT_EQ(std::get<WaitForServiceSpec>(dag->tasks[0].kind).min_instances, 1);

    Result<Dag> minimal = load_dag_file(kDataDir / "good" / "minimal.yaml");
    ASSERT_TRUE(minimal.has_value()) << minimal.error().message;
    EXPECT_TRUE(minimal->tasks.empty());
    EXPECT_EQ(minimal->schedule.kind(), ScheduleKind::kNone);
    EXPECT_FALSE(minimal->start_date.has_value());
}

// ---- Behaviour beyond the data files -------------------------------------------------------

TEST(LoaderTest, ErrorMessageHasFileLineAndReason) {
    Result<Dag> dag = parse_dag(
        "dag_id: x\ntasks:\n  a:\n    upstream: [zz]\n    http: {service: s}\n", "dags/x.yaml");
    ASSERT_FALSE(dag.has_value());
    EXPECT_EQ(dag.error().message, "dags/x.yaml:4: task 'a' has unknown upstream 'zz'");
}

TEST(LoaderTest, FailuresWithoutLineOmitIt) {
    Result<Dag> dag = load_dag_file(kDataDir / "no_such_file.yaml");
    ASSERT_FALSE(dag.has_value());
    EXPECT_EQ(dag.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(dag.error().message.find("no_such_file.yaml: cannot read the file"),
              std::string::npos)
        << dag.error().message;
}

TEST(LoaderTest, TopologicalOrderKeepsFileOrderAmongReadyTasks) {
    Result<Dag> dag = parse_dag(R"(
dag_id: order
tasks:
  d: {upstream: [b, c], command: [/bin/true]}
  c: {command: [/bin/true]}
  b: {upstream: a, command: [/bin/true]}
  a: {command: [/bin/true]}
  e: {command: [/bin/true]}
)",
                                "order.yaml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    std::vector<std::string> ids;
    for (const Task& t : dag->tasks) ids.push_back(t.task_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"c", "a", "b", "d", "e"}));
    EXPECT_EQ(dag->find_task("a")->downstream, std::vector<std::string>{"b"});
}

TEST(LoaderTest, RepeatedUpstreamCountsOnce) {
    Result<Dag> dag = parse_dag(
        "dag_id: x\ntasks:\n  a: {command: [/bin/true]}\n  b: {upstream: [a, a], command: "
        "[/bin/true]}\n",
        "x.yaml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    EXPECT_EQ(dag->find_task("b")->upstream, std::vector<std::string>{"a"});
    EXPECT_EQ(dag->find_task("a")->downstream, std::vector<std::string>{"b"});
}

TEST(LoaderTest, QuotedScalarsStayStringsInJsonBodies) {
    Result<Dag> dag = parse_dag(R"(
dag_id: types
tasks:
  a:
    http:
      service: s
      json: {n: 1, q: "1", f: 1.5, b: true, bq: 'true', z: null, e: , l: [1, two], big: 18446744073709551615}
)",
                                "types.yaml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    const auto& h = std::get<HttpSpec>(dag->tasks[0].kind);
    EXPECT_EQ(h.json->source(),
              json::parse(R"({"n":1,"q":"1","f":1.5,"b":true,"bq":"true","z":null,"e":null,)"
                          R"("l":[1,"two"],"big":18446744073709551615})"));
}

TEST(LoaderTest, FileOverOneMebibyteIsRefused) {
    std::string text = "dag_id: big\ndescription: \"" + std::string(kMaxDagFileBytes, 'x') + "\"\n";
    Result<Dag> dag = parse_dag(text, "big.yaml");
    ASSERT_FALSE(dag.has_value());
    EXPECT_NE(dag.error().message.find("the limit is 1048576"), std::string::npos);
}

TEST(LoaderTest, TooManyTasksIsRefused) {
    std::string text = "dag_id: many\ntasks:\n";
    for (std::size_t i = 0; i <= kMaxTasks; ++i)
        text += "  t" + std::to_string(i) + ": {command: [x]}\n";
    Result<Dag> dag = parse_dag(text, "many.yaml");
    ASSERT_FALSE(dag.has_value());
    EXPECT_EQ(dag.error().message, "many.yaml:2: 10001 tasks; the limit is 10000");
}

TEST(LoaderTest, LongChainLoads) {
    std::string text = "dag_id: chain\ntasks:\n  t0: {command: [x]}\n";
    for (int i = 1; i < 2000; ++i) {
        text += "  t" + std::to_string(i) + ": {upstream: t" + std::to_string(i - 1) +
                ", command: [x]}\n";
    }
    Result<Dag> dag = parse_dag(text, "chain.yaml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    EXPECT_EQ(dag->tasks.size(), 2000u);
    EXPECT_EQ(dag->tasks.back().task_id, "t1999");
    EXPECT_EQ(dag->find_task("t1000")->upstream, std::vector<std::string>{"t999"});
}

TEST(LoaderTest, AliasExpansionIsBounded) {
    // Each level repeats the one before ten times: 10^7 values if expanded.
    std::string text =
        "dag_id: laughs\nparams:\n  p:\n    default:\n"
        "      - &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
    for (int level = 1; level <= 6; ++level) {
        std::string prev = "*a" + std::to_string(level - 1);
        text += "      - &a" + std::to_string(level) + " [" + prev;
        for (int i = 1; i < 10; ++i) text += ", " + prev;
        text += "]\n";
    }
    Result<Dag> dag = parse_dag(text, "laughs.yaml");
    ASSERT_FALSE(dag.has_value());
    EXPECT_NE(dag.error().message.find("aliases"), std::string::npos) << dag.error().message;
}

TEST(LoaderTest, LargeAliasFreeDocumentIsNotMistakenForAliases) {
    std::string items = "0";
    for (int i = 1; i < 20'000; ++i) items += ",1";
    Result<Dag> dag = parse_dag(
        "dag_id: wide\ntasks:\n  a:\n    http: {service: s, json: [" + items + "]}\n", "wide.yaml");
    ASSERT_TRUE(dag.has_value()) << dag.error().message;
    EXPECT_EQ(std::get<HttpSpec>(dag->tasks[0].kind).json->source().as_array().size(), 20'000u);
}

TEST(LoaderTest, TruncatedFilesNeverThrow) {
    std::string seed = read_text(kDataDir / "good" / "seed.yaml");
    int loaded = 0;
    for (std::size_t n = 0; n <= seed.size(); ++n) {
        Result<Dag> dag = Result<Dag>(Error{});
        EXPECT_NO_THROW(dag = parse_dag(std::string_view(seed).substr(0, n), "cut.yaml"));
        if (dag.has_value())
            ++loaded;
        else
            EXPECT_EQ(dag.error().message.rfind("cut.yaml", 0), 0u);
    }
    EXPECT_GE(loaded, 1);  // at least the whole file
}

TEST(LoaderTest, StrayFlowTokenIsASyntaxErrorNotAnEndlessLoad) {
    // Found by fuzzing: YAML::LoadAll() read an empty document at the ',' again and again,
    // growing without bound, so one bad file hung the DAG folder's scan.
    const std::string found("\x2c\x7f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
                            "\xff\xff\xff\xff\xff\xff\xff:\"i:\"ni: ");
    for (const std::string& text : {std::string(","), std::string("[a]\n,"),
                                    std::string("dag_id: x\n---\n,"), found}) {
        Result<Dag> dag = parse_dag(text, "stray.yaml");
        ASSERT_FALSE(dag.has_value()) << text;
        EXPECT_NE(dag.error().message.find("YAML syntax error"), std::string::npos)
            << dag.error().message;
    }
    Result<Dag> two = parse_dag("dag_id: a\n---\ndag_id: b\n", "two.yaml");
    ASSERT_FALSE(two.has_value());
    EXPECT_EQ(two.error().message, "two.yaml:3: a DAG file holds one YAML document; found another");
}

TEST(LoaderTest, DagIsCopyableAndFindTaskSurvivesEdits) {
    Result<Dag> dag = load_dag_file(kDataDir / "good" / "trigger_rules.yaml");
    ASSERT_TRUE(dag.has_value());
    Dag copy = *dag;
    ASSERT_NE(copy.find_task("always_task"), nullptr);
    EXPECT_EQ(copy.find_task("always_task")->task_id, "always_task");
    copy.tasks.erase(copy.tasks.begin());  // stale index: find_task must still be right
    EXPECT_EQ(copy.find_task("start"), nullptr);
    EXPECT_EQ(copy.find_task("always_task")->task_id, "always_task");
}

}  // namespace
}  // namespace orquestra::dag
