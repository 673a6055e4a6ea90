#include "store/sqlite/migrations.hpp"

#include "store/sqlite/sqlite_store.hpp"
#include "temp_database.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

namespace orquestra::store {
namespace {

using testing::RawDatabase;
using testing::TempDir;

TEST(MigrationsTest, VersionsRunFromOneWithoutGaps) {
    const auto migrations = sqlite_migrations();
    ASSERT_GE(migrations.size(), 2U);
    for (std::size_t i = 0; i < migrations.size(); ++i) {
        EXPECT_EQ(migrations[i].version, static_cast<int>(i) + 1);
        EXPECT_FALSE(migrations[i].name.empty());
        EXPECT_FALSE(migrations[i].sql.empty());
    }
    EXPECT_EQ(latest_schema_version(), migrations.back().version);
}

class MigrateTest : public ::testing::Test {
protected:
    std::unique_ptr<SqliteStore> open_store() {
        auto store = SqliteStore::open(file_);
        if (!store) {
            ADD_FAILURE() << store.error().message;
            return nullptr;
        }
        return std::move(*store);
    }

    TempDir dir_;
    std::filesystem::path file_ = dir_.path() / "orquestra.db";
};

TEST_F(MigrateTest, FreshDatabaseHasVersionZero) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    auto version = store->schema_version();
    ASSERT_TRUE(version) << version.error().message;
    EXPECT_EQ(*version, 0);
}

TEST_F(MigrateTest, MigrateTwiceIsIdempotent) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    auto first = store->migrate();
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(store->schema_version().value(), latest_schema_version());

    auto second = store->migrate();
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(store->schema_version().value(), latest_schema_version());

    RawDatabase raw(file_);
    EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM schema_migrations"),
              static_cast<std::int64_t>(sqlite_migrations().size()));
    EXPECT_GT(raw.integer("SELECT MIN(applied_at) FROM schema_migrations"), 1'600'000'000'000);
}

TEST_F(MigrateTest, ReopenedDatabaseIsNotMigratedAgain) {
    {
        auto store = open_store();
        ASSERT_NE(store, nullptr);
        ASSERT_TRUE(store->migrate());
    }
    RawDatabase raw(file_);
    const auto applied_at = raw.integer("SELECT MAX(applied_at) FROM schema_migrations");
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->schema_version().value(), latest_schema_version());
    ASSERT_TRUE(store->migrate());
    EXPECT_EQ(raw.integer("SELECT MAX(applied_at) FROM schema_migrations"), applied_at);
    EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM schema_migrations"),
              static_cast<std::int64_t>(sqlite_migrations().size()));
}

TEST_F(MigrateTest, OnlyMissingMigrationsAreApplied) {
    // A database left at version 1 (as an older orquestra would leave it) gets only the later
    // migrations; its data stays.
    {
        RawDatabase raw(file_);
        ASSERT_EQ(raw.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                           "applied_at INTEGER NOT NULL)"),
                  SQLITE_OK);
        ASSERT_EQ(raw.exec(std::string(sqlite_migrations()[0].sql)), SQLITE_OK);
        ASSERT_EQ(raw.exec("INSERT INTO schema_migrations VALUES (1, 1);"
                           "INSERT INTO dags (dag_id) VALUES ('kept')"),
                  SQLITE_OK);
    }
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->schema_version().value(), 1);
    auto migrated = store->migrate();
    ASSERT_TRUE(migrated) << migrated.error().message;
    EXPECT_EQ(store->schema_version().value(), latest_schema_version());
    auto dag = store->get_dag("kept");
    ASSERT_TRUE(dag);
    EXPECT_TRUE(dag->has_value());
    RawDatabase raw(file_);
    EXPECT_EQ(raw.integer("SELECT applied_at FROM schema_migrations WHERE version = 1"), 1);
}

TEST_F(MigrateTest, CreatesEveryTableIncludingUsers) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->migrate());
    RawDatabase raw(file_);
    for (const char* table :
         {"dags", "dag_runs", "task_instances", "task_tries", "import_errors", "users"}) {
        EXPECT_EQ(raw.integer(fmt::format(
                      "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = '{}'",
                      table)),
                  1)
            << table;
    }
    for (const char* index :
         {"dag_runs_state", "dag_runs_dag_logical_date", "task_instances_state"}) {
        EXPECT_EQ(raw.integer(fmt::format(
                      "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name = '{}'",
                      index)),
                  1)
            << index;
    }
    ASSERT_EQ(raw.exec("INSERT INTO users (username, password_hash, role, email, first_name, "
                       "last_name, created_at) VALUES ('admin', 'h', 'Admin', 'a@b', 'A', 'B', 1)"),
              SQLITE_OK);
    EXPECT_EQ(raw.exec("INSERT INTO users (username) VALUES ('admin')"), SQLITE_CONSTRAINT);
    EXPECT_EQ(raw.exec("INSERT INTO users (username) VALUES (NULL)"), SQLITE_CONSTRAINT);
}

TEST_F(MigrateTest, NewerDatabaseIsRefused) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->migrate());
    {
        RawDatabase raw(file_);
        ASSERT_EQ(raw.exec("INSERT INTO schema_migrations VALUES (99, 0)"), SQLITE_OK);
    }
    auto migrated = store->migrate();
    ASSERT_FALSE(migrated);
    EXPECT_EQ(migrated.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(migrated.error().message.find("99"), std::string::npos) << migrated.error().message;
}

TEST_F(MigrateTest, FailedMigrationIsRolledBackAndReported) {
    // A table in the way makes migration 2 fail: nothing of it may remain, and the error carries
    // SQLite's message.
    {
        RawDatabase raw(file_);
        ASSERT_EQ(raw.exec("CREATE TABLE users (x INTEGER)"), SQLITE_OK);
    }
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    auto migrated = store->migrate();
    ASSERT_FALSE(migrated);
    EXPECT_NE(migrated.error().message.find("table users already exists"), std::string::npos)
        << migrated.error().message;
    EXPECT_NE(migrated.error().message.find("migration 2"), std::string::npos)
        << migrated.error().message;
    EXPECT_EQ(store->schema_version().value(), 1);
}

}  // namespace
}  // namespace orquestra::store
