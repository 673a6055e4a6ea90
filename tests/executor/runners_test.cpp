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

AttemptResult run_command_attempt(Attempt attempt) {
    CommandTaskRunner runner(1);
    std::promise<AttemptResult> done;
    runner.run(std::move(attempt), [&done](AttemptResult r) { done.set_value(std::move(r)); });
    auto future = done.get_future();
    EXPECT_EQ(future.wait_for(60s), std::future_status::ready);
    return future.get();
}

// Environment values may be secrets, and Viewers read task logs: only the names are logged.
TEST(CommandTaskRunnerTest, TheLogNamesEnvironmentVariablesWithoutTheirValues) {
    Attempt a = command_attempt("test \"${#SEGREDO}\" = 7");
    std::get<RenderedCommand>(a.work).env = {{"SEGREDO", "hunter2"}, {"OUTRO", "x y"}};
    AttemptResult r = run_command_attempt(std::move(a));
    EXPECT_TRUE(r.success) << r.error;
    std::string log;
    for (const auto& line : r.log) log += line + "\n";
    EXPECT_NE(log.find("env: SEGREDO OUTRO\n"), std::string::npos) << log;
    EXPECT_EQ(log.find("hunter2"), std::string::npos) << log;
}

// 17 MB of output: the log keeps 8 MiB and says how much it left out, and says that the
// command's output went past what is read.
TEST(CommandTaskRunnerTest, OutputPastTheLimitsIsSaidInTheLog) {
    AttemptResult r = run_command_attempt(
        command_attempt("head -c 17000000 /dev/zero | tr '\\0' a; echo; echo done"));
    EXPECT_TRUE(r.success) << r.error;
    std::size_t bytes = 0;
    for (const auto& line : r.log) bytes += line.size() + kLogLineOverhead;
    EXPECT_LE(bytes, kMaxTryLogBytes + 4096);
    ASSERT_GE(r.log.size(), 3u);
    const std::string& truncated = r.log[r.log.size() - 3];
    EXPECT_EQ(truncated.rfind("... log truncated: ", 0), 0u) << truncated;
    EXPECT_NE(truncated.find(" more bytes not written"), std::string::npos) << truncated;
    EXPECT_EQ(r.log[r.log.size() - 2].rfind("output truncated: the command wrote more than "
                                            "16777216 bytes to stdout or stderr",
                                            0),
              0u)
        << r.log[r.log.size() - 2];
    EXPECT_FALSE(r.output_json.has_value());
}

}  // namespace
}  // namespace orquestra::executor
