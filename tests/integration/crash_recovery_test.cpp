// Whole-process crash recovery: kill -9 the scheduler mid-run, start it again, and the run
// completes with no try run twice.
#include "core/strings.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_http.hpp"
#include "wait.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace orquestra {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::eventually;
using testing::read_file;

pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "cannot start " << args[0];
    return pid;
}

int run(const std::vector<std::string>& args, const fs::path& log) {
    pid_t pid = spawn(args, log);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class CrashRecoveryTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-crash-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        log_ = home_ / "processes.log";
    }
    void TearDown() override {
        for (pid_t pid : {scheduler_, webserver_}) {
            if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
            }
        }
        // The first try's `sleep` lost its scheduler; end it.
        auto pid_text = read_file(home_ / "a.pid");
        if (!pid_text.empty()) kill(-std::stoi(pid_text), SIGKILL);
        fs::remove_all(home_);
    }
    void start_scheduler() {
        scheduler_ = spawn({ORQUESTRA_BINARY, "scheduler", "--home", home_.string(),
                            "--registry", "http://127.0.0.1:9/eureka"},
                           log_);
    }
    std::vector<std::string> cli(std::vector<std::string> args) {
        args.insert(args.begin(), ORQUESTRA_BINARY);
        args.push_back("--home");
        args.push_back(home_.string());
        return args;
    }
    std::optional<store::TaskInstance> task(const std::string& id) {
        auto s = store::SqliteStore::open(home_ / "orquestra.db");
        if (!s) return std::nullopt;
        auto ti = (*s)->get_task_instance("crash", "r1", id);
        return ti && *ti ? std::optional(**ti) : std::nullopt;
    }

    fs::path home_;
    fs::path log_;
    pid_t scheduler_ = 0;
    pid_t webserver_ = 0;
};

TEST_F(CrashRecoveryTest, KilledSchedulerResumesAndRunsNoTryTwice) {
    // Try 1 of `a` hangs (until the kill); try 2 finishes at once. Each try appends its number.
    std::ofstream(home_ / "dags" / "crash.yaml") << R"(
dag_id: crash
default_args: {retries: 1, retry_delay: 0s}
tasks:
  a:
    command:
      script: |
        echo "$ORQUESTRA_TRY_NUMBER" >> "$OUT/a.tries"
        if [ "$ORQUESTRA_TRY_NUMBER" = 1 ]; then echo $$ > "$OUT/a.pid"; exec sleep 60; fi
        echo '{"done": true}'
      env: {OUT: ")" + home_.string() + R"("}
  b:
    upstream: [a]
    command:
      script: echo "$ORQUESTRA_TRY_NUMBER" >> "$OUT/b.tries"
      env: {OUT: ")" + home_.string() + R"("}
)";
    ASSERT_EQ(run(cli({"db", "init"}), log_), 0) << read_file(log_);
    ASSERT_EQ(run(cli({"dags", "unpause", "crash"}), log_), 0) << read_file(log_);
    start_scheduler();
    ASSERT_EQ(run(cli({"dags", "trigger", "crash", "--run-id", "r1"}), log_), 0)
        << read_file(log_);
    ASSERT_TRUE(eventually([&] { return fs::exists(home_ / "a.pid"); })) << read_file(log_);
    // Queued until the scheduler has recorded that its process started.
    ASSERT_TRUE(eventually([&] {
        auto ti = task("a");
        return ti && ti->state == store::TaskState::kRunning;
    })) << read_file(log_);

    kill(scheduler_, SIGKILL);
    waitpid(scheduler_, nullptr, 0);
    scheduler_ = 0;
    EXPECT_EQ(task("a")->state, store::TaskState::kRunning);  // as the crash left it

    start_scheduler();
    ASSERT_TRUE(eventually([&] {
        auto s = store::SqliteStore::open(home_ / "orquestra.db");
        if (!s) return false;
        auto r = (*s)->get_run("crash", "r1");
        return r && *r && (*r)->state == store::RunState::kSuccess;
    })) << read_file(log_);
    EXPECT_EQ(read_file(home_ / "a.tries"), "1\n2\n");
    EXPECT_EQ(read_file(home_ / "b.tries"), "1\n");
    auto s = store::SqliteStore::open(home_ / "orquestra.db");
    ASSERT_TRUE(s);
    auto tries = (*s)->tries("crash", "r1", "a");
    ASSERT_TRUE(tries);
    ASSERT_EQ(tries->size(), 2u);
    EXPECT_EQ((*tries)[0].state, store::TaskState::kFailed);
    EXPECT_NE((*tries)[0].error.find("scheduler stopped"), std::string::npos);
    EXPECT_EQ((*tries)[1].state, store::TaskState::kSuccess);
    EXPECT_EQ(*(*tries)[1].output_json, R"({"done": true})");
}

// The processes of a try whose scheduler was killed are stopped before its retry starts:
// its process group, a child in the background, and a daemon that left the group (setsid).
TEST_F(CrashRecoveryTest, ProcessesOfTheDeadSchedulersTryAreGoneBeforeTheRetry) {
    std::ofstream(home_ / "dags" / "crash.yaml") << R"(
dag_id: crash
default_args: {retries: 1, retry_delay: 0s}
tasks:
  a:
    command:
      script: |
        if [ "$ORQUESTRA_TRY_NUMBER" = 1 ]; then
          sleep 60 & echo $! > "$OUT/a.child"
          setsid sleep 61 & echo $! > "$OUT/a.daemon"
          echo $$ > "$OUT/a.pid"
          exec sleep 62
        fi
        for f in a.pid a.child a.daemon; do
          p=$(cat "$OUT/$f")
          if [ -e /proc/$p ] && ! grep -q ') Z' /proc/$p/stat; then echo "$f" >> "$OUT/alive"; fi
        done
        echo checked > "$OUT/checked"
      env: {OUT: ")" + home_.string() + R"("}
)";
    ASSERT_EQ(run(cli({"dags", "unpause", "crash"}), log_), 0) << read_file(log_);
    start_scheduler();
    ASSERT_EQ(run(cli({"dags", "trigger", "crash", "--run-id", "r1"}), log_), 0);
    ASSERT_TRUE(eventually([&] { return fs::exists(home_ / "a.pid"); })) << read_file(log_);
    const int group = std::stoi(read_file(home_ / "a.pid"));
    const int daemon = std::stoi(read_file(home_ / "a.daemon"));
    ASSERT_TRUE(eventually([&] {
        auto ti = task("a");
        return ti && ti->state == store::TaskState::kRunning && ti->pid == group &&
               !ti->process_identity.empty();
    })) << read_file(log_);

    kill(scheduler_, SIGKILL);
    waitpid(scheduler_, nullptr, 0);
    scheduler_ = 0;
    ASSERT_EQ(kill(-group, 0), 0) << "the try's group outlives its scheduler";
    ASSERT_EQ(kill(daemon, 0), 0);

    start_scheduler();
    ASSERT_TRUE(eventually([&] { return fs::exists(home_ / "checked"); })) << read_file(log_);
    EXPECT_FALSE(fs::exists(home_ / "alive")) << read_file(home_ / "alive");
    EXPECT_NE(read_file(log_).find("stopped 3 process(es) left by try 1"), std::string::npos)
        << read_file(log_);
    kill(daemon, SIGKILL);
}

TEST_F(CrashRecoveryTest, SecondSchedulerOnTheSameDatabaseRefusesToStart) {
    std::ofstream(home_ / "dags" / "crash.yaml") << "dag_id: crash\ntasks:\n  a: {command: [\"true\"]}\n";
    start_scheduler();
    const fs::path lock = home_ / "orquestra.db-scheduler.lock";
    ASSERT_TRUE(eventually([&] { return read_file(lock) == std::to_string(scheduler_) + "\n"; }))
        << read_file(log_);
    const fs::path second_log = home_ / "second.log";
    pid_t second = spawn({ORQUESTRA_BINARY, "scheduler", "--home", home_.string(), "--registry",
                          "http://127.0.0.1:9/eureka"},
                         second_log);
    int status = 0;
    const bool exited = eventually([&] { return waitpid(second, &status, WNOHANG) == second; });
    if (!exited) {
        kill(second, SIGKILL);
        waitpid(second, nullptr, 0);
    }
    ASSERT_TRUE(exited) << "a second scheduler started: " << read_file(second_log);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    EXPECT_NE(read_file(second_log).find(
                  "in use by another scheduler (process " + std::to_string(scheduler_) + ")"),
              std::string::npos)
        << read_file(second_log);
}

TEST_F(CrashRecoveryTest, QueuedRunCreatedWhileNoSchedulerRunsIsPickedUp) {
    std::ofstream(home_ / "dags" / "crash.yaml") << R"(
dag_id: crash
tasks:
  a: {command: ["true"]}
)";
    ASSERT_EQ(run(cli({"dags", "unpause", "crash"}), log_), 0) << read_file(log_);
    ASSERT_EQ(run(cli({"dags", "trigger", "crash", "--run-id", "r1"}), log_), 0);
    EXPECT_EQ(task("a")->state, store::TaskState::kNone);
    start_scheduler();
    ASSERT_TRUE(eventually([&] {
        auto ti = task("a");
        return ti && ti->state == store::TaskState::kSuccess;
    })) << read_file(log_);
}

// `webserver` serves the API and runs nothing; the scheduler on the same database claims the
// runs the API creates or queues again.
TEST_F(CrashRecoveryTest, WebserverCreatesRunsAndTheSchedulerRunsThem) {
    std::ofstream(home_ / "dags" / "web.yaml") << R"(
dag_id: web
tasks:
  a:
    command:
      script: echo "$ORQUESTRA_RUN_ID $ORQUESTRA_TRY_NUMBER" >> "$OUT/a.tries"
      env: {OUT: ")" + home_.string() + R"("}
)";
    ASSERT_EQ(run(cli({"users", "create", "-u", "ops", "-p", "ops-secret-1", "-r", "Op", "-e",
                       "ops@example.com", "-f", "O", "-l", "P"}),
                  log_),
              0)
        << read_file(log_);
    ASSERT_EQ(run(cli({"dags", "unpause", "web"}), log_), 0) << read_file(log_);
    const fs::path web_log = home_ / "webserver.log";
    webserver_ = spawn(cli({"webserver", "--port", "0"}), web_log);
    std::uint16_t port = 0;
    ASSERT_TRUE(eventually([&] {
        const std::string text = read_file(web_log);
        const auto at = text.find("console on http://127.0.0.1:");
        if (at == std::string::npos) return false;
        port = static_cast<std::uint16_t>(std::stoi(text.substr(at + 28)));
        return true;
    })) << read_file(web_log);
    const std::vector<std::pair<std::string, std::string>> auth = {
        {"Authorization", "Basic " + base64_encode("ops:ops-secret-1")},
        {"Content-Type", "application/json"}};
    auto created =
        testing::request(port, "POST", "/api/v1/dags/web/dagRuns", R"({"dag_run_id": "r1"})", auth);
    ASSERT_EQ(created.status, 200) << created.body;
    EXPECT_NE(created.body.find(R"("state":"queued")"), std::string::npos) << created.body;
    auto run_state = [&] {
        auto r = testing::request(port, "GET", "/api/v1/dags/web/dagRuns/r1", "", auth);
        const auto at = r.body.find(R"("state":")");
        return at == std::string::npos ? std::string()
                                       : r.body.substr(at + 9, r.body.find('"', at + 9) - at - 9);
    };
    EXPECT_EQ(run_state(), "queued");  // nobody runs it yet

    start_scheduler();
    ASSERT_TRUE(eventually([&] { return run_state() == "success"; })) << read_file(log_);
    EXPECT_EQ(read_file(home_ / "a.tries"), "r1 1\n");

    // Cleared through the webserver: queued for any scheduler, which runs it again.
    auto cleared = testing::request(port, "POST", "/api/v1/dags/web/dagRuns/r1/clear",
                                    R"({"dry_run": false})", auth);
    ASSERT_EQ(cleared.status, 200) << cleared.body;
    ASSERT_TRUE(eventually([&] { return read_file(home_ / "a.tries") == "r1 1\nr1 2\n"; }))
        << read_file(log_);
    ASSERT_TRUE(eventually([&] { return run_state() == "success"; })) << read_file(log_);
}

}  // namespace
}  // namespace orquestra
