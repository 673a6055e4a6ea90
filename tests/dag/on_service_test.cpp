#include "dag/loader.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace orquestra::dag {
namespace {

Result<Dag> load(const std::string& on_service) {
    return parse_dag("dag_id: d\n" + on_service + "tasks:\n  a: {command: [\"true\"]}\n",
                     "d.yaml");
}

std::string error_of(const std::string& on_service) {
    auto dag = load(on_service);
    return dag ? std::string("loaded") : dag.error().message;
}

TEST(OnServiceTest, ReadsEventsBelowAndMinInterval) {
    auto dag = load(
        "on_service:\n"
        "  - {service: servico_usuarios, events: [evicted, down, down], min_interval: 30s}\n"
        "  - service: servico_mensagens\n"
        "    below: 2\n"
        "    events: cancelled\n");
    ASSERT_TRUE(dag) << dag.error().message;
    ASSERT_EQ(dag->on_service.size(), 2u);
    const auto& a = dag->on_service[0];
    EXPECT_EQ(a.service, "servico_usuarios");
    EXPECT_EQ(a.events, (std::vector<std::string>{"evicted", "down"}));
    EXPECT_FALSE(a.below);
    EXPECT_EQ(a.min_interval, 30'000);
    EXPECT_EQ(a.line, 3);
    const auto& b = dag->on_service[1];
    EXPECT_EQ(b.events, std::vector<std::string>{"cancelled"});
    EXPECT_EQ(b.below, 2);
    EXPECT_EQ(b.min_interval, 0);
    EXPECT_EQ(b.line, 4);
}

TEST(OnServiceTest, EveryEventNameLoads) {
    auto dag = load(
        "on_service: [{service: s, events: [registered, up, down, out_of_service, cancelled, "
        "evicted]}]\n");
    ASSERT_TRUE(dag) << dag.error().message;
    EXPECT_EQ(dag->on_service[0].events.size(), 6u);
}

TEST(OnServiceTest, AbsentMeansNone) {
    auto dag = load("");
    ASSERT_TRUE(dag) << dag.error().message;
    EXPECT_TRUE(dag->on_service.empty());
}

TEST(OnServiceTest, BadEntriesNameFileLineAndReason) {
    EXPECT_EQ(error_of("on_service:\n  - {service: s, events: [up, crashed]}\n"),
              "d.yaml:3: unknown event 'crashed' in on_service[0].events (use registered, up, "
              "down, out_of_service, cancelled or evicted)");
    EXPECT_EQ(error_of("on_service:\n  - {service: s, below: 0}\n"),
              "d.yaml:3: on_service[0].below must be between 1 and 100000, got 0");
    EXPECT_EQ(error_of("on_service:\n  - {service: 'a b', events: up}\n"),
              "d.yaml:3: bad service name 'a b' in on_service[0]: use 1 to 100 letters, "
              "digits, '_', '.' or '-'");
    EXPECT_EQ(error_of("on_service:\n  - {service: s}\n"),
              "d.yaml:3: on_service[0] needs events or below");
    EXPECT_EQ(error_of("on_service:\n  - {events: [up]}\n"),
              "d.yaml:3: on_service[0] needs a service");
    EXPECT_EQ(error_of("on_service:\n  - {service: s, events: up, eventz: down}\n"),
              "d.yaml:3: unknown key 'eventz' in on_service[0]; did you mean 'events'?");
    EXPECT_EQ(error_of("on_service: {service: s}\n"),
              "d.yaml:2: on_service must be a list of mappings, got a mapping");
    EXPECT_EQ(error_of("on_service: [servico]\n"),
              "d.yaml:2: on_service[0] must be a mapping, got a scalar");
    EXPECT_EQ(error_of("on_service:\n  - {service: s, events: up, min_interval: soon}\n")
                  .substr(0, 35),
              "d.yaml:3: on_service[0].min_interva");
    EXPECT_NE(error_of("on_service:\n  - {service: " + std::string(101, 'x') + ", events: up}\n")
                  .find("bad service name"),
              std::string::npos);
}

TEST(OnServiceTest, ExampleAlertDagWatchesServicoUsuarios) {
    auto dag = load_dag_file(std::filesystem::path(ORQUESTRA_EXAMPLE_DAGS) /
                             "alerta_servico_usuarios.yaml");
    ASSERT_TRUE(dag) << dag.error().message;
    ASSERT_EQ(dag->on_service.size(), 1u);
    EXPECT_EQ(dag->on_service[0].service, "servico_usuarios");
    EXPECT_EQ(dag->on_service[0].events, (std::vector<std::string>{"evicted", "down"}));
    EXPECT_EQ(dag->on_service[0].min_interval, 30'000);
    ASSERT_EQ(dag->tasks.size(), 2u);
    EXPECT_EQ(std::get<HttpSpec>(dag->tasks[1].kind).service, "servico_mensagens");
}

}  // namespace
}  // namespace orquestra::dag
