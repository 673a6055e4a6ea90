// The CLI commands over runs, end to end: the real `orquestra` binary on a temporary home
// (SQLite, DAG files written here, no scheduler running), its output and exit code checked.
// Runs are made by the binary itself (dags backfill) and finished by hand in the database, as
// a scheduler would have left them.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "store/model.hpp"
#include "store/open.hpp"
#include "store/store.hpp"

namespace orquestra::app {
namespace {

namespace fs = std::filesystem;

struct Output {
    int code = -1;
    std::string out;
    std::string err;
};

class CliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() /
                ("orquestra-cli-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        write("daily.yaml", R"(
dag_id: daily
schedule: "@daily"
start_date: 2024-01-01
max_active_runs: 2
tasks:
  extract: {command: "true"}
  load:
    upstream: [extract]
    command: "true"
)");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(home_, ec);
    }

    void write(const std::string& name, const std::string& text) {
        std::ofstream(home_ / "dags" / name) << text;
    }

    static std::string slurp(const fs::path& p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }

    // Runs the binary with `args` (no shell: every argument is passed as it is) and stdin
    // from /dev/null.
    Output run(std::vector<std::string> args) {
        args.insert(args.begin(), ORQUESTRA_BINARY);
        if (args.size() > 2) {
            args.push_back("--home");
            args.push_back(home_.string());
        }
        const fs::path out = home_ / "out.txt";
        const fs::path err = home_ / "err.txt";
        const pid_t pid = ::fork();
        if (pid == 0) {
            std::freopen("/dev/null", "r", stdin);
            std::freopen(out.c_str(), "w", stdout);
            std::freopen(err.c_str(), "w", stderr);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        return Output{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
    }

    std::unique_ptr<store::Store> open() {
        auto s = store::open_store((home_ / "orquestra.db").string());
        if (!s) {
            ADD_FAILURE() << s.error().message;
            return nullptr;
        }
        return std::move(*s);
    }

    // Finishes a run as a scheduler would: its tasks and the run in `state`, ended at `end`.
    void finish(store::Store& s, const std::string& run_id, store::RunState state, Millis end) {
        auto run = s.get_run("daily", run_id).value();
        ASSERT_TRUE(run.has_value()) << run_id;
        store::Changes changes;
        run->state = state;
        run->start_date = end - 1000;
        run->end_date = end;
        changes.runs.push_back(*run);
        for (auto ti : s.task_instances("daily", run_id).value()) {
            ti.state = state == store::RunState::kSuccess ? store::TaskState::kSuccess
                                                          : store::TaskState::kFailed;
            ti.try_number = 1;
            ti.start_date = end - 1000;
            ti.end_date = end;
            changes.tasks.push_back(ti);
        }
        ASSERT_TRUE(s.commit(changes));
        fs::create_directories(home_ / "logs" / "daily" / run_id / "extract");
        std::ofstream(home_ / "logs" / "daily" / run_id / "extract" / "1.log") << "log\n";
    }

    fs::path home_;
};

TEST_F(CliTest, UnknownSubcommandNamesItselfAndListsTheValidOnes) {
    auto top = run({"dgas"});
    EXPECT_EQ(top.code, 2);
    EXPECT_NE(top.err.find("unknown command 'orquestra dgas'"), std::string::npos) << top.err;
    EXPECT_NE(top.err.find("dags"), std::string::npos);
    EXPECT_NE(top.err.find("standalone"), std::string::npos);
    auto nested = run({"dags", "lsit"});
    EXPECT_EQ(nested.code, 2);
    EXPECT_NE(nested.err.find("'orquestra dags lsit'"), std::string::npos) << nested.err;
    EXPECT_NE(nested.err.find("list-runs"), std::string::npos) << nested.err;
    EXPECT_NE(nested.err.find("backfill"), std::string::npos) << nested.err;
    // A known command with a DAG id that looks like nothing is not an unknown command.
    auto known = run({"dags", "list-runs", "nope"});
    EXPECT_EQ(known.err.find("unknown command"), std::string::npos) << known.err;
}

TEST_F(CliTest, BackfillQueuesOneRunPerSchedulePointOnce) {
    ASSERT_EQ(run({"db", "init"}).code, 0);
    auto first = run({"dags", "backfill", "daily", "-s", "2024-02-01", "-e", "2024-02-05"});
    ASSERT_EQ(first.code, 0) << first.out << first.err;
    EXPECT_NE(first.out.find("5 run(s) queued, 0 already there"), std::string::npos) << first.out;
    EXPECT_NE(first.out.find("at most 2"), std::string::npos) << first.out;
    // Again over an overlapping range: only the new points.
    auto again = run({"dags", "backfill", "daily", "-s", "2024-02-04", "-e", "2024-02-06"});
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_NE(again.out.find("1 run(s) queued, 2 already there"), std::string::npos) << again.out;

    auto s = open();
    ASSERT_NE(s, nullptr);
    store::RunFilter f;
    f.dag_id = "daily";
    auto runs = s->list_runs(f).value();
    ASSERT_EQ(runs.total, 6);
    for (const auto& r : runs.items) {
        EXPECT_EQ(r.state, store::RunState::kQueued);
        EXPECT_EQ(r.run_type, store::RunType::kBackfill);
        ASSERT_TRUE(r.data_interval_end.has_value());
        EXPECT_EQ(*r.data_interval_end - r.logical_date, 24 * 3600 * 1000);
    }
    store::EventLogFilter audit;
    audit.event = "backfill";
    EXPECT_EQ(s->list_event_logs(audit).value().total, 6);

    auto listed = run({"dags", "list-runs", "daily", "--state", "queued"});
    ASSERT_EQ(listed.code, 0) << listed.err;
    EXPECT_NE(listed.out.find("backfill__2024-02-06T00:00:00+00:00"), std::string::npos)
        << listed.out;
    // Newest first.
    EXPECT_LT(listed.out.find("2024-02-06"), listed.out.find("2024-02-01"));
    auto none = run({"dags", "list-runs", "daily", "--state", "success"});
    EXPECT_NE(none.out.find("(no runs)"), std::string::npos) << none.out;

    EXPECT_NE(run({"dags", "backfill", "daily", "-s", "2024-02-05", "-e", "2024-02-01"}).code, 0);
    auto bad = run({"dags", "backfill", "daily", "-s", "yesterday", "-e", "2024-02-01"});
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.err.find("--start-date 'yesterday'"), std::string::npos) << bad.err;
    EXPECT_NE(run({"dags", "list-runs", "daily", "--state", "bogus"}).err.find("bogus"),
              std::string::npos);
    EXPECT_NE(run({"dags", "backfill", "ghost", "-s", "2024-02-01", "-e", "2024-02-02"}).code, 0);
}

TEST_F(CliTest, TasksClearClearsMatchingTasksOfFinishedRunsInTheRange) {
    ASSERT_EQ(run({"db", "init"}).code, 0);
    ASSERT_EQ(run({"dags", "backfill", "daily", "-s", "2024-03-01", "-e", "2024-03-03"}).code, 0);
    {
        auto s = open();
        ASSERT_NE(s, nullptr);
        finish(*s, "backfill__2024-03-01T00:00:00+00:00", store::RunState::kFailed, 1'710'000'000'000);
        finish(*s, "backfill__2024-03-02T00:00:00+00:00", store::RunState::kSuccess,
               1'710'000'000'000);
    }
    // Without --yes, and nothing on stdin: nothing is cleared.
    auto asked = run({"tasks", "clear", "daily", "-t", "^load$"});
    EXPECT_EQ(asked.code, 1);
    EXPECT_NE(asked.out.find("Nothing cleared"), std::string::npos) << asked.out;

    auto cleared = run({"tasks", "clear", "daily", "-t", "^load$", "-s", "2024-03-01", "-e",
                        "2024-03-01", "--yes"});
    ASSERT_EQ(cleared.code, 0) << cleared.out << cleared.err;
    EXPECT_NE(cleared.out.find("Cleared 1 task instance(s) in 1 run(s)"), std::string::npos)
        << cleared.out;
    auto s = open();
    ASSERT_NE(s, nullptr);
    auto load = s->get_task_instance("daily", "backfill__2024-03-01T00:00:00+00:00", "load")
                    .value();
    ASSERT_TRUE(load.has_value());
    EXPECT_EQ(load->state, store::TaskState::kNone);
    auto extract =
        s->get_task_instance("daily", "backfill__2024-03-01T00:00:00+00:00", "extract").value();
    EXPECT_EQ(extract->state, store::TaskState::kFailed);
    EXPECT_EQ(s->get_run("daily", "backfill__2024-03-01T00:00:00+00:00").value()->state,
              store::RunState::kQueued);
    // The other finished run was outside the range.
    EXPECT_EQ(s->get_run("daily", "backfill__2024-03-02T00:00:00+00:00").value()->state,
              store::RunState::kSuccess);

    // --only-failed over every run: the successful run has nothing failed.
    auto only_failed = run({"tasks", "clear", "daily", "--only-failed", "-s", "2024-03-02",
                            "--yes"});
    EXPECT_EQ(only_failed.code, 0) << only_failed.err;
    EXPECT_NE(only_failed.out.find("No task instances to clear"), std::string::npos)
        << only_failed.out;

    auto bad_regex = run({"tasks", "clear", "daily", "-t", "(", "--yes"});
    EXPECT_NE(bad_regex.code, 0);
    EXPECT_NE(bad_regex.err.find("regular expression"), std::string::npos) << bad_regex.err;
    auto no_match = run({"tasks", "clear", "daily", "-t", "zzz", "--yes"});
    EXPECT_NE(no_match.err.find("no task"), std::string::npos) << no_match.err;
}

TEST_F(CliTest, DbCleanDeletesOldFinishedRunsTheirTriesAndLogs) {
    ASSERT_EQ(run({"db", "init"}).code, 0);
    ASSERT_EQ(run({"dags", "backfill", "daily", "-s", "2024-04-01", "-e", "2024-04-03"}).code, 0);
    const std::string old_run = "backfill__2024-04-01T00:00:00+00:00";
    const std::string new_run = "backfill__2024-04-02T00:00:00+00:00";
    {
        auto s = open();
        ASSERT_NE(s, nullptr);
        finish(*s, old_run, store::RunState::kSuccess, 1'712'000'000'000);  // 2024-04-01
        finish(*s, new_run, store::RunState::kFailed, 1'715'000'000'000);   // 2024-05-06
    }
    auto dry = run({"db", "clean", "--before", "2024-05-01", "--dry-run"});
    ASSERT_EQ(dry.code, 0) << dry.err;
    EXPECT_NE(dry.out.find("Would delete"), std::string::npos) << dry.out;
    EXPECT_NE(dry.out.find("1 run(s) in all"), std::string::npos) << dry.out;
    EXPECT_TRUE(fs::exists(home_ / "logs" / "daily" / old_run));

    auto cleaned = run({"db", "clean", "--before", "2024-05-01"});
    ASSERT_EQ(cleaned.code, 0) << cleaned.out << cleaned.err;
    EXPECT_NE(cleaned.out.find("Deleted 1 run(s) and 1 log folder(s)"), std::string::npos)
        << cleaned.out;
    EXPECT_FALSE(fs::exists(home_ / "logs" / "daily" / old_run));
    EXPECT_TRUE(fs::exists(home_ / "logs" / "daily" / new_run));
    auto s = open();
    ASSERT_NE(s, nullptr);
    EXPECT_FALSE(s->get_run("daily", old_run).value().has_value());
    EXPECT_TRUE(s->tries("daily", old_run, "extract").value().empty());
    EXPECT_TRUE(s->get_run("daily", new_run).value().has_value());
    // The queued run is never cleaned, however old.
    EXPECT_TRUE(s->get_run("daily", "backfill__2024-04-03T00:00:00+00:00").value().has_value());
    EXPECT_NE(run({"db", "clean", "--before", "someday"}).code, 0);
}

TEST_F(CliTest, TwoFilesWithOneDagIdAreBothReportedEverywhere) {
    write("zz_copy.yaml", "dag_id: daily\ntasks:\n  a: {command: \"true\"}\n");
    ASSERT_EQ(run({"db", "init"}).code, 0);
    auto listed = run({"dags", "list"});
    EXPECT_EQ(listed.code, 0);
    EXPECT_NE(listed.out.find("daily.yaml"), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find("zz_copy.yaml"), std::string::npos) << listed.out;
    auto errors = run({"dags", "list-import-errors"});
    EXPECT_EQ(errors.code, 1);
    EXPECT_NE(errors.out.find("zz_copy.yaml"), std::string::npos) << errors.out;
    EXPECT_NE(errors.out.find("daily.yaml"), std::string::npos) << errors.out;
    EXPECT_NE(errors.out.find("already defined"), std::string::npos) << errors.out;
}

}  // namespace
}  // namespace orquestra::app
