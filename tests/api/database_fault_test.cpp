// A database that vanishes under a running node: nothing is acknowledged that was not stored.
// Triggers answer 503 with the reason and health turns unhealthy, instead of 200 for runs
// that a restart would not find.

#include "api_stack.hpp"
#include "core/strings.hpp"
#include "test_http.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

namespace orquestra::api {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(DatabaseFaultTest, DeletedDatabaseFailsWritesWith503AndTurnsHealthUnhealthy) {
    testing::ApiStack stack;
    ASSERT_TRUE(stack.start_registry());
    ApiOptions options;
    options.heartbeat_interval = 50ms;
    auto started = stack.start_api(
        {{"quick.yaml",
          "dag_id: quick\nis_paused_upon_creation: false\ntasks:\n  a: {command: \"true\"}\n"}},
        options);
    ASSERT_TRUE(started) << started.error().message;
    const std::pair<std::string, std::string> json{"Content-Type", "application/json"};
    const std::pair<std::string, std::string> auth{
        "Authorization", "Basic " + base64_encode(std::string(testing::ApiStack::kUser) + ":" +
                                                  testing::ApiStack::kPassword)};
    auto trigger = [&](const std::string& run_id) {
        return testing::request(stack.api_port(), "POST", "/api/v1/dags/quick/dagRuns",
                                R"({"dag_run_id":")" + run_id + "\"}", {auth, json});
    };
    auto healthy = [&] {
        auto r = testing::request(stack.api_port(), "GET", "/api/v1/health", "", {});
        return r.body.find(R"("metadatabase":{"status":"healthy"})") != std::string::npos;
    };
    ASSERT_TRUE(testing::eventually(healthy));
    auto before = trigger("before");
    ASSERT_EQ(before.status, 200) << before.body;

    for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::remove(stack.home() / (std::string("orquestra.db") + suffix));
    }
    auto after = trigger("after");
    EXPECT_EQ(after.status, 503) << after.body;
    EXPECT_NE(after.body.find("deleted or replaced"), std::string::npos) << after.body;
    EXPECT_TRUE(testing::eventually([&] { return !healthy(); }));
}

}  // namespace
}  // namespace orquestra::api
