#include "store/store.hpp"

#include "store/sqlite/migrations.hpp"
#include "store_backends.hpp"

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <map>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace orquestra::store {
namespace {

using testing::Backend;
using testing::BackendKind;
using testing::backend_name;
using testing::make_backend;

constexpr Millis kT0 = 1'700'000'000'000;

DagRun make_run(std::string dag_id, std::string run_id, Millis logical_date = kT0,
                RunState state = RunState::kQueued) {
    DagRun run;
    run.dag_id = std::move(dag_id);
    run.run_id = std::move(run_id);
    run.state = state;
    run.logical_date = logical_date;
    run.queued_at = logical_date + 1;
    return run;
}

TaskInstance make_task(const DagRun& run, std::string task_id,
                       TaskState state = TaskState::kNone) {
    TaskInstance task;
    task.dag_id = run.dag_id;
    task.run_id = run.run_id;
    task.task_id = std::move(task_id);
    task.state = state;
    return task;
}

TaskTry make_try(const TaskInstance& task, int try_number, TaskState state) {
    TaskTry attempt;
    attempt.dag_id = task.dag_id;
    attempt.run_id = task.run_id;
    attempt.task_id = task.task_id;
    attempt.try_number = try_number;
    attempt.state = state;
    attempt.start_date = kT0 + try_number;
    return attempt;
}

// A run with every field set to a value different from its default.
DagRun full_run() {
    DagRun run;
    run.id = 12345;  // ignored: the store assigns ids
    run.dag_id = "servico_usuarios_mensagens";
    run.run_id = "manual__2024-01-02T03:04:05+00:00";
    run.run_type = RunType::kBackfill;
    run.state = RunState::kRunning;
    run.logical_date = kT0 + 10;
    run.data_interval_start = kT0 - 86'400'000;
    run.data_interval_end = kT0;
    run.queued_at = kT0 + 20;
    run.start_date = kT0 + 30;
    run.end_date = kT0 + 40;
    run.conf_json = R"({"usuario_id": 7, "texto": "olá \"mundo\""})";
    run.note = "a note\nwith two lines";
    run.external_trigger = false;
    run.last_scheduling_decision = kT0 + 50;
    run.parent_dag_id = "pai";
    run.parent_run_id = "manual__2024-01-01T00:00:00+00:00";
    run.parent_task_id = "disparar";
    run.trigger_depth = 3;
    return run;
}

TaskInstance full_task(const DagRun& run) {
    TaskInstance task;
    task.dag_id = run.dag_id;
    task.run_id = run.run_id;
    task.task_id = "obter_usuario";
    task.state = TaskState::kUpForRetry;
    task.try_number = 2;
    task.max_tries = 4;
    task.start_date = kT0 + 100;
    task.end_date = kT0 + 200;
    task.queued_when = kT0 + 90;
    task.next_try_at = kT0 + 300;
    task.operator_name = "http";
    task.hostname = "worker-1";
    task.served_by = "servico_usuarios:10.0.0.5:8081";
    task.output_json = R"({"id": 7, "nome": "Ana"})";
    task.note = "retrying";
    task.pid = 4321;
    task.owner = "scheduler-a";
    return task;
}

void expect_same_run(const DagRun& actual, const DagRun& expected) {
    EXPECT_EQ(actual.dag_id, expected.dag_id);
    EXPECT_EQ(actual.run_id, expected.run_id);
    EXPECT_EQ(actual.run_type, expected.run_type);
    EXPECT_EQ(actual.state, expected.state);
    EXPECT_EQ(actual.logical_date, expected.logical_date);
    EXPECT_EQ(actual.data_interval_start, expected.data_interval_start);
    EXPECT_EQ(actual.data_interval_end, expected.data_interval_end);
    EXPECT_EQ(actual.queued_at, expected.queued_at);
    EXPECT_EQ(actual.start_date, expected.start_date);
    EXPECT_EQ(actual.end_date, expected.end_date);
    EXPECT_EQ(actual.conf_json, expected.conf_json);
    EXPECT_EQ(actual.note, expected.note);
    EXPECT_EQ(actual.external_trigger, expected.external_trigger);
    EXPECT_EQ(actual.last_scheduling_decision, expected.last_scheduling_decision);
    EXPECT_EQ(actual.parent_dag_id, expected.parent_dag_id);
    EXPECT_EQ(actual.parent_run_id, expected.parent_run_id);
    EXPECT_EQ(actual.parent_task_id, expected.parent_task_id);
    EXPECT_EQ(actual.trigger_depth, expected.trigger_depth);
}

void expect_same_task(const TaskInstance& actual, const TaskInstance& expected) {
    EXPECT_EQ(actual.dag_id, expected.dag_id);
    EXPECT_EQ(actual.run_id, expected.run_id);
    EXPECT_EQ(actual.task_id, expected.task_id);
    EXPECT_EQ(actual.state, expected.state);
    EXPECT_EQ(actual.try_number, expected.try_number);
    EXPECT_EQ(actual.max_tries, expected.max_tries);
    EXPECT_EQ(actual.start_date, expected.start_date);
    EXPECT_EQ(actual.end_date, expected.end_date);
    EXPECT_EQ(actual.queued_when, expected.queued_when);
    EXPECT_EQ(actual.next_try_at, expected.next_try_at);
    EXPECT_EQ(actual.operator_name, expected.operator_name);
    EXPECT_EQ(actual.hostname, expected.hostname);
    EXPECT_EQ(actual.served_by, expected.served_by);
    EXPECT_EQ(actual.output_json, expected.output_json);
    EXPECT_EQ(actual.note, expected.note);
    EXPECT_EQ(actual.pid, expected.pid);
    EXPECT_EQ(actual.owner, expected.owner);
}

void expect_same_try(const TaskTry& actual, const TaskTry& expected) {
    EXPECT_EQ(actual.dag_id, expected.dag_id);
    EXPECT_EQ(actual.run_id, expected.run_id);
    EXPECT_EQ(actual.task_id, expected.task_id);
    EXPECT_EQ(actual.try_number, expected.try_number);
    EXPECT_EQ(actual.state, expected.state);
    EXPECT_EQ(actual.start_date, expected.start_date);
    EXPECT_EQ(actual.end_date, expected.end_date);
    EXPECT_EQ(actual.hostname, expected.hostname);
    EXPECT_EQ(actual.served_by, expected.served_by);
    EXPECT_EQ(actual.error, expected.error);
    EXPECT_EQ(actual.output_json, expected.output_json);
}

std::vector<std::string> run_ids(const std::vector<DagRun>& runs) {
    std::vector<std::string> ids;
    for (const auto& run : runs) ids.push_back(run.run_id);
    return ids;
}

std::vector<std::string> task_ids(const std::vector<TaskInstance>& tasks) {
    std::vector<std::string> ids;
    for (const auto& task : tasks) ids.push_back(task.task_id);
    return ids;
}

// The suite runs against every store (see store_backends.hpp); each test gets an empty
// database of its own.
class StoreFixture : public ::testing::Test {
protected:
    virtual BackendKind kind() const = 0;

    void SetUp() override {
        backend_ = make_backend(kind());
        reopen();
    }

    // Closes the store (if open) and opens the database again.
    void reopen() {
        store_.reset();
        auto opened = backend_->open();
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        auto migrated = store_->migrate();
        ASSERT_TRUE(migrated) << migrated.error().message;
    }

    DagRun create(const DagRun& run, const std::vector<TaskInstance>& tasks = {}) {
        auto created = store_->create_run(run, tasks);
        if (!created) {
            ADD_FAILURE() << created.error().message;
            return run;
        }
        return *created;
    }

    void commit(const Changes& changes) {
        auto committed = store_->commit(changes);
        ASSERT_TRUE(committed) << committed.error().message;
    }

    std::vector<DagRun> list(const RunFilter& filter) {
        auto page = store_->list_runs(filter);
        if (!page) {
            ADD_FAILURE() << page.error().message;
            return {};
        }
        return page->items;
    }

    std::optional<TaskInstance> task(const std::string& dag_id, const std::string& run_id,
                                     const std::string& task_id) {
        auto found = store_->get_task_instance(dag_id, run_id, task_id);
        if (!found) {
            ADD_FAILURE() << found.error().message;
            return std::nullopt;
        }
        return *found;
    }

    std::unique_ptr<Backend> backend_;  // outlives the store
    std::unique_ptr<Store> store_;
};

class StoreTest : public StoreFixture, public ::testing::WithParamInterface<BackendKind> {
protected:
    BackendKind kind() const override { return GetParam(); }
};

std::string kind_name(const ::testing::TestParamInfo<BackendKind>& info) {
    return backend_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTest, ::testing::Values(BackendKind::kSqlite), kind_name);
INSTANTIATE_TEST_SUITE_P(Postgres, StoreTest, ::testing::Values(BackendKind::kPostgres),
                         kind_name);

// --- opening and durability -----------------------------------------------------------------

TEST_P(StoreTest, ReopenKeepsEverything) {
    DagRecord dag;
    dag.dag_id = "d";
    dag.is_paused = false;
    dag.fileloc = "/dags/d.yaml";
    dag.last_parsed = kT0;
    ASSERT_TRUE(store_->upsert_dag(dag));
    const DagRun run = create(make_run("d", "r1"), {make_task(make_run("d", "r1"), "a")});
    TaskInstance a = make_task(run, "a", TaskState::kSuccess);
    a.try_number = 1;
    commit(Changes{.runs = {}, .tasks = {a}, .tries = {make_try(a, 1, TaskState::kSuccess)}});
    ImportError error;
    error.filename = "/dags/bad.yaml";
    error.message = "bad";
    error.timestamp = kT0;
    ASSERT_TRUE(store_->replace_import_errors({error}));

    reopen();

    auto dags = store_->list_dags();
    ASSERT_TRUE(dags);
    ASSERT_EQ(dags->size(), 1U);
    EXPECT_FALSE(dags->front().is_paused);
    auto got = store_->get_run("d", "r1");
    ASSERT_TRUE(got);
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->id, run.id);
    auto stored = task("d", "r1", "a");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->state, TaskState::kSuccess);
    EXPECT_EQ(store_->tries("d", "r1", "a").value().size(), 1U);
    EXPECT_EQ(store_->import_errors().value().size(), 1U);
    EXPECT_EQ(store_->schema_version().value(), latest_schema_version());
}

// --- DAGs -------------------------------------------------------------------------------------

TEST_P(StoreTest, DagsAreUpsertedAndListedById) {
    DagRecord b;
    b.dag_id = "b";
    b.is_paused = false;
    b.is_active = false;
    b.fileloc = "/dags/b.yaml";
    b.last_parsed = kT0;
    b.last_scheduled_logical_date = kT0 - 5;
    DagRecord a;
    a.dag_id = "a";
    ASSERT_TRUE(store_->upsert_dag(b));
    ASSERT_TRUE(store_->upsert_dag(a));

    auto got = store_->get_dag("b");
    ASSERT_TRUE(got);
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->dag_id, "b");
    EXPECT_FALSE((*got)->is_paused);
    EXPECT_FALSE((*got)->is_active);
    EXPECT_EQ((*got)->fileloc, "/dags/b.yaml");
    EXPECT_EQ((*got)->last_parsed, kT0);
    EXPECT_EQ((*got)->last_scheduled_logical_date, kT0 - 5);

    b.is_paused = true;
    b.last_scheduled_logical_date.reset();
    ASSERT_TRUE(store_->upsert_dag(b));
    got = store_->get_dag("b");
    ASSERT_TRUE(got && got->has_value());
    EXPECT_TRUE((*got)->is_paused);
    EXPECT_EQ((*got)->last_scheduled_logical_date, std::nullopt);

    auto all = store_->list_dags();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2U);
    EXPECT_EQ((*all)[0].dag_id, "a");
    EXPECT_TRUE((*all)[0].is_paused);  // the default
    EXPECT_EQ((*all)[1].dag_id, "b");

    auto missing = store_->get_dag("zzz");
    ASSERT_TRUE(missing);
    EXPECT_FALSE(missing->has_value());
}

// --- runs and task instances ----------------------------------------------------------------

TEST_P(StoreTest, CreateRunRoundTripsEveryField) {
    const DagRun run = full_run();
    const TaskInstance task = full_task(run);
    const DagRun created = create(run, {task});
    EXPECT_GT(created.id, 0);
    EXPECT_NE(created.id, run.id);
    expect_same_run(created, run);

    auto got = store_->get_run(run.dag_id, run.run_id);
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->id, created.id);
    expect_same_run(**got, run);

    auto tasks = store_->task_instances(run.dag_id, run.run_id);
    ASSERT_TRUE(tasks) << tasks.error().message;
    ASSERT_EQ(tasks->size(), 1U);
    expect_same_task(tasks->front(), task);
    auto one = this->task(run.dag_id, run.run_id, task.task_id);
    ASSERT_TRUE(one);
    expect_same_task(*one, task);
}

TEST_P(StoreTest, CreateRunRoundTripsUnsetOptionalsAndDefaults) {
    const DagRun run = make_run("d", "r");  // every optional unset, strings empty
    TaskInstance task = make_task(run, "t");
    task.output_json = std::string();  // set but empty stays distinct from unset
    const TaskInstance bare = make_task(run, "u");
    create(run, {task, bare});

    auto got = store_->get_run("d", "r");
    ASSERT_TRUE(got && got->has_value());
    expect_same_run(**got, run);
    EXPECT_EQ((*got)->conf_json, "{}");
    EXPECT_TRUE((*got)->external_trigger);

    auto tasks = store_->task_instances("d", "r");
    ASSERT_TRUE(tasks);
    ASSERT_EQ(tasks->size(), 2U);
    expect_same_task((*tasks)[0], task);
    expect_same_task((*tasks)[1], bare);
    EXPECT_EQ((*tasks)[0].output_json, std::optional<std::string>(""));
    EXPECT_EQ((*tasks)[1].output_json, std::nullopt);
    EXPECT_EQ((*tasks)[1].state, TaskState::kNone);
}

TEST_P(StoreTest, CreateRunFillsTheRunsIdsIntoItsTasks) {
    const DagRun run = make_run("d", "r");
    TaskInstance task;
    task.task_id = "t";  // no dag_id or run_id
    create(run, {task});
    auto stored = this->task("d", "r", "t");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->dag_id, "d");
    EXPECT_EQ(stored->run_id, "r");
}

TEST_P(StoreTest, CreateRunRejectsATaskOfAnotherRun) {
    const DagRun run = make_run("d", "r");
    const TaskInstance other = make_task(make_run("d", "other"), "t");
    auto created = store_->create_run(run, {other});
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
    auto got = store_->get_run("d", "r");
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->has_value());
}

TEST_P(StoreTest, CreateRunAssignsIncreasingIds) {
    const DagRun first = create(make_run("d", "r1"));
    const DagRun second = create(make_run("e", "r1"));  // same run id, other DAG: allowed
    EXPECT_GT(second.id, first.id);
}

TEST_P(StoreTest, DuplicateRunIsConflictAndWritesNothing) {
    const DagRun run = make_run("d", "r");
    create(run, {make_task(run, "a"), make_task(run, "b")});

    DagRun again = make_run("d", "r", kT0 + 99, RunState::kRunning);
    auto duplicate = store_->create_run(again, {make_task(again, "c")});
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().code, ErrorCode::kConflict);
    EXPECT_EQ(duplicate.error().message, "DAG run 'r' already exists for DAG 'd'");

    auto got = store_->get_run("d", "r");
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->logical_date, kT0);
    EXPECT_EQ((*got)->state, RunState::kQueued);
    auto tasks = store_->task_instances("d", "r");
    ASSERT_TRUE(tasks);
    EXPECT_EQ(task_ids(*tasks), (std::vector<std::string>{"a", "b"}));
}

TEST_P(StoreTest, FailedCreateRunLeavesNoRunBehind) {
    // The run inserts fine; the second task with the same id fails; the run must go too.
    const DagRun run = make_run("d", "r");
    auto created = store_->create_run(run, {make_task(run, "a"), make_task(run, "a")});
    ASSERT_FALSE(created);
    EXPECT_NE(created.error().message.find(backend_->unique_violation()), std::string::npos)
        << created.error().message;
    auto got = store_->get_run("d", "r");
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->has_value());
    EXPECT_TRUE(store_->task_instances("d", "r").value().empty());
    // And the store is usable afterwards (no transaction left open).
    EXPECT_TRUE(store_->create_run(run, {make_task(run, "a")}));
}

TEST_P(StoreTest, MissingRunAndTaskAreNullopt) {
    auto run = store_->get_run("d", "nope");
    ASSERT_TRUE(run);
    EXPECT_FALSE(run->has_value());
    auto task = store_->get_task_instance("d", "nope", "t");
    ASSERT_TRUE(task);
    EXPECT_FALSE(task->has_value());
    auto tasks = store_->task_instances("d", "nope");
    ASSERT_TRUE(tasks);
    EXPECT_TRUE(tasks->empty());
}

// --- commit -----------------------------------------------------------------------------------

TEST_P(StoreTest, CommitUpsertsRunsTasksAndTries) {
    const DagRun created = create(make_run("d", "r"), {make_task(make_run("d", "r"), "a")});

    DagRun run = created;
    run.id = 0;  // the store keeps the row's id whatever the caller sends
    run.state = RunState::kRunning;
    run.start_date = kT0 + 5;
    run.note = "started";
    TaskInstance a = make_task(run, "a", TaskState::kRunning);
    a.try_number = 1;
    a.hostname = "h";
    TaskInstance b = make_task(run, "b", TaskState::kScheduled);  // new
    TaskTry first = make_try(a, 1, TaskState::kRunning);
    commit(Changes{.runs = {run}, .tasks = {a, b}, .tries = {first}});

    auto got = store_->get_run("d", "r");
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->id, created.id);
    expect_same_run(**got, run);
    auto tasks = store_->task_instances("d", "r");
    ASSERT_TRUE(tasks);
    ASSERT_EQ(tasks->size(), 2U);
    expect_same_task((*tasks)[0], a);
    expect_same_task((*tasks)[1], b);

    // Update the try and the task; a second commit on the same keys replaces, never duplicates.
    first.state = TaskState::kFailed;
    first.end_date = kT0 + 9;
    first.error = "HTTP 500";
    a.state = TaskState::kUpForRetry;
    a.next_try_at = kT0 + 60'000;
    commit(Changes{.runs = {}, .tasks = {a}, .tries = {first}});
    auto tries = store_->tries("d", "r", "a");
    ASSERT_TRUE(tries);
    ASSERT_EQ(tries->size(), 1U);
    expect_same_try(tries->front(), first);
    auto stored = task("d", "r", "a");
    ASSERT_TRUE(stored);
    expect_same_task(*stored, a);
}

TEST_P(StoreTest, CommitCanCreateARunItsTasksAndTriesTogether) {
    const DagRun run = make_run("d", "r", kT0, RunState::kRunning);
    const TaskInstance t = make_task(run, "t", TaskState::kRunning);
    commit(Changes{.runs = {run}, .tasks = {t}, .tries = {make_try(t, 1, TaskState::kRunning)}});
    auto got = store_->get_run("d", "r");
    ASSERT_TRUE(got && got->has_value());
    EXPECT_GT((*got)->id, 0);
    EXPECT_EQ(store_->tries("d", "r", "t").value().size(), 1U);
}

TEST_P(StoreTest, EmptyCommitSucceeds) { EXPECT_TRUE(store_->commit(Changes{})); }

TEST_P(StoreTest, FailedCommitRollsBackTheWholeBatch) {
    const DagRun run = create(make_run("d", "r"), {make_task(make_run("d", "r"), "a")});

    DagRun moved = run;
    moved.state = RunState::kRunning;
    TaskInstance a = make_task(run, "a", TaskState::kQueued);
    TaskInstance fresh = make_task(run, "new", TaskState::kScheduled);
    TaskInstance orphan = make_task(make_run("d", "no-such-run"), "x", TaskState::kQueued);
    auto committed =
        store_->commit(Changes{.runs = {moved}, .tasks = {a, fresh, orphan}, .tries = {}});
    ASSERT_FALSE(committed);
    EXPECT_EQ(committed.error().code, ErrorCode::kConflict);
    EXPECT_NE(committed.error().message.find(backend_->foreign_key_violation()),
              std::string::npos)
        << committed.error().message;
    EXPECT_NE(committed.error().message.find("no-such-run"), std::string::npos)
        << committed.error().message;

    auto got = store_->get_run("d", "r");
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->state, RunState::kQueued);
    auto stored = task("d", "r", "a");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->state, TaskState::kNone);
    EXPECT_FALSE(task("d", "r", "new").has_value());

    // A try of a task instance that does not exist fails too, undoing the task update before it.
    commit(Changes{});
    const TaskTry ghost = make_try(make_task(run, "ghost"), 1, TaskState::kRunning);
    auto bad_try = store_->commit(Changes{.runs = {}, .tasks = {a}, .tries = {ghost}});
    ASSERT_FALSE(bad_try);
    stored = task("d", "r", "a");
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->state, TaskState::kNone);

    // The store is usable afterwards: no transaction was left open.
    commit(Changes{.runs = {moved}, .tasks = {a}, .tries = {}});
    EXPECT_EQ(task("d", "r", "a")->state, TaskState::kQueued);
}

TEST_P(StoreTest, ALaterRecordOfTheSameKeyInOneBatchWins) {
    const DagRun run = create(make_run("d", "r"), {make_task(make_run("d", "r"), "a")});
    DagRun running = run;
    running.state = RunState::kRunning;
    DagRun done = run;
    done.state = RunState::kSuccess;
    TaskInstance queued = make_task(run, "a", TaskState::kQueued);
    TaskInstance started = make_task(run, "a", TaskState::kRunning);
    started.try_number = 1;
    TaskTry first = make_try(started, 1, TaskState::kRunning);
    first.rendered_json = R"({"kind":"http"})";
    TaskTry ended = first;
    ended.rendered_json.clear();
    ended.state = TaskState::kSuccess;
    commit(Changes{.runs = {running, done}, .tasks = {queued, started}, .tries = {first, ended}});
    EXPECT_EQ(store_->get_run("d", "r").value()->state, RunState::kSuccess);
    EXPECT_EQ(task("d", "r", "a")->state, TaskState::kRunning);
    auto tries = store_->tries("d", "r", "a");
    ASSERT_TRUE(tries) << tries.error().message;
    ASSERT_EQ(tries->size(), 1U);
    EXPECT_EQ((*tries)[0].state, TaskState::kSuccess);
    EXPECT_EQ((*tries)[0].rendered_json, R"({"kind":"http"})");
}

TEST_P(StoreTest, AwkwardTextRoundTripsThroughEveryWrite) {
    // Quotes, backslashes, braces, commas, the word NULL, non-ASCII and control characters:
    // what a hostile conf or id may hold.
    const std::vector<std::string> texts = {
        R"(a "quoted" {brace}, comma)", R"(back\slash " \)", "NULL", "", "olá, mundo ✓",
        "tab\tnew\nline", R"({"k": [1, "{x}"]})", "'; DROP TABLE dag_runs; --"};
    int n = 0;
    for (const std::string& text : texts) {
        DagRun run = make_run("d" + text, "r" + text);
        run.conf_json = text;
        run.note = text;
        TaskInstance t = make_task(run, "t" + text, TaskState::kRunning);
        t.output_json = text;
        t.hostname = text;
        create(run, {make_task(run, "t" + text)});
        TaskTry attempt = make_try(t, 1, TaskState::kRunning);
        attempt.error = text;
        attempt.output_json = text;
        attempt.rendered_json = text;
        run.state = RunState::kRunning;
        commit(Changes{.runs = {run}, .tasks = {t}, .tries = {attempt}});

        auto got = store_->get_run(run.dag_id, run.run_id);
        ASSERT_TRUE(got && got->has_value()) << text;
        EXPECT_EQ((*got)->conf_json, text);
        EXPECT_EQ((*got)->note, text);
        EXPECT_EQ((*got)->state, RunState::kRunning);
        auto stored = task(run.dag_id, run.run_id, t.task_id);
        ASSERT_TRUE(stored) << text;
        EXPECT_EQ(stored->output_json, std::optional<std::string>(text));
        EXPECT_EQ(stored->hostname, text);
        auto tries = store_->tries(run.dag_id, run.run_id, t.task_id);
        ASSERT_TRUE(tries && tries->size() == 1U) << text;
        EXPECT_EQ((*tries)[0].error, text);
        EXPECT_EQ((*tries)[0].output_json, std::optional<std::string>(text));
        EXPECT_EQ((*tries)[0].rendered_json, text.empty() ? "" : text);
        ++n;
    }
    EXPECT_EQ(backend_->integer("SELECT COUNT(*) FROM dag_runs"), n);
}

TEST_P(StoreTest, TriesRoundTripEveryFieldInTryOrder) {
    const DagRun run = create(make_run("d", "r"), {make_task(make_run("d", "r"), "t")});
    const TaskInstance t = make_task(run, "t", TaskState::kSuccess);
    TaskTry second = make_try(t, 2, TaskState::kSuccess);
    second.end_date = kT0 + 500;
    second.hostname = "worker-2";
    second.served_by = "servico_mensagens:10.0.0.9:8082";
    second.error = "";
    second.output_json = R"({"ok": true})";
    TaskTry first = make_try(t, 1, TaskState::kFailed);
    first.end_date = kT0 + 100;
    first.hostname = "worker-1";
    first.served_by = "servico_mensagens:10.0.0.8:8082";
    first.error = "connection refused";
    first.output_json.reset();
    commit(Changes{.runs = {}, .tasks = {t}, .tries = {second, first}});

    auto tries = store_->tries("d", "r", "t");
    ASSERT_TRUE(tries) << tries.error().message;
    ASSERT_EQ(tries->size(), 2U);
    expect_same_try((*tries)[0], first);
    expect_same_try((*tries)[1], second);
    EXPECT_TRUE(store_->tries("d", "r", "other").value().empty());
}

// --- listing ----------------------------------------------------------------------------------

class ListRunsTest : public StoreTest {
protected:
    void SetUp() override {
        StoreTest::SetUp();
        // id order: a1 a2 a3 b1 b2
        add("a", "a1", kT0 + 300, RunState::kSuccess, kT0 + 310, kT0 + 320);
        add("a", "a2", kT0 + 100, RunState::kRunning, kT0 + 110, std::nullopt);
        add("a", "a3", kT0 + 200, RunState::kFailed, kT0 + 210, kT0 + 220);
        add("b", "b1", kT0 + 150, RunState::kQueued, std::nullopt, std::nullopt);
        add("b", "b2", kT0 + 250, RunState::kSuccess, kT0 + 260, kT0 + 270);
    }

    void add(const std::string& dag, const std::string& id, Millis logical, RunState state,
             std::optional<Millis> start, std::optional<Millis> end) {
        DagRun run = make_run(dag, id, logical, state);
        run.start_date = start;
        run.end_date = end;
        create(run);
    }

    std::vector<std::string> ids(RunFilter filter) { return run_ids(list(filter)); }
};

INSTANTIATE_TEST_SUITE_P(Sqlite, ListRunsTest, ::testing::Values(BackendKind::kSqlite), kind_name);
INSTANTIATE_TEST_SUITE_P(Postgres, ListRunsTest, ::testing::Values(BackendKind::kPostgres),
                         kind_name);

using Ids = std::vector<std::string>;

TEST_P(ListRunsTest, EveryDagWhenDagIdIsUnset) {
    EXPECT_EQ(ids(RunFilter{}), (Ids{"a1", "a2", "a3", "b1", "b2"}));
    auto page = store_->list_runs(RunFilter{});
    ASSERT_TRUE(page);
    EXPECT_EQ(page->total, 5);
}

TEST_P(ListRunsTest, FiltersByDag) {
    RunFilter filter;
    filter.dag_id = "b";
    EXPECT_EQ(ids(filter), (Ids{"b1", "b2"}));
    filter.dag_id = "nope";
    EXPECT_EQ(ids(filter), Ids{});
}

TEST_P(ListRunsTest, FiltersByStates) {
    RunFilter filter;
    filter.states = {RunState::kSuccess};
    EXPECT_EQ(ids(filter), (Ids{"a1", "b2"}));
    filter.states = {RunState::kQueued, RunState::kRunning};
    EXPECT_EQ(ids(filter), (Ids{"a2", "b1"}));
    filter.dag_id = "a";
    EXPECT_EQ(ids(filter), (Ids{"a2"}));
}

TEST_P(ListRunsTest, FiltersByLogicalDate) {
    RunFilter filter;
    filter.logical_date_gte = kT0 + 150;
    EXPECT_EQ(ids(filter), (Ids{"a1", "a3", "b1", "b2"}));
    filter.logical_date_lte = kT0 + 250;
    EXPECT_EQ(ids(filter), (Ids{"a3", "b1", "b2"}));
    filter.logical_date_gte.reset();
    EXPECT_EQ(ids(filter), (Ids{"a2", "a3", "b1", "b2"}));
}

TEST_P(ListRunsTest, FiltersByStartDate) {
    RunFilter filter;
    filter.start_date_gte = kT0 + 210;  // runs never started are excluded
    EXPECT_EQ(ids(filter), (Ids{"a1", "a3", "b2"}));
    filter.start_date_lte = kT0 + 260;
    EXPECT_EQ(ids(filter), (Ids{"a3", "b2"}));
    filter.start_date_gte.reset();
    EXPECT_EQ(ids(filter), (Ids{"a2", "a3", "b2"}));
}

TEST_P(ListRunsTest, FiltersByEndDate) {
    RunFilter filter;
    filter.end_date_gte = kT0 + 270;
    EXPECT_EQ(ids(filter), (Ids{"a1", "b2"}));
    filter.end_date_gte.reset();
    filter.end_date_lte = kT0 + 270;
    EXPECT_EQ(ids(filter), (Ids{"a3", "b2"}));
}

TEST_P(ListRunsTest, OrdersAscendingAndDescending) {
    RunFilter filter;
    filter.order_by = "logical_date";
    EXPECT_EQ(ids(filter), (Ids{"a2", "b1", "a3", "b2", "a1"}));
    filter.order_by = "-logical_date";
    EXPECT_EQ(ids(filter), (Ids{"a1", "b2", "a3", "b1", "a2"}));
    filter.order_by = "execution_date";  // Airflow's older name for the same column
    EXPECT_EQ(ids(filter), (Ids{"a2", "b1", "a3", "b2", "a1"}));
    filter.order_by = "-id";
    EXPECT_EQ(ids(filter), (Ids{"b2", "b1", "a3", "a2", "a1"}));
    filter.order_by = "id";
    EXPECT_EQ(ids(filter), (Ids{"a1", "a2", "a3", "b1", "b2"}));
    filter.order_by = "-run_id";
    EXPECT_EQ(ids(filter), (Ids{"b2", "b1", "a3", "a2", "a1"}));
    filter.order_by = "state";  // failed, queued, running, success; ties by id
    EXPECT_EQ(ids(filter), (Ids{"a3", "b1", "a2", "a1", "b2"}));
    filter.order_by = "-end_date";  // NULLs sort lowest in SQLite
    EXPECT_EQ(ids(filter), (Ids{"a1", "b2", "a3", "b1", "a2"}));
    filter.order_by = "start_date";
    EXPECT_EQ(ids(filter), (Ids{"b1", "a2", "a3", "b2", "a1"}));
    filter.order_by = "-queued_at";
    EXPECT_EQ(ids(filter), (Ids{"a1", "b2", "a3", "b1", "a2"}));
    filter.order_by = "-dag_id";
    EXPECT_EQ(ids(filter), (Ids{"b2", "b1", "a3", "a2", "a1"}));
}

TEST_P(ListRunsTest, UnknownOrderByIsInvalidArgumentNamingIt) {
    for (const char* bad : {"conf", "nope", "-", "--id", "id desc", "ID",
                            "id; DROP TABLE dag_runs", "logical_date)--"}) {
        RunFilter filter;
        filter.order_by = bad;
        auto page = store_->list_runs(filter);
        ASSERT_FALSE(page) << bad;
        EXPECT_EQ(page.error().code, ErrorCode::kInvalidArgument) << bad;
        EXPECT_NE(page.error().message.find(std::string("'") + bad + "'"), std::string::npos)
            << page.error().message;
    }
    EXPECT_EQ(ids(RunFilter{}).size(), 5U);  // nothing was dropped
}

TEST_P(ListRunsTest, PagesWithTheTotalOfEveryMatch) {
    RunFilter filter;
    filter.limit = 2;
    filter.order_by = "logical_date";
    auto page = store_->list_runs(filter);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->total, 5);
    EXPECT_EQ(run_ids(page->items), (Ids{"a2", "b1"}));
    filter.offset = 2;
    EXPECT_EQ(ids(filter), (Ids{"a3", "b2"}));
    filter.offset = 4;
    EXPECT_EQ(ids(filter), (Ids{"a1"}));
    filter.offset = 10;
    page = store_->list_runs(filter);
    ASSERT_TRUE(page);
    EXPECT_TRUE(page->items.empty());
    EXPECT_EQ(page->total, 5);

    filter = RunFilter{};
    filter.dag_id = "a";
    filter.limit = 0;  // only the count
    page = store_->list_runs(filter);
    ASSERT_TRUE(page);
    EXPECT_TRUE(page->items.empty());
    EXPECT_EQ(page->total, 3);
}

TEST_P(ListRunsTest, BadLimitOrOffsetIsInvalidArgument) {
    for (auto [limit, offset] : {std::pair{-1, 0}, std::pair{1001, 0}, std::pair{10, -1}}) {
        RunFilter filter;
        filter.limit = limit;
        filter.offset = offset;
        auto page = store_->list_runs(filter);
        ASSERT_FALSE(page) << limit << " " << offset;
        EXPECT_EQ(page.error().code, ErrorCode::kInvalidArgument);
    }
    RunFilter largest;
    largest.limit = 1000;
    EXPECT_TRUE(store_->list_runs(largest));
}

TEST_P(ListRunsTest, UnfinishedRunsAreQueuedOrRunningOldestFirst) {
    auto runs = store_->unfinished_runs();
    ASSERT_TRUE(runs);
    EXPECT_EQ(run_ids(*runs), (Ids{"a2", "b1"}));

    DagRun a2 = store_->get_run("a", "a2").value().value();
    a2.state = RunState::kSuccess;
    DagRun a1 = store_->get_run("a", "a1").value().value();
    a1.state = RunState::kRunning;  // moved back (cleared): id order, not update order
    commit(Changes{.runs = {a2, a1}, .tasks = {}, .tries = {}});
    runs = store_->unfinished_runs();
    ASSERT_TRUE(runs);
    EXPECT_EQ(run_ids(*runs), (Ids{"a1", "b1"}));
}

TEST_P(StoreTest, ListTaskInstancesFiltersAndPages) {
    const DagRun r1 = make_run("a", "r1");
    const DagRun r2 = make_run("a", "r2");
    const DagRun r3 = make_run("b", "r1");
    create(r1, {make_task(r1, "y", TaskState::kSuccess), make_task(r1, "x", TaskState::kRunning)});
    create(r2, {make_task(r2, "x", TaskState::kFailed)});
    create(r3, {make_task(r3, "z", TaskState::kRunning)});

    auto all = store_->list_task_instances(TaskFilter{});
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_EQ(all->total, 4);
    ASSERT_EQ(all->items.size(), 4U);
    // Ordered by dag_id, run_id, task_id.
    EXPECT_EQ(all->items[0].run_id + "." + all->items[0].task_id, "r1.x");
    EXPECT_EQ(all->items[1].run_id + "." + all->items[1].task_id, "r1.y");
    EXPECT_EQ(all->items[2].run_id + "." + all->items[2].task_id, "r2.x");
    EXPECT_EQ(all->items[3].dag_id + "." + all->items[3].task_id, "b.z");

    TaskFilter filter;
    filter.dag_id = "a";
    filter.run_id = "r1";
    auto page = store_->list_task_instances(filter);
    ASSERT_TRUE(page);
    EXPECT_EQ(task_ids(page->items), (std::vector<std::string>{"x", "y"}));

    filter = TaskFilter{};
    filter.run_id = "r1";  // across DAGs
    filter.states = {TaskState::kRunning};
    page = store_->list_task_instances(filter);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->total, 2);
    EXPECT_EQ(task_ids(page->items), (std::vector<std::string>{"x", "z"}));

    filter = TaskFilter{};
    filter.limit = 1;
    filter.offset = 1;
    page = store_->list_task_instances(filter);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->total, 4);
    EXPECT_EQ(task_ids(page->items), (std::vector<std::string>{"y"}));

    filter.limit = 1001;
    page = store_->list_task_instances(filter);
    ASSERT_FALSE(page);
    EXPECT_EQ(page.error().code, ErrorCode::kInvalidArgument);
    filter.limit = 10;
    filter.offset = -1;
    EXPECT_FALSE(store_->list_task_instances(filter));
}

// --- deleting -----------------------------------------------------------------------------------

TEST_P(StoreTest, DeleteRunCascadesToTaskInstancesAndTries) {
    const DagRun keep = make_run("d", "keep");
    const DagRun gone = make_run("d", "gone");
    create(keep, {make_task(keep, "t")});
    create(gone, {make_task(gone, "t"), make_task(gone, "u")});
    const TaskInstance t = make_task(gone, "t", TaskState::kFailed);
    commit(Changes{.runs = {},
                   .tasks = {t},
                   .tries = {make_try(t, 1, TaskState::kFailed),
                             make_try(make_task(keep, "t"), 1, TaskState::kRunning)}});

    ASSERT_TRUE(store_->delete_run("d", "gone"));

    auto got = store_->get_run("d", "gone");
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->has_value());
    EXPECT_TRUE(store_->task_instances("d", "gone").value().empty());
    EXPECT_TRUE(store_->tries("d", "gone", "t").value().empty());
    EXPECT_EQ(backend_->integer("SELECT COUNT(*) FROM task_instances WHERE run_id = 'gone'"), 0);
    EXPECT_EQ(backend_->integer("SELECT COUNT(*) FROM task_tries WHERE run_id = 'gone'"), 0);
    // The other run is untouched.
    EXPECT_EQ(store_->task_instances("d", "keep").value().size(), 1U);
    EXPECT_EQ(store_->tries("d", "keep", "t").value().size(), 1U);

    // The run id is free again.
    EXPECT_TRUE(store_->create_run(gone, {}));
}

TEST_P(StoreTest, DeleteOfAMissingRunIsNotFound) {
    create(make_run("d", "r"));
    auto deleted = store_->delete_run("d", "other");
    ASSERT_FALSE(deleted);
    EXPECT_EQ(deleted.error().code, ErrorCode::kNotFound);
    deleted = store_->delete_run("e", "r");
    ASSERT_FALSE(deleted);
    EXPECT_EQ(deleted.error().code, ErrorCode::kNotFound);
    EXPECT_TRUE(store_->get_run("d", "r").value().has_value());
}

// --- import errors ------------------------------------------------------------------------------

TEST_P(StoreTest, ImportErrorsAreReplacedWholesale) {
    auto none = store_->import_errors();
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());

    ImportError a{.id = 0, .filename = "/dags/a.yaml", .message = "cycle: x -> y -> x",
                  .timestamp = kT0};
    ImportError b{.id = 0, .filename = "/dags/b.yaml", .message = "unknown upstream 'q'",
                  .timestamp = kT0 + 1};
    ASSERT_TRUE(store_->replace_import_errors({a, b}));
    auto first = store_->import_errors();
    ASSERT_TRUE(first);
    ASSERT_EQ(first->size(), 2U);
    EXPECT_EQ((*first)[0].filename, a.filename);
    EXPECT_EQ((*first)[0].message, a.message);
    EXPECT_EQ((*first)[0].timestamp, a.timestamp);
    EXPECT_EQ((*first)[1].filename, b.filename);
    EXPECT_GT((*first)[0].id, 0);

    ImportError c{.id = 0, .filename = "/dags/c.yaml", .message = "bad cron", .timestamp = kT0 + 2};
    ASSERT_TRUE(store_->replace_import_errors({c}));
    auto second = store_->import_errors();
    ASSERT_TRUE(second);
    ASSERT_EQ(second->size(), 1U);
    EXPECT_EQ(second->front().filename, "/dags/c.yaml");
    EXPECT_GT(second->front().id, (*first)[1].id);  // ids are not reused

    ASSERT_TRUE(store_->replace_import_errors({}));
    EXPECT_TRUE(store_->import_errors().value().empty());
}

// --- concurrency and speed ------------------------------------------------------------------

class ConcurrentCommitTest : public StoreFixture,
                             public ::testing::WithParamInterface<std::tuple<BackendKind, int>> {
protected:
    BackendKind kind() const override { return std::get<0>(GetParam()); }
};

TEST_P(ConcurrentCommitTest, NoWriteIsLost) {
    const int threads = std::get<1>(GetParam());
    constexpr int kTasksPerThread = 50;
    const DagRun run = make_run("d", "r", kT0, RunState::kRunning);
    std::vector<TaskInstance> tasks;
    for (int i = 0; i < threads; ++i) {
        for (int j = 0; j < kTasksPerThread; ++j) {
            tasks.push_back(make_task(run, "t" + std::to_string(i) + "_" + std::to_string(j)));
        }
    }
    create(run, tasks);

    std::vector<int> failures(static_cast<std::size_t>(threads), 0);
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
        workers.emplace_back([&, i] {
            for (int j = 0; j < kTasksPerThread; ++j) {
                TaskInstance task =
                    make_task(run, "t" + std::to_string(i) + "_" + std::to_string(j),
                              TaskState::kRunning);
                task.try_number = 1;
                if (!store_->commit(Changes{.runs = {},
                                            .tasks = {task},
                                            .tries = {make_try(task, 1, TaskState::kRunning)}})) {
                    ++failures[static_cast<std::size_t>(i)];
                }
                task.state = TaskState::kSuccess;
                TaskTry done = make_try(task, 1, TaskState::kSuccess);
                done.end_date = kT0 + j;
                if (!store_->commit(Changes{.runs = {}, .tasks = {task}, .tries = {done}})) {
                    ++failures[static_cast<std::size_t>(i)];
                }
                // Reads interleave with other threads' writes.
                auto read = store_->get_task_instance(task.dag_id, task.run_id, task.task_id);
                if (!read || !read->has_value() || (*read)->state != TaskState::kSuccess) {
                    ++failures[static_cast<std::size_t>(i)];
                }
            }
        });
    }
    for (auto& worker : workers) worker.join();

    for (int i = 0; i < threads; ++i) EXPECT_EQ(failures[static_cast<std::size_t>(i)], 0) << i;
    auto stored = store_->task_instances("d", "r");
    ASSERT_TRUE(stored);
    ASSERT_EQ(stored->size(), tasks.size());
    for (const auto& task : *stored) {
        EXPECT_EQ(task.state, TaskState::kSuccess) << task.task_id;
        EXPECT_EQ(task.try_number, 1) << task.task_id;
    }
    EXPECT_EQ(backend_->integer("SELECT COUNT(*) FROM task_tries WHERE state = 'success'"),
              static_cast<std::int64_t>(tasks.size()));
}

std::string kind_and_threads(const ::testing::TestParamInfo<std::tuple<BackendKind, int>>& info) {
    return fmt::format("{}_{}_threads", backend_name(std::get<0>(info.param)),
                       std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, ConcurrentCommitTest,
                         ::testing::Combine(::testing::Values(BackendKind::kSqlite),
                                            ::testing::Values(1, 2, 4)),
                         kind_and_threads);
INSTANTIATE_TEST_SUITE_P(Postgres, ConcurrentCommitTest,
                         ::testing::Combine(::testing::Values(BackendKind::kPostgres),
                                            ::testing::Values(1, 2, 4)),
                         kind_and_threads);

// Not a benchmark: a generous bound that catches a lost statement cache or an fsync per commit.
// A 1,000-task chain needs about 2,000 such commits: under 1.5 s on SQLite, under 4 s on
// PostgreSQL (a few round trips per commit to a local server).
TEST_P(StoreTest, TwoThousandSmallCommitsAreFast) {
    const int bound_ms = GetParam() == BackendKind::kSqlite ? 1500 : 4000;
    constexpr int kTasks = 1000;
    const DagRun run = make_run("chain", "r", kT0, RunState::kRunning);
    std::vector<TaskInstance> tasks;
    for (int i = 0; i < kTasks; ++i) tasks.push_back(make_task(run, "t" + std::to_string(i)));
    create(run, tasks);

    int failures = 0;
    const auto start = std::chrono::steady_clock::now();
    for (TaskInstance& task : tasks) {
        task.state = TaskState::kRunning;
        task.try_number = 1;
        TaskTry attempt = make_try(task, 1, TaskState::kRunning);
        if (!store_->commit(Changes{.runs = {}, .tasks = {task}, .tries = {attempt}})) ++failures;
        task.state = TaskState::kSuccess;
        attempt.state = TaskState::kSuccess;
        attempt.end_date = kT0 + 1;
        if (!store_->commit(Changes{.runs = {}, .tasks = {task}, .tries = {attempt}})) ++failures;
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);

    std::cout << "[ timing ] 2000 commits on " << backend_name(GetParam()) << " took "
              << elapsed.count() << " ms\n";
    RecordProperty("commit_2000_ms", static_cast<int>(elapsed.count()));
    EXPECT_EQ(failures, 0);
    EXPECT_LT(elapsed.count(), bound_ms);
    TaskFilter filter;
    filter.dag_id = "chain";
    filter.run_id = "r";
    filter.states = {TaskState::kSuccess};
    filter.limit = 0;
    auto done = store_->list_task_instances(filter);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->total, kTasks);
}

}  // namespace
}  // namespace orquestra::store

// --- users --------------------------------------------------------------------------------------

namespace orquestra::store {
namespace {

User make_user(std::string username, std::string role = "Viewer") {
    User user;
    user.id = 999;  // ignored: the store assigns ids
    user.username = std::move(username);
    user.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
    user.role = std::move(role);
    user.email = user.username + "@example.com";
    user.first_name = "Ana";
    user.last_name = "Souza";
    user.created_at = kT0;
    return user;
}

TEST_P(StoreTest, CreatedUserIsReadBackWithEveryField) {
    auto created = store_->create_user(make_user("ana", "Admin"));
    ASSERT_TRUE(created) << created.error().message;
    EXPECT_GT(created->id, 0);
    EXPECT_NE(created->id, 999);

    auto got = store_->get_user("ana");
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_TRUE(got->has_value());
    const User& user = **got;
    EXPECT_EQ(user.id, created->id);
    EXPECT_EQ(user.username, "ana");
    EXPECT_EQ(user.password_hash, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
    EXPECT_EQ(user.role, "Admin");
    EXPECT_EQ(user.email, "ana@example.com");
    EXPECT_EQ(user.first_name, "Ana");
    EXPECT_EQ(user.last_name, "Souza");
    EXPECT_EQ(user.created_at, kT0);

    // It survives closing and opening the file.
    reopen();
    auto again = store_->get_user("ana");
    ASSERT_TRUE(again);
    ASSERT_TRUE(again->has_value());
    EXPECT_EQ((*again)->role, "Admin");
}

TEST_P(StoreTest, DuplicateUsernameIsConflictAndKeepsTheFirstUser) {
    ASSERT_TRUE(store_->create_user(make_user("ana", "Admin")));
    auto second = store_->create_user(make_user("ana", "Viewer"));
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, ErrorCode::kConflict);
    EXPECT_NE(second.error().message.find("ana"), std::string::npos) << second.error().message;
    EXPECT_EQ(store_->get_user("ana").value()->role, "Admin");
    EXPECT_EQ(store_->list_users().value().size(), 1U);
}

TEST_P(StoreTest, UnknownUserIsEmptyNotAnError) {
    ASSERT_TRUE(store_->create_user(make_user("ana")));
    auto got = store_->get_user("Ana");  // usernames are case-sensitive
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_FALSE(got->has_value());
}

TEST_P(StoreTest, UsersAreListedByUsername) {
    ASSERT_TRUE(store_->create_user(make_user("zeca")));
    ASSERT_TRUE(store_->create_user(make_user("ana")));
    ASSERT_TRUE(store_->create_user(make_user("mia", "Op")));
    auto users = store_->list_users();
    ASSERT_TRUE(users) << users.error().message;
    ASSERT_EQ(users->size(), 3U);
    EXPECT_EQ((*users)[0].username, "ana");
    EXPECT_EQ((*users)[1].username, "mia");
    EXPECT_EQ((*users)[1].role, "Op");
    EXPECT_EQ((*users)[2].username, "zeca");
}

TEST_P(StoreTest, DeleteUserRemovesOnlyThatUserAndMissingIsNotFound) {
    ASSERT_TRUE(store_->create_user(make_user("ana")));
    ASSERT_TRUE(store_->create_user(make_user("bia")));
    ASSERT_TRUE(store_->delete_user("ana"));
    EXPECT_FALSE(store_->get_user("ana").value().has_value());
    EXPECT_TRUE(store_->get_user("bia").value().has_value());

    auto again = store_->delete_user("ana");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kNotFound);

    // The username is free again.
    EXPECT_TRUE(store_->create_user(make_user("ana")));
}

// --- reads for the console ---------------------------------------------------------------

TEST_P(StoreTest, TaskInstancesOfSeveralRunsComeInOneCall) {
    for (const char* id : {"r1", "r2", "r3"}) {
        const DagRun run = make_run("d", id);
        create(run, {make_task(run, "b"), make_task(run, "a")});
    }
    create(make_run("other", "r1"), {make_task(make_run("other", "r1"), "z")});
    auto tis = store_->task_instances_of_runs("d", {"r3", "r1", "missing"});
    ASSERT_TRUE(tis) << tis.error().message;
    ASSERT_EQ(tis->size(), 4U);
    EXPECT_EQ((*tis)[0].run_id, "r1");
    EXPECT_EQ((*tis)[0].task_id, "a");
    EXPECT_EQ((*tis)[1].task_id, "b");
    EXPECT_EQ((*tis)[2].run_id, "r3");
    EXPECT_TRUE(store_->task_instances_of_runs("d", {})->empty());
    EXPECT_FALSE(store_->task_instances_of_runs("d", std::vector<std::string>(1001, "r")));
}

TEST_P(StoreTest, RunsAreCountedByDagAndState) {
    create(make_run("d", "r1"));
    create(make_run("d", "r2"));
    DagRun failed = make_run("e", "r1");
    failed.state = RunState::kFailed;
    create(failed);
    auto counts = store_->count_runs();
    ASSERT_TRUE(counts) << counts.error().message;
    std::map<std::pair<std::string, RunState>, std::int64_t> got;
    for (const auto& c : *counts) got[{c.dag_id, c.state}] = c.count;
    EXPECT_EQ(got.size(), 2U);
    EXPECT_EQ((got[{"d", RunState::kQueued}]), 2);
    EXPECT_EQ((got[{"e", RunState::kFailed}]), 1);
}

TEST_P(StoreTest, AReadOnlyStoreSeesCommitsAndRefusesWrites) {
    StoreOptions options;
    options.read_only = true;
    auto reader = backend_->open(options);
    ASSERT_TRUE(reader) << reader.error().message;
    create(make_run("d", "r1"));
    auto seen = (*reader)->get_run("d", "r1");
    ASSERT_TRUE(seen) << seen.error().message;
    EXPECT_TRUE(seen->has_value());
    auto refused = (*reader)->create_run(make_run("d", "r2"), {});
    EXPECT_FALSE(refused);
    EXPECT_FALSE((*reader)->check_writable());
    EXPECT_FALSE(store_->get_run("d", "r2")->has_value());
    EXPECT_TRUE(store_->check_writable());
}

TEST_P(StoreTest, ATrysRenderedRequestSurvivesTheRecordOfItsEnd) {
    const DagRun run = make_run("d", "r");
    create(run, {make_task(run, "a")});
    TaskTry started;
    started.dag_id = "d";
    started.run_id = "r";
    started.task_id = "a";
    started.try_number = 1;
    started.start_date = kT0;
    started.rendered_json = R"({"kind":"command"})";
    commit(Changes{{}, {}, {started}});
    TaskTry ended = started;
    ended.rendered_json.clear();
    ended.state = TaskState::kSuccess;
    ended.end_date = kT0 + 5;
    commit(Changes{{}, {}, {ended}});
    auto tries = store_->tries("d", "r", "a");
    ASSERT_TRUE(tries) << tries.error().message;
    ASSERT_EQ(tries->size(), 1U);
    EXPECT_EQ((*tries)[0].state, TaskState::kSuccess);
    EXPECT_EQ((*tries)[0].rendered_json, R"({"kind":"command"})");
}

}  // namespace
}  // namespace orquestra::store

// --- users updated, the audit log ----------------------------------------------------------------

namespace orquestra::store {
namespace {

TEST_P(StoreTest, UpdateUserReplacesItsFieldsAndMissingIsNotFound) {
    User ana;
    ana.username = "ana";
    ana.password_hash = "old";
    ana.role = "Viewer";
    ana.created_at = kT0;
    auto created = store_->create_user(ana);
    ASSERT_TRUE(created) << created.error().message;
    User changed = ana;
    changed.password_hash = "new";
    changed.role = "Op";
    changed.email = "ana@example.com";
    changed.first_name = "Ana";
    changed.last_name = "Lima";
    changed.created_at = kT0 + 99;  // kept as it was
    ASSERT_TRUE(store_->update_user(changed));
    auto got = store_->get_user("ana").value();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->id, created->id);
    EXPECT_EQ(got->password_hash, "new");
    EXPECT_EQ(got->role, "Op");
    EXPECT_EQ(got->email, "ana@example.com");
    EXPECT_EQ(got->last_name, "Lima");
    EXPECT_EQ(got->created_at, kT0);

    changed.username = "ghost";
    auto missing = store_->update_user(changed);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

EventLog make_event(Millis when, std::string event, std::string dag_id, std::string owner) {
    EventLog e;
    e.id = 999;  // ignored
    e.when = when;
    e.event = std::move(event);
    e.dag_id = std::move(dag_id);
    e.owner = std::move(owner);
    e.run_id = e.dag_id.empty() ? "" : "r1";
    e.task_id = "";
    e.extra = R"({"why":"it's \"quoted\" — ünïcode"})";
    return e;
}

TEST_P(StoreTest, EventLogsRoundTripEveryFieldWithIncreasingIds) {
    auto first = store_->add_event_log(make_event(kT0, "trigger", "d", "ana"));
    ASSERT_TRUE(first) << first.error().message;
    auto second = store_->add_event_log(make_event(kT0 + 1, "clear", "d", "bia"));
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_GT(first->id, 0);
    EXPECT_NE(first->id, 999);
    EXPECT_GT(second->id, first->id);

    reopen();
    auto got = store_->get_event_log(first->id);
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->when, kT0);
    EXPECT_EQ((*got)->event, "trigger");
    EXPECT_EQ((*got)->owner, "ana");
    EXPECT_EQ((*got)->dag_id, "d");
    EXPECT_EQ((*got)->run_id, "r1");
    EXPECT_EQ((*got)->task_id, "");
    EXPECT_EQ((*got)->extra, R"({"why":"it's \"quoted\" — ünïcode"})");
    auto none = store_->get_event_log(second->id + 100);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
}

TEST_P(StoreTest, EventLogsFilterOrderAndPage) {
    ASSERT_TRUE(store_->add_event_log(make_event(kT0, "trigger", "a", "ana")));
    ASSERT_TRUE(store_->add_event_log(make_event(kT0 + 10, "pause", "a", "bia")));
    ASSERT_TRUE(store_->add_event_log(make_event(kT0 + 20, "trigger", "b", "ana")));
    ASSERT_TRUE(store_->add_event_log(make_event(kT0 + 30, "login_failed", "", "eve")));

    auto events = [&](const EventLogFilter& f) {
        std::vector<std::string> out;
        auto page = store_->list_event_logs(f);
        if (!page) {
            ADD_FAILURE() << page.error().message;
            return out;
        }
        for (const auto& e : page->items) out.push_back(e.event + ":" + e.dag_id);
        return out;
    };
    EventLogFilter all;
    EXPECT_EQ(events(all), (std::vector<std::string>{"trigger:a", "pause:a", "trigger:b",
                                                     "login_failed:"}));
    EventLogFilter by_dag;
    by_dag.dag_id = "a";
    EXPECT_EQ(events(by_dag), (std::vector<std::string>{"trigger:a", "pause:a"}));
    EventLogFilter by_owner;
    by_owner.owner = "ana";
    by_owner.order_by = "-when";
    EXPECT_EQ(events(by_owner), (std::vector<std::string>{"trigger:b", "trigger:a"}));
    EventLogFilter window;
    window.after = kT0 + 10;
    window.before = kT0 + 20;
    EXPECT_EQ(events(window), (std::vector<std::string>{"pause:a", "trigger:b"}));
    EventLogFilter included;
    included.included_events = {"pause", "login_failed"};
    EXPECT_EQ(events(included), (std::vector<std::string>{"pause:a", "login_failed:"}));
    EventLogFilter excluded;
    excluded.excluded_events = {"trigger"};
    excluded.event = "pause";
    EXPECT_EQ(events(excluded), (std::vector<std::string>{"pause:a"}));

    EventLogFilter paged;
    paged.order_by = "-id";
    paged.limit = 2;
    paged.offset = 1;
    auto page = store_->list_event_logs(paged);
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_EQ(page->total, 4);
    ASSERT_EQ(page->items.size(), 2U);
    EXPECT_EQ(page->items[0].event, "trigger");
    EXPECT_EQ(page->items[1].event, "pause");

    EventLogFilter bad_order;
    bad_order.order_by = "extra; DROP TABLE event_logs";
    auto refused = store_->list_event_logs(bad_order);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
    EventLogFilter bad_page;
    bad_page.limit = -1;
    EXPECT_FALSE(store_->list_event_logs(bad_page));
}

}  // namespace
}  // namespace orquestra::store
