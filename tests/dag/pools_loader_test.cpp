#include "dag/loader.hpp"

#include <gtest/gtest.h>

#include <string>

namespace orquestra::dag {
namespace {

TEST(PoolsLoaderTest, TasksTakeThePoolOfDefaultArgsUnlessTheyNameOne) {
    Result<Dag> dag = parse_dag(R"(
dag_id: x
default_args: {pool: etl, pool_slots: 2}
tasks:
  a: {command: ["true"]}
  b: {command: ["true"], pool: api.calls, pool_slots: 5}
  c: {command: ["true"], pool_slots: 1}
)",
                                "x.yaml");
    ASSERT_TRUE(dag) << dag.error().message;
    EXPECT_EQ(dag->find_task("a")->pool, "etl");
    EXPECT_EQ(dag->find_task("a")->pool_slots, 2);
    EXPECT_EQ(dag->find_task("b")->pool, "api.calls");
    EXPECT_EQ(dag->find_task("b")->pool_slots, 5);
    EXPECT_EQ(dag->find_task("c")->pool, "etl");
    EXPECT_EQ(dag->find_task("c")->pool_slots, 1);
}

TEST(PoolsLoaderTest, WithoutPoolsEveryTaskTakesOneSlotOfTheDefaultPool) {
    Result<Dag> dag = parse_dag("dag_id: x\ntasks:\n  a: {command: [\"true\"]}\n", "x.yaml");
    ASSERT_TRUE(dag) << dag.error().message;
    EXPECT_EQ(dag->tasks[0].pool, "default_pool");
    EXPECT_EQ(dag->tasks[0].pool_slots, 1);
}

TEST(PoolsLoaderTest, BadPoolsAreRefusedWithFileAndLine) {
    struct Case {
        const char* yaml;
        const char* message;
    };
    const Case cases[] = {
        {"dag_id: x\ntasks:\n  a:\n    command: [\"true\"]\n    pool_slots: 0\n",
         "x.yaml:5: task 'a' pool_slots must be between 1 and 1000000, got 0"},
        {"dag_id: x\ntasks:\n  a:\n    command: [\"true\"]\n    pool_slots: -3\n",
         "x.yaml:5: task 'a' pool_slots must be between 1 and 1000000, got -3"},
        {"dag_id: x\ntasks:\n  a:\n    command: [\"true\"]\n    pool_slots: two\n",
         "x.yaml:5: task 'a' pool_slots must be an integer"},
        {"dag_id: x\ntasks:\n  a:\n    command: [\"true\"]\n    pool: \"bad pool\"\n",
         "x.yaml:5: task 'a' pool must be a pool name"},
        {"dag_id: x\ndefault_args:\n  pool_slots: 2000000\ntasks:\n  a: {command: [\"true\"]}\n",
         "x.yaml:3: default_args.pool_slots must be between 1 and 1000000"},
        {"dag_id: x\ndefault_args:\n  pool: [a]\ntasks:\n  a: {command: [\"true\"]}\n",
         "x.yaml:3: default_args.pool must be a string"},
    };
    for (const auto& c : cases) {
        Result<Dag> dag = parse_dag(c.yaml, "x.yaml");
        ASSERT_FALSE(dag) << c.yaml;
        EXPECT_EQ(dag.error().message.rfind(c.message, 0), 0u)
            << dag.error().message << "\nexpected to start with: " << c.message;
    }
}

}  // namespace
}  // namespace orquestra::dag
