#include "store/postgres/postgres_store.hpp"

#include "store/postgres/migrations.hpp"
#include "store_backends.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pqxx/pqxx>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// What only the PostgreSQL store has: a server that may be away, several processes on one
// database, a pool of connections. The behaviour both stores share is in store_test.cpp.
// Every test here needs the tests' server (the CTest fixture `postgres`).

namespace orquestra::store {
namespace {

using testing::PostgresBackend;

constexpr Millis kT0 = 1'700'000'000'000;

DagRun make_run(std::string dag_id, std::string run_id) {
    DagRun run;
    run.dag_id = std::move(dag_id);
    run.run_id = std::move(run_id);
    run.logical_date = kT0;
    run.queued_at = kT0;
    return run;
}

TaskInstance make_task(const DagRun& run, std::string task_id) {
    TaskInstance task;
    task.dag_id = run.dag_id;
    task.run_id = run.run_id;
    task.task_id = std::move(task_id);
    return task;
}

TEST(PostgresMigrationsTest, SameVersionsAndNamesAsSqlite) {
    const auto pg = postgres_migrations();
    const auto sqlite = sqlite_migrations();
    ASSERT_EQ(pg.size(), sqlite.size());
    for (std::size_t i = 0; i < pg.size(); ++i) {
        EXPECT_EQ(pg[i].version, static_cast<int>(i) + 1);
        EXPECT_EQ(pg[i].version, sqlite[i].version);
        EXPECT_EQ(pg[i].name, sqlite[i].name);
        EXPECT_FALSE(pg[i].sql.empty());
    }
    EXPECT_EQ(pg.back().version, latest_schema_version());
}

class PostgresStoreTest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_TRUE(backend_.ready()) << "no test PostgreSQL server"; }

    std::unique_ptr<PostgresStore> open(PostgresOptions options = {}) {
        auto opened = PostgresStore::open(url(), options);
        if (!opened) {
            ADD_FAILURE() << opened.error().message;
            return nullptr;
        }
        return std::move(*opened);
    }

    // The schema's URL, with an application_name of its own, so that this test can find (and
    // cut) its own connections among those of tests running beside it.
    std::string url() const { return backend_.target() + "&application_name=" + backend_.schema(); }

    // Ends every server session this test's stores have open (what a server restart does to
    // them); returns how many.
    int terminate_connections() {
        pqxx::connection conn(backend_.base_url());
        pqxx::nontransaction tx(conn);
        auto rows = tx.exec_params(
            "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1 AND pid <> pg_backend_pid()",
            backend_.schema());
        return rows.at(0).at(0).as<int>();
    }

    PostgresBackend backend_;
};

TEST_F(PostgresStoreTest, NoServerOnThePortIsUnavailableQuickly) {
    const auto start = std::chrono::steady_clock::now();
    auto opened = PostgresStore::open("postgresql://orquestra:pw@127.0.0.1:1/none",
                                      PostgresOptions{.pool_size = 2, .connect_timeout_s = 2});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(opened.error().message.find("cannot connect to PostgreSQL"), std::string::npos)
        << opened.error().message;
    EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(PostgresStoreTest, AServerThatNeverAnswersIsBoundedByTheConnectTimeout) {
    // A listening socket that nobody accepts from: the kernel completes the TCP handshake,
    // and the client then waits for an answer to its startup message that never comes.
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ASSERT_EQ(::listen(listener, 16), 0);
    socklen_t length = sizeof(address);
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
    const int port = ntohs(address.sin_port);

    const auto start = std::chrono::steady_clock::now();
    auto opened = PostgresStore::open(fmt::format("postgresql://orquestra@127.0.0.1:{}/none", port),
                                      PostgresOptions{.pool_size = 1, .connect_timeout_s = 2});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ::close(listener);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
    EXPECT_GE(elapsed, std::chrono::milliseconds(1500));  // it did wait for the server
    EXPECT_LT(elapsed, std::chrono::seconds(6));          // and no longer than the timeout
}

TEST_F(PostgresStoreTest, AWrongPasswordIsUnavailableAndNotPrinted) {
    std::string url = backend_.base_url();
    const auto at = url.find('@');
    const auto colon = url.rfind(':', at);
    ASSERT_NE(at, std::string::npos);
    url = url.substr(0, colon + 1) + "not-the-password" + url.substr(at);
    auto opened = PostgresStore::open(url);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(opened.error().message.find("not-the-password"), std::string::npos)
        << opened.error().message;
}

TEST_F(PostgresStoreTest, CallsSucceedAgainAfterTheConnectionsAreLost) {
    auto store = open(PostgresOptions{.pool_size = 3});
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->migrate());
    const DagRun run = make_run("d", "r1");
    ASSERT_TRUE(store->create_run(run, {make_task(run, "a")}));
    // Several connections in the pool, all idle.
    {
        std::vector<std::thread> readers;
        for (int i = 0; i < 3; ++i) {
            readers.emplace_back([&] { EXPECT_TRUE(store->get_run("d", "r1")); });
        }
        for (auto& reader : readers) reader.join();
    }

    ASSERT_GE(terminate_connections(), 1);

    // The first call finds its pooled connection dead and goes on with a new one.
    auto got = store->get_run("d", "r1");
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_TRUE(got->has_value());
    TaskInstance a = make_task(run, "a");
    a.state = TaskState::kRunning;
    auto committed = store->commit(Changes{.runs = {}, .tasks = {a}, .tries = {}});
    ASSERT_TRUE(committed) << committed.error().message;

    // A run is created by one statement committed on its own, which is not run a second
    // time: a dead connection fails it (saying the outcome is unknown), and the next call,
    // on a new connection, succeeds.
    ASSERT_GE(terminate_connections(), 1);
    auto created = store->create_run(make_run("d", "r2"), {});
    if (!created) {
        EXPECT_EQ(created.error().code, ErrorCode::kUnavailable);
        EXPECT_NE(created.error().message.find("unknown"), std::string::npos)
            << created.error().message;
        created = store->create_run(make_run("d", "r2"), {});
        ASSERT_TRUE(created) << created.error().message;
    }
    EXPECT_EQ(store->get_task_instance("d", "r1", "a").value()->state, TaskState::kRunning);
    EXPECT_TRUE(store->get_run("d", "r2").value().has_value());
}

TEST_F(PostgresStoreTest, StoresMigratingAtOnceAllSucceedOnce) {
    constexpr int kStores = 4;
    std::vector<std::unique_ptr<PostgresStore>> stores;
    for (int i = 0; i < kStores; ++i) {
        stores.push_back(open(PostgresOptions{.pool_size = 1}));
        ASSERT_NE(stores.back(), nullptr);
    }
    std::atomic<int> ready{0};
    std::vector<std::string> failures(kStores);
    std::vector<std::thread> threads;
    for (int i = 0; i < kStores; ++i) {
        threads.emplace_back([&, i] {
            ++ready;
            while (ready.load() < kStores) std::this_thread::yield();
            auto migrated = stores[static_cast<std::size_t>(i)]->migrate();
            if (!migrated) failures[static_cast<std::size_t>(i)] = migrated.error().message;
        });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& failure : failures) EXPECT_EQ(failure, "");
    for (auto& store : stores) EXPECT_EQ(store->schema_version().value(), latest_schema_version());
    EXPECT_EQ(backend_.integer("SELECT COUNT(*) FROM schema_migrations"), latest_schema_version());
    EXPECT_EQ(backend_.integer("SELECT COUNT(DISTINCT version) FROM schema_migrations"),
              latest_schema_version());
    EXPECT_TRUE(stores[0]->create_run(make_run("d", "r"), {}));
}

TEST_F(PostgresStoreTest, ANewerDatabaseIsRefused) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->migrate());
    backend_.integer(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0) RETURNING version");
    auto again = store->migrate();
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(again.error().message.find("999"), std::string::npos) << again.error().message;
}

TEST_F(PostgresStoreTest, FreshDatabaseHasVersionZero) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->schema_version().value(), 0);
}

TEST_F(PostgresStoreTest, MoreThreadsThanConnectionsWaitTheirTurn) {
    auto store = open(PostgresOptions{.pool_size = 2});
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->migrate());
    constexpr int kThreads = 8;
    constexpr int kRuns = 25;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            for (int j = 0; j < kRuns; ++j) {
                const DagRun run = make_run("d", fmt::format("r{}_{}", i, j));
                if (!store->create_run(run, {make_task(run, "a"), make_task(run, "b")})) {
                    ++failures;
                }
                TaskInstance a = make_task(run, "a");
                a.state = TaskState::kSuccess;
                if (!store->commit(Changes{.runs = {}, .tasks = {a}, .tries = {}})) ++failures;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(backend_.integer("SELECT COUNT(*) FROM dag_runs"), kThreads * kRuns);
    EXPECT_EQ(backend_.integer("SELECT COUNT(*) FROM task_instances WHERE state = 'success'"),
              kThreads * kRuns);
    // The pool never opened more than its size.
    pqxx::connection conn(backend_.base_url());
    pqxx::nontransaction tx(conn);
    auto open_sessions = tx.exec_params(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1", backend_.schema());
    EXPECT_LE(open_sessions.at(0).at(0).as<int>(), 2);
}

TEST_F(PostgresStoreTest, ANulByteIsInvalidArgumentAndTheStoreGoesOn) {
    auto store = open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->migrate());
    DagRun run = make_run("d", "r");
    run.note = std::string("before\0after", 12);
    auto created = store->create_run(run, {});
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
    run.note = "\xff\xfe not UTF-8";
    created = store->create_run(run, {});
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument) << created.error().message;
    run.note = "fine";
    EXPECT_TRUE(store->create_run(run, {}));
}

TEST_F(PostgresStoreTest, OneSchedulerAtATime) {
    auto first = open();
    auto second = open();
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    ASSERT_TRUE(first->claim_scheduler());
    EXPECT_TRUE(first->claim_scheduler());  // again: already ours
    auto refused = second->claim_scheduler();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
    first.reset();  // its session ends, and the server releases the lock
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    Result<void> claimed = second->claim_scheduler();
    while (!claimed && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        claimed = second->claim_scheduler();
    }
    EXPECT_TRUE(claimed) << claimed.error().message;
}

}  // namespace
}  // namespace orquestra::store

namespace orquestra::store {
namespace {

// What a watch saw, for the test's thread.
struct Wakes {
    std::mutex mu;
    std::condition_variable cv;
    int count = 0;

    std::function<void()> callback() {
        return [this] {
            std::lock_guard lock(mu);
            ++count;
            cv.notify_all();
        };
    }
    // True once the count exceeds `seen` (within a generous limit, not a pace).
    bool beyond(int seen, std::chrono::seconds limit = std::chrono::seconds(10)) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, limit, [&] { return count > seen; });
    }
    int now() {
        std::lock_guard lock(mu);
        return count;
    }
};

TEST_F(PostgresStoreTest, AWatchWakesWhenARunIsLeftForSchedulersToClaim) {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->migrate());
    Wakes wakes;
    auto watch = store->watch_runs(wakes.callback());
    ASSERT_NE(watch, nullptr);
    // The watch starts listening on a connection of its own: runs created before it listens
    // wake nobody, so create unowned runs until one does.
    int created = 0;
    for (; created < 200 && wakes.now() == 0; ++created) {
        ASSERT_TRUE(store->create_run(make_run("d", fmt::format("early{}", created)), {}));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_GT(wakes.now(), 0) << "no wake-up after " << created << " unowned runs";

    // Another process's store (the webserver's) creates an unowned run: a wake-up.
    auto other = open();
    ASSERT_TRUE(other);
    int seen = wakes.now();
    ASSERT_TRUE(other->create_run(make_run("d", "from-the-api"), {}));
    EXPECT_TRUE(wakes.beyond(seen));

    // A run queued again with no owner (a clear through the API) in a commit: a wake-up.
    seen = wakes.now();
    Changes changes;
    DagRun queued_again = make_run("d", "early0");
    queued_again.state = RunState::kQueued;
    changes.runs.push_back(queued_again);
    ASSERT_TRUE(other->commit(changes));
    EXPECT_TRUE(wakes.beyond(seen));

    // The watch's connection lost (a server restart): it connects again and wakes once, for
    // whatever was missed meanwhile.
    seen = wakes.now();
    ASSERT_GT(terminate_connections(), 0);
    EXPECT_TRUE(wakes.beyond(seen));

    // After it is destroyed, nothing more is called.
    watch.reset();
    seen = wakes.now();
    auto third = open();  // the others' pooled connections were cut too
    ASSERT_TRUE(third);
    ASSERT_TRUE(third->create_run(make_run("d", "after"), {}));
    EXPECT_TRUE(third->check_writable());
    EXPECT_EQ(wakes.now(), seen);
}

}  // namespace
}  // namespace orquestra::store
