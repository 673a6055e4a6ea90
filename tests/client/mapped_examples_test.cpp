// Dynamic task mapping end to end against the example services as real processes: one HTTP
// call to servico_usuarios per id, then one message to servico_mensagens per admin user found,
// mapped over the first task's outputs; read back over the REST API.

#include "api_stack.hpp"
#include "example_processes.hpp"
#include "test_http.hpp"
#include "core/strings.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace orquestra::testing {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

constexpr const char* kDag = R"(
dag_id: mapeado
is_paused_upon_creation: false
params:
  ids: {default: [1, 2, 3]}
tasks:
  usuarios:
    expand: {id: "{{ params.ids }}"}
    http: {service: servico_usuarios, path: "/usuarios/{{ expand.id }}"}
  avisar:
    upstream: [usuarios]
    expand: {u: "{{ tasks.usuarios.output }}"}
    when: "{{ 'admin' in expand.u.grupos }}"
    http:
      service: servico_mensagens
      method: POST
      path: /enviar_mensagem
      json: {usuario_id: "{{ expand.u.id }}", grupo: admin, mensagem: "Olá {{ expand.u.nome }}"}
)";

TEST(MappedExamplesTest, OneCallPerElementAndOneMessagePerAdmin) {
    ApiStack stack;
    ASSERT_TRUE(stack.start_registry());
    auto usuarios = start_example(kUsuariosBin, "servico_usuarios", stack.registry_url());
    auto mensagens = start_example(kMensagensBin, "servico_mensagens", stack.registry_url());
    ASSERT_NE(usuarios.port, 0);
    ASSERT_NE(mensagens.port, 0);
    ASSERT_TRUE(eventually([&] {
        return !stack.registry().up_instances("servico_usuarios").empty() &&
               !stack.registry().up_instances("servico_mensagens").empty();
    }));
    auto api = stack.start_api({{"mapeado.yaml", kDag}});
    ASSERT_TRUE(api) << api.error().message;
    const std::vector<std::pair<std::string, std::string>> auth = {
        {"Authorization", "Basic " + base64_encode(std::string(ApiStack::kUser) + ":" +
                                                   ApiStack::kPassword)},
        {"Content-Type", "application/json"}};
    auto triggered = request(stack.api_port(), "POST", "/api/v1/dags/mapeado/dagRuns",
                             R"({"dag_run_id":"e2e"})", auth);
    ASSERT_EQ(triggered.status, 200) << triggered.body;
    std::string last;
    ASSERT_TRUE(eventually([&] {
        last = request(stack.api_port(), "GET", "/api/v1/dags/mapeado/dagRuns/e2e", "", auth).body;
        return last.find("\"state\":\"success\"") != std::string::npos ||
               last.find("\"state\":\"failed\"") != std::string::npos;
    })) << last;
    EXPECT_NE(last.find("\"state\":\"success\""), std::string::npos) << last;

    auto listed = request(stack.api_port(), "GET",
                          "/api/v1/dags/mapeado/dagRuns/e2e/taskInstances/avisar/listMapped", "",
                          auth);
    ASSERT_EQ(listed.status, 200) << listed.body;
    auto body = json::parse(listed.body).as_object();
    ASSERT_EQ(body.at("total_entries"), json::value(3));
    const auto& tis = body.at("task_instances").as_array();
    // Ana (1) and Bruno (2) are admins; Carla (3) is not.
    EXPECT_EQ(tis[0].at("state"), json::value("success"));
    EXPECT_EQ(tis[1].at("state"), json::value("success"));
    EXPECT_EQ(tis[2].at("state"), json::value("skipped"));

    auto messages = request(mensagens.port, "GET", "/mensagens?grupo=admin");
    auto list = json::parse(messages.body).as_object().at("mensagens").as_array();
    ASSERT_EQ(list.size(), 2u) << messages.body;
    EXPECT_NE(json::serialize(list).find("Olá Ana"), std::string::npos) << messages.body;
    EXPECT_NE(json::serialize(list).find("Olá Bruno"), std::string::npos) << messages.body;
}

}  // namespace
}  // namespace orquestra::testing
