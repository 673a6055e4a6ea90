#include "store/sqlite/sqlite_store.hpp"

#include "temp_database.hpp"

#include <gtest/gtest.h>

#include <filesystem>

// What only the SQLite store has: its file, its journal mode and its options. The behaviour
// both stores share is tested once for both in store_test.cpp.

namespace orquestra::store {
namespace {

using testing::RawDatabase;
using testing::TempDir;

class SqliteStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto opened = SqliteStore::open(file_);
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        auto migrated = store_->migrate();
        ASSERT_TRUE(migrated) << migrated.error().message;
    }

    TempDir dir_;
    // In a directory that does not exist yet: open() creates it.
    std::filesystem::path file_ = dir_.path() / "state" / "orquestra.db";
    std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, OpenCreatesTheFileInWalModeWithForeignKeys) {
    EXPECT_TRUE(std::filesystem::exists(file_));
    RawDatabase raw(file_);
    // journal_mode=WAL is persistent in the file; a new connection sees it.
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStoreTest, OpenOfADirectoryFailsWithAnError) {
    auto opened = SqliteStore::open(dir_.path());
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
    EXPECT_FALSE(opened.error().message.empty());
}

TEST_F(SqliteStoreTest, SynchronousFullOpensToo) {
    auto opened = SqliteStore::open(
        dir_.path() / "full.db", SqliteOptions{.synchronous_full = true, .busy_timeout_ms = 100});
    ASSERT_TRUE(opened) << opened.error().message;
    ASSERT_TRUE((*opened)->migrate());
    DagRun run;
    run.dag_id = "d";
    run.run_id = "r";
    auto created = (*opened)->create_run(run, {});
    EXPECT_TRUE(created) << created.error().message;
}

TEST_F(SqliteStoreTest, AQueryOnlyReaderOpensOnlyADatabaseThatExists) {
    SqliteOptions options;
    options.query_only = true;
    EXPECT_TRUE(SqliteStore::open(file_, options));
    EXPECT_FALSE(SqliteStore::open(dir_.path() / "nope.db", options));
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "nope.db"));
}

TEST_F(SqliteStoreTest, HasNoWakeUpsForSchedulers) {
    // Schedulers on SQLite look for runs to claim at every housekeeping.
    EXPECT_EQ(store_->watch_runs([] {}), nullptr);
}

}  // namespace
}  // namespace orquestra::store
