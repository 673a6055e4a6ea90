#include "dag/loader.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace orquestra::dag {
namespace {

// The DAGs shipped in examples/dags must always load.
TEST(ExamplesTest, EveryExampleDagLoads) {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(ORQUESTRA_EXAMPLE_DAGS)) {
        if (entry.path().extension() != ".yaml") continue;
        auto dag = load_dag_file(entry.path());
        EXPECT_TRUE(dag) << (dag ? "" : dag.error().message);
        ++n;
    }
    EXPECT_GE(n, 1u);
}

TEST(ExamplesTest, SeedDagHasTheLessonsShape) {
    auto dag = load_dag_file(std::filesystem::path(ORQUESTRA_EXAMPLE_DAGS) /
                             "servico_usuarios_mensagens.yaml");
    ASSERT_TRUE(dag) << dag.error().message;
    EXPECT_EQ(dag->dag_id, "servico_usuarios_mensagens");
    ASSERT_EQ(dag->tasks.size(), 2u);
    EXPECT_EQ(dag->tasks[0].task_id, "obter_usuario");
    EXPECT_EQ(dag->tasks[1].upstream, std::vector<std::string>{"obter_usuario"});
    EXPECT_TRUE(dag->tasks[1].condition.has_value());
    EXPECT_EQ(dag->tasks[0].retries, 0);
    ASSERT_EQ(dag->params.size(), 1u);
    EXPECT_EQ(dag->params[0].name, "usuario_id");
}

}  // namespace
}  // namespace orquestra::dag
