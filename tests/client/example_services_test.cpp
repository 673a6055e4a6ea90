// The example services (examples/servico_usuarios, examples/servico_mensagens) as real
// processes, registering in a real registry booted in process, driven over HTTP.

#include "example_processes.hpp"

#include "app/registry_node.hpp"
#include "api_stack.hpp"
#include "test_http.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <regex>
#include <string>

namespace orquestra::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kJsonType = "application/json; charset=utf-8";

json::object parse_object(const Reply& reply) {
    boost::system::error_code ec;
    auto v = json::parse(reply.body, ec);
    if (ec || !v.is_object()) {
        ADD_FAILURE() << "not a JSON object: " << reply.body;
        return {};
    }
    return v.as_object();
}

std::string erro(const Reply& reply) {
    auto body = parse_object(reply);
    const auto* e = body.if_contains("erro");
    return e != nullptr && e->is_string() ? std::string(e->as_string()) : "<no erro>";
}

// A registry node on its own event loop, for tests that need one on a chosen port. The loop
// stops before the node is destroyed, and the node goes before the loop's io_context.
struct OwnRegistry {
    IoThreads io{1};
    std::unique_ptr<app::RegistryNode> node;

    explicit OwnRegistry(std::uint16_t port) {
        app::RegistryNodeOptions options;
        options.http.port = port;
        node = std::make_unique<app::RegistryNode>(io.io(), SystemClock::instance(), options);
    }
    ~OwnRegistry() {
        node->stop();
        io.stop();
        node.reset();
    }
};

class ExampleServicesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto started = stack_.start_registry();
        ASSERT_TRUE(started) << started.error().message;
    }

    ExampleService start(const std::string& binary, const std::string& name,
                         const std::vector<std::string>& extra = {}) {
        return start_example(binary, name, stack_.registry_url(), extra);
    }

    // The registered instance of `app` on `port`, once the registry has it.
    std::optional<registry::InstanceInfo> wait_registered(const std::string& app,
                                                          std::uint16_t port) {
        std::optional<registry::InstanceInfo> found;
        eventually([&] {
            for (auto& info : stack_.registry().up_instances(app)) {
                if (info.port.port == port) found = info;
            }
            return found.has_value();
        });
        return found;
    }

    ApiStack stack_;  // only its registry
};

TEST_F(ExampleServicesTest, UsuariosRegistersAndServesTheSeedUsers) {
    auto svc = start(kUsuariosBin, "servico_usuarios");
    ASSERT_NE(svc.port, 0);
    auto info = wait_registered("servico_usuarios", svc.port);
    ASSERT_TRUE(info) << "not registered; stderr:\n" << svc.process->stderr_text();
    const std::string base = "http://127.0.0.1:" + std::to_string(svc.port);
    EXPECT_EQ(info->app, "SERVICO_USUARIOS");
    EXPECT_EQ(info->instance_id, "127.0.0.1:servico_usuarios:" + std::to_string(svc.port));
    EXPECT_EQ(info->ip_addr, "127.0.0.1");
    EXPECT_EQ(info->host_name, "127.0.0.1");
    EXPECT_EQ(info->status, registry::InstanceStatus::kUp);
    EXPECT_EQ(info->health_check_url, base + "/health");
    EXPECT_EQ(info->status_page_url, base + "/health");
    EXPECT_EQ(info->home_page_url, base + "/");
    EXPECT_EQ(info->lease.duration_secs, 90);
    EXPECT_EQ(info->lease.renewal_interval_secs, 30);

    const std::pair<int, const char*> users[] = {
        {1, R"({"id":1,"nome":"Ana","grupos":["admin"]})"},
        {2, R"({"id":2,"nome":"Bruno","grupos":["admin","vendas"]})"},
        {3, R"({"id":3,"nome":"Carla","grupos":["vendas"]})"},
    };
    for (const auto& [id, body] : users) {
        auto reply = request(svc.port, "GET", "/usuarios/" + std::to_string(id));
        EXPECT_EQ(reply.status, 200) << id;
        EXPECT_EQ(reply.body, body);
        EXPECT_EQ(reply.header("Content-Type"), kJsonType);
    }
    auto health = request(svc.port, "GET", "/health");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, R"({"status":"UP"})");
}

TEST_F(ExampleServicesTest, UsuariosAnswersUnknownUsersPathsAndMethodsWithJson) {
    auto svc = start(kUsuariosBin, "servico_usuarios");
    ASSERT_NE(svc.port, 0);
    for (const std::string id : {"99", "0", "-1", "abc", "1.5", "99999999999999999999"}) {
        auto reply = request(svc.port, "GET", "/usuarios/" + id);
        EXPECT_EQ(reply.status, 404) << id;
        EXPECT_EQ(reply.body, R"({"erro":"usuário )" + id + R"( não encontrado"})");
        EXPECT_EQ(reply.header("Content-Type"), kJsonType);
    }
    auto unknown = request(svc.port, "GET", "/usuario/1");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(erro(unknown), "caminho não encontrado: /usuario/1");
    auto nested = request(svc.port, "GET", "/usuarios/1/grupos");
    EXPECT_EQ(nested.status, 404);

    auto post = request(svc.port, "POST", "/usuarios/1", "{}");
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.header("Allow"), "GET");
    EXPECT_EQ(erro(post), "método POST não permitido em /usuarios/1");
}

TEST_F(ExampleServicesTest, MensagensKeepsSentMessagesByGroup) {
    auto svc = start(kMensagensBin, "servico_mensagens");
    ASSERT_NE(svc.port, 0);
    ASSERT_TRUE(wait_registered("SERVICO_MENSAGENS", svc.port)) << "not registered; stderr:\n"
                                                                << svc.process->stderr_text();

    const std::pair<std::string, std::string> json_body{"Content-Type", "application/json"};
    auto sent =
        request(svc.port, "POST", "/enviar_mensagem",
                R"({"usuario_id": 1, "grupo": "admin", "mensagem": "Olá, admins"})", {json_body});
    ASSERT_EQ(sent.status, 200) << sent.body;
    EXPECT_EQ(sent.header("Content-Type"), kJsonType);
    EXPECT_EQ(
        sent.body,
        R"({"status":"enviada","usuario_id":1,"grupo":"admin","mensagem":"Olá, admins","id":1})");
    auto other =
        request(svc.port, "POST", "/enviar_mensagem",
                R"({"usuario_id": 3, "grupo": "vendas", "mensagem": "Meta batida"})", {json_body});
    ASSERT_EQ(other.status, 200) << other.body;
    EXPECT_EQ(parse_object(other)["id"], json::value(2));

    EXPECT_TRUE(eventually([&] {
        return svc.process->stderr_text().find(
                   "Mensagem enviada para o grupo 'admin': Olá, admins") != std::string::npos;
    })) << svc.process->stderr_text();

    auto admin = request(svc.port, "GET", "/mensagens?grupo=admin");
    ASSERT_EQ(admin.status, 200);
    auto admin_body = parse_object(admin);
    EXPECT_EQ(admin_body["grupo"], json::value("admin"));
    const auto& list = admin_body["mensagens"].as_array();
    ASSERT_EQ(list.size(), 1u) << admin.body;
    const auto& m = list[0].as_object();
    EXPECT_EQ(m.at("id"), json::value(1));
    EXPECT_EQ(m.at("usuario_id"), json::value(1));
    EXPECT_EQ(m.at("grupo"), json::value("admin"));
    EXPECT_EQ(m.at("mensagem"), json::value("Olá, admins"));
    const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
    EXPECT_TRUE(std::regex_match(std::string(m.at("enviada_em").as_string()), iso)) << admin.body;

    auto vendas = parse_object(request(svc.port, "GET", "/mensagens?grupo=vendas"));
    ASSERT_EQ(vendas["mensagens"].as_array().size(), 1u);
    EXPECT_EQ(vendas["mensagens"].as_array()[0].as_object().at("mensagem"),
              json::value("Meta batida"));
    auto nobody = parse_object(request(svc.port, "GET", "/mensagens?grupo=financeiro"));
    EXPECT_TRUE(nobody["mensagens"].as_array().empty());

    auto all = parse_object(request(svc.port, "GET", "/mensagens"));
    EXPECT_TRUE(all["grupo"].is_null());
    ASSERT_EQ(all["mensagens"].as_array().size(), 2u);
    EXPECT_EQ(all["mensagens"].as_array()[0].as_object().at("id"), json::value(1));  // oldest first
    EXPECT_EQ(all["mensagens"].as_array()[1].as_object().at("id"), json::value(2));

    auto get = request(svc.port, "GET", "/enviar_mensagem");
    EXPECT_EQ(get.status, 405);
    EXPECT_EQ(get.header("Allow"), "POST");
    EXPECT_EQ(request(svc.port, "GET", "/health").body, R"({"status":"UP"})");
}

TEST_F(ExampleServicesTest, MensagensRejectsBadBodiesNamingTheField) {
    auto svc = start(kMensagensBin, "servico_mensagens");
    ASSERT_NE(svc.port, 0);
    const std::string long_text(10'001, 'x');
    const std::string long_group(101, 'g');
    const std::pair<std::string, std::string> cases[] = {
        {"isto não é JSON", "JSON"},
        {"[1, 2]", "objeto"},
        {R"({"usuario_id": 1, "mensagem": "oi"})", "'grupo'"},
        {R"({"grupo": "admin", "mensagem": "oi"})", "'usuario_id'"},
        {R"({"usuario_id": "1", "grupo": "admin", "mensagem": "oi"})", "'usuario_id'"},
        {R"({"usuario_id": 0, "grupo": "admin", "mensagem": "oi"})", "'usuario_id'"},
        {R"({"usuario_id": -4, "grupo": "admin", "mensagem": "oi"})", "'usuario_id'"},
        {R"({"usuario_id": 1.5, "grupo": "admin", "mensagem": "oi"})", "'usuario_id'"},
        {R"({"usuario_id": 1, "grupo": 7, "mensagem": "oi"})", "'grupo'"},
        {R"({"usuario_id": 1, "grupo": "", "mensagem": "oi"})", "'grupo'"},
        {R"({"usuario_id": 1, "grupo": ")" + long_group + R"(", "mensagem": "oi"})", "'grupo'"},
        {R"({"usuario_id": 1, "grupo": "admin"})", "'mensagem'"},
        {R"({"usuario_id": 1, "grupo": "admin", "mensagem": "  "})", "'mensagem'"},
        {R"({"usuario_id": 1, "grupo": "admin", "mensagem": ")" + long_text + R"("})",
         "'mensagem'"},
    };
    for (const auto& [body, word] : cases) {
        auto reply = request(svc.port, "POST", "/enviar_mensagem", body);
        EXPECT_EQ(reply.status, 400) << body.substr(0, 80);
        EXPECT_EQ(reply.header("Content-Type"), kJsonType);
        EXPECT_NE(erro(reply).find(word), std::string::npos)
            << body.substr(0, 80) << " -> " << reply.body;
    }
    // The limits count characters, not bytes: 10 000 two-byte characters fit.
    std::string wide;
    for (int i = 0; i < 10'000; ++i) wide += "ç";
    auto fits = request(svc.port, "POST", "/enviar_mensagem",
                        R"({"usuario_id": 2, "grupo": "admin", "mensagem": ")" + wide + R"("})");
    EXPECT_EQ(fits.status, 200) << fits.body.substr(0, 200);

    auto all = parse_object(request(svc.port, "GET", "/mensagens"));
    ASSERT_EQ(all["mensagens"].as_array().size(), 1u) << "a rejected message was kept";
    EXPECT_EQ(all["mensagens"].as_array()[0].as_object().at("usuario_id"), json::value(2));
}

TEST_F(ExampleServicesTest, SigtermOrSigintDeregistersAndExitsZero) {
    struct Case {
        const char* binary;
        const char* name;
        int signal;
    };
    for (const auto& [binary, name, signal] : {Case{kUsuariosBin, "servico_usuarios", SIGTERM},
                                               Case{kMensagensBin, "servico_mensagens", SIGINT}}) {
        auto svc = start(binary, name);
        ASSERT_NE(svc.port, 0);
        ASSERT_TRUE(wait_registered(name, svc.port)) << name << " not registered; stderr:\n"
                                                     << svc.process->stderr_text();
        const auto cancels = stack_.registry().counters().cancels.load();

        svc.process->signal(signal);
        auto code = svc.process->wait(15s);
        ASSERT_TRUE(code.has_value()) << name << " still runs after signal " << signal;
        EXPECT_EQ(*code, 0) << svc.process->stderr_text();
        // Deregistered before it exited, not left to expire.
        EXPECT_TRUE(stack_.registry().up_instances(name).empty()) << name;
        EXPECT_EQ(stack_.registry().counters().cancels.load(), cancels + 1) << name;
        EXPECT_EQ(stack_.registry().counters().evictions.load(), 0u);
    }
}

TEST_F(ExampleServicesTest, ServesWhileTheRegistryIsDownAndRegistersWhenItComesUp) {
    // A port where a registry will listen, but not yet.
    std::uint16_t free_port = 0;
    {
        OwnRegistry probe(0);
        auto port = probe.node->start();
        ASSERT_TRUE(port) << port.error().message;
        free_port = *port;
    }

    const std::string url = "http://127.0.0.1:" + std::to_string(free_port) + "/eureka";
    auto svc = start_example(kUsuariosBin, "servico_usuarios", url);
    ASSERT_NE(svc.port, 0);
    EXPECT_EQ(request(svc.port, "GET", "/usuarios/1").status, 200);
    EXPECT_TRUE(eventually([&] {
        return svc.process->stderr_text().find("registration") != std::string::npos;
    })) << "no warning about the registry; stderr:\n"
        << svc.process->stderr_text();

    OwnRegistry late(free_port);
    auto started = late.node->start();
    ASSERT_TRUE(started) << started.error().message;
    EXPECT_TRUE(eventually(
        [&] { return !late.node->registry().up_instances("servico_usuarios").empty(); }, 15s))
        << "never registered; stderr:\n"
        << svc.process->stderr_text();
    svc.process->signal(SIGTERM);
    EXPECT_EQ(svc.process->wait(15s), 0);
    EXPECT_TRUE(late.node->registry().up_instances("servico_usuarios").empty());
}

TEST_F(ExampleServicesTest, BadFlagsExitWithCode2) {
    for (const std::vector<std::string>& flags :
         {std::vector<std::string>{"--port", "70000"},
          std::vector<std::string>{"--registry", "ftp://127.0.0.1/eureka"},
          std::vector<std::string>{"--lease-renewal-seconds", "0"},
          std::vector<std::string>{"--no-such-flag"}}) {
        std::vector<std::string> argv{kUsuariosBin};
        argv.insert(argv.end(), flags.begin(), flags.end());
        ChildProcess child(argv);
        EXPECT_EQ(child.wait(15s), 2) << flags[0] << ": " << child.stderr_text();
        EXPECT_EQ(child.read_all(1s), "") << "stdout is only for the listening line";
    }
}

}  // namespace
}  // namespace orquestra::testing
