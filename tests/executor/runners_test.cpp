// CommandTaskRunner as the engine uses it: a stopping scheduler does not wait for its commands.
#include "executor/runners.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <thread>

namespace orquestra::executor {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

Attempt command_attempt(std::string script) {
    Attempt a;
    a.dag_id = "d";
    a.run_id = "r";
    a.task_id = "t";
    a.timeout = 60s;
    RenderedCommand c;
    c.script = std::move(script);
    a.work = std::move(c);
    return a;
}

TEST(CommandTaskRunnerTest, DestroyingTheRunnerStopsRunningCommandsAndDropsQueuedOnes) {
    std::random_device rd;
    const fs::path marker = fs::temp_directory_path() / ("orquestra-runner-" + std::to_string(rd()));
    auto runner = std::make_unique<CommandTaskRunner>(1);
    std::promise<AttemptResult> first;
    bool second_called = false;
    runner->run(command_attempt("touch '" + marker.string() + "'; exec sleep 60"),
                [&first](AttemptResult r) { first.set_value(std::move(r)); });
    runner->run(command_attempt("echo never"), [&second_called](AttemptResult) {
        second_called = true;
    });
    // Wait (bounded) until the first command runs; the second is queued behind it.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!fs::exists(marker) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_TRUE(fs::exists(marker));

    const auto start = std::chrono::steady_clock::now();
    runner.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    auto result = first.get_future().get();
    EXPECT_FALSE(result.success);
    EXPECT_EQ(result.error, "stopped: the scheduler is shutting down");
    EXPECT_FALSE(second_called);
    fs::remove(marker);
}

}  // namespace
}  // namespace orquestra::executor
