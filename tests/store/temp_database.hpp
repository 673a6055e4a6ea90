#pragma once
// Test helpers: a unique temporary directory removed afterwards, and a raw SQLite connection
// to inspect or tamper with a store's file behind its back.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace orquestra::store::testing {

class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        std::random_device random;
        path_ = std::filesystem::temp_directory_path() /
                fmt::format("orquestra-store-test-{}-{}-{:08x}", ::getpid(), counter++, random());
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// A second connection to a database file, for assertions the Store API cannot express.
class RawDatabase {
public:
    explicit RawDatabase(const std::filesystem::path& file) {
        const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
        if (sqlite3_open_v2(file.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << "cannot open " << file << ": " << sqlite3_errmsg(db_);
        }
        sqlite3_busy_timeout(db_, 5000);
    }
    ~RawDatabase() { sqlite3_close(db_); }
    RawDatabase(const RawDatabase&) = delete;
    RawDatabase& operator=(const RawDatabase&) = delete;

    // The first column of the first row as an integer (-1 and a test failure on error).
    std::int64_t integer(const std::string& sql) {
        sqlite3_stmt* stmt = nullptr;
        std::int64_t value = -1;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
        } else if (sqlite3_step(stmt) == SQLITE_ROW) {
            value = sqlite3_column_int64(stmt, 0);
        } else {
            ADD_FAILURE() << sql << ": no row: " << sqlite3_errmsg(db_);
        }
        sqlite3_finalize(stmt);
        return value;
    }

    std::string text(const std::string& sql) {
        sqlite3_stmt* stmt = nullptr;
        std::string value;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
        } else if (sqlite3_step(stmt) == SQLITE_ROW) {
            const auto* data = sqlite3_column_text(stmt, 0);
            if (data != nullptr) value = reinterpret_cast<const char*>(data);
        } else {
            ADD_FAILURE() << sql << ": no row: " << sqlite3_errmsg(db_);
        }
        sqlite3_finalize(stmt);
        return value;
    }

    // Runs statements; returns SQLite's result code.
    int exec(const std::string& sql) {
        return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
    }

private:
    sqlite3* db_ = nullptr;
};

}  // namespace orquestra::store::testing
