// examples/invocar_dag as a process, against the whole seed lesson booted for real: a registry
// in process, servico_usuarios and servico_mensagens as processes registered in it, and the
// REST API over a workflow node that runs examples/dags/servico_usuarios_mensagens.yaml
// unchanged (its HTTP tasks find the services through that registry). One setup per suite;
// each test uses its own run ids.

#include "example_processes.hpp"

#include "api_stack.hpp"
#include "test_http.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace orquestra::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

struct Seed {
    ApiStack stack;
    ExampleService usuarios;
    ExampleService mensagens;
};

Seed* seed = nullptr;

struct Outcome {
    std::optional<int> code;
    std::string out;
    std::string err;
};

// Runs invocar_dag with `flags`; the password comes from the environment unless `env` says
// otherwise.
Outcome invocar(const std::vector<std::string>& flags,
                std::vector<std::string> env = {"ORQUESTRA_PASSWORD=admin-secret"}) {
    std::vector<std::string> argv{kInvocarDagBin};
    argv.insert(argv.end(), flags.begin(), flags.end());
    ChildProcess child(argv, std::move(env));
    Outcome o;
    o.out = child.read_all(60s);
    o.code = child.wait(10s);
    o.err = child.stderr_text();
    return o;
}

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        if (l == line) return true;
    }
    return false;
}

class InvocarDagTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        seed = new Seed;
        auto registry = seed->stack.start_registry();
        ASSERT_TRUE(registry) << registry.error().message;
        seed->usuarios =
            start_example(kUsuariosBin, "servico_usuarios", seed->stack.registry_url());
        seed->mensagens =
            start_example(kMensagensBin, "servico_mensagens", seed->stack.registry_url());
        ASSERT_NE(seed->usuarios.port, 0);
        ASSERT_NE(seed->mensagens.port, 0);
        // The DAG's scheduled run starts as soon as it loads: let it find both services.
        ASSERT_TRUE(eventually([] {
            return !seed->stack.registry().up_instances("servico_usuarios").empty() &&
                   !seed->stack.registry().up_instances("servico_mensagens").empty();
        })) << "services not registered";

        std::ifstream in(kSeedDagFile);
        std::stringstream dag;
        dag << in.rdbuf();
        ASSERT_FALSE(dag.str().empty()) << "cannot read " << kSeedDagFile;
        auto api = seed->stack.start_api({{"servico_usuarios_mensagens.yaml", dag.str()}});
        ASSERT_TRUE(api) << api.error().message;
    }

    static void TearDownTestSuite() {
        delete seed;  // the services die with their ChildProcess, then the stack stops
        seed = nullptr;
    }

    void SetUp() override {
        ASSERT_NE(seed->stack.api_port(), 0) << "the API did not start";
        ASSERT_NE(seed->mensagens.port, 0);
    }

    // The messages servico_mensagens holds for `grupo`.
    static json::array messages(const std::string& grupo) {
        auto reply = request(seed->mensagens.port, "GET", "/mensagens?grupo=" + grupo);
        boost::system::error_code ec;
        auto v = json::parse(reply.body, ec);
        if (ec || !v.is_object() || !v.as_object()["mensagens"].is_array()) {
            ADD_FAILURE() << "bad /mensagens answer: " << reply.body;
            return {};
        }
        return v.as_object()["mensagens"].as_array();
    }

    // invocar() against the suite's API.
    static Outcome run(const std::vector<std::string>& flags,
                       std::vector<std::string> env = {"ORQUESTRA_PASSWORD=admin-secret"}) {
        std::vector<std::string> all{"--url", seed->stack.url()};
        all.insert(all.end(), flags.begin(), flags.end());
        return invocar(all, std::move(env));
    }

    static int count_from(const json::array& list, std::int64_t usuario_id) {
        int n = 0;
        for (const auto& m : list) {
            if (m.as_object().at("usuario_id") == json::value(usuario_id)) ++n;
        }
        return n;
    }
};

TEST_F(InvocarDagTest, AdminUserRunSucceedsAndTheMessageIsSent) {
    auto o = run({"--usuario-id", "2", "--run-id", "teste_admin", "--timeout-seconds", "30"});
    EXPECT_EQ(o.code, 0) << o.out << o.err;
    EXPECT_TRUE(has_line(o.out, "Run teste_admin criada (estado queued)")) << o.out;
    EXPECT_TRUE(has_line(o.out, "Tarefa obter_usuario: success (tentativa 1)")) << o.out;
    EXPECT_TRUE(has_line(o.out, "Tarefa enviar_mensagem: success (tentativa 1)")) << o.out;
    EXPECT_TRUE(has_line(o.out, "Run teste_admin: success")) << o.out;
    EXPECT_LT(o.out.find("Tarefa obter_usuario"), o.out.find("Tarefa enviar_mensagem"))
        << "tasks not in the order they ran: " << o.out;

    const auto admin = messages("admin");
    EXPECT_EQ(count_from(admin, 2), 1) << json::serialize(admin);
    for (const auto& m : admin) {
        EXPECT_EQ(m.as_object().at("mensagem"), json::value("Mensagem automática do Orquestra"));
    }
    EXPECT_TRUE(eventually([] {
        return seed->mensagens.process->stderr_text().find(
                   "Mensagem enviada para o grupo 'admin': Mensagem automática do Orquestra") !=
               std::string::npos;
    }));
}

TEST_F(InvocarDagTest, UserOutsideAdminSkipsTheMessageAndTheRunSucceeds) {
    auto o = run({"--usuario-id", "3"});
    EXPECT_EQ(o.code, 0) << o.out << o.err;
    // The default run id: invocar_dag__<ISO timestamp with milliseconds>.
    const std::string timestamp = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00)";
    const std::regex created("Run (invocar_dag__" + timestamp + R"() criada \(estado queued\)\n)");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(o.out, m, created)) << o.out;
    EXPECT_TRUE(has_line(o.out, "Tarefa obter_usuario: success (tentativa 1)")) << o.out;
    EXPECT_TRUE(std::regex_search(o.out, std::regex(R"(\nTarefa enviar_mensagem: skipped\n)")))
        << o.out;
    EXPECT_TRUE(has_line(o.out, "Run " + m[1].str() + ": success")) << o.out;
    EXPECT_EQ(count_from(messages("admin"), 3), 0);
}

TEST_F(InvocarDagTest, UnknownUserFailsTheRunAndExitsWith1) {
    auto o = run({"--usuario-id", "99", "--run-id", "teste_desconhecido"});
    EXPECT_EQ(o.code, 1) << o.out << o.err;
    EXPECT_TRUE(has_line(o.out, "Tarefa obter_usuario: failed (tentativa 1)")) << o.out;
    EXPECT_TRUE(has_line(o.out, "Run teste_desconhecido: failed")) << o.out;
    // The failed task's log tail names the service's answer.
    EXPECT_NE(o.out.find("usuário 99 não encontrado"), std::string::npos) << o.out;
}

TEST_F(InvocarDagTest, ServerErrorsExitWith2AndShowTheServersReason) {
    auto wrong = run({"--password", "errada", "--run-id", "teste_senha"}, {"ORQUESTRA_PASSWORD"});
    EXPECT_EQ(wrong.code, 2) << wrong.out << wrong.err;
    EXPECT_NE(wrong.err.find("HTTP 401"), std::string::npos) << wrong.err;
    EXPECT_EQ(wrong.out.find("criada"), std::string::npos) << wrong.out;

    auto bad_param = run({"--usuario-id", "0", "--run-id", "teste_zero"});
    EXPECT_EQ(bad_param.code, 2) << bad_param.out << bad_param.err;
    EXPECT_NE(bad_param.err.find("HTTP 400"), std::string::npos) << bad_param.err;
    EXPECT_NE(bad_param.err.find("usuario_id"), std::string::npos) << bad_param.err;

    auto again = run({"--run-id", "teste_admin_dup"});
    EXPECT_EQ(again.code, 0) << again.out << again.err;
    auto duplicate = run({"--run-id", "teste_admin_dup"});
    EXPECT_EQ(duplicate.code, 2);
    EXPECT_NE(duplicate.err.find("HTTP 409"), std::string::npos) << duplicate.err;
}

TEST(InvocarDagFlagsTest, MissingPasswordOrBadFlagsExitWith2) {
    auto no_password = invocar({"--url", "http://127.0.0.1:1"}, {"ORQUESTRA_PASSWORD"});
    EXPECT_EQ(no_password.code, 2) << no_password.err;
    EXPECT_NE(no_password.err.find("password"), std::string::npos) << no_password.err;

    auto bad_timeout = invocar({"--url", "http://127.0.0.1:1", "--timeout-seconds", "0"});
    EXPECT_EQ(bad_timeout.code, 2) << bad_timeout.err;

    auto unreachable = invocar({"--url", "http://127.0.0.1:1"});
    EXPECT_EQ(unreachable.code, 2) << unreachable.err;
    EXPECT_NE(unreachable.err.find("invocar_dag: erro:"), std::string::npos) << unreachable.err;
}

}  // namespace
}  // namespace orquestra::testing
