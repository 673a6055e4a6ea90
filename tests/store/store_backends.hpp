#pragma once
// The databases the store suite runs against: a fresh SQLite file, or a fresh schema in the
// tests' PostgreSQL server (started by the CTest fixture `postgres`, whose URL is in the file
// named by $ORQUESTRA_TEST_POSTGRES_URL_FILE). Each Backend is one empty database, dropped when
// the Backend goes; open() may be called again to reopen the same database.

#include "store/open.hpp"
#include "store/store.hpp"

#include "temp_database.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>

namespace orquestra::store::testing {

enum class BackendKind { kSqlite, kPostgres };

inline std::string backend_name(BackendKind kind) {
    return kind == BackendKind::kSqlite ? "sqlite" : "postgres";
}

inline void PrintTo(BackendKind kind, std::ostream* out) { *out << backend_name(kind); }

class Backend {
public:
    virtual ~Backend() = default;
    // Opens the backend's database (again), not migrated.
    virtual Result<std::unique_ptr<Store>> open(StoreOptions options = {}) = 0;
    // The first column of the first row of a query run behind the store's back (-1 and a test
    // failure on error).
    virtual std::int64_t integer(const std::string& sql) = 0;
    // What the store's message holds for a unique and for a foreign-key violation.
    virtual std::string unique_violation() const = 0;
    virtual std::string foreign_key_violation() const = 0;
    // The URL or path open() uses.
    virtual std::string target() const = 0;
};

class SqliteBackend final : public Backend {
public:
    Result<std::unique_ptr<Store>> open(StoreOptions options) override {
        return open_store(file_.string(), options);
    }
    std::int64_t integer(const std::string& sql) override {
        RawDatabase raw(file_);
        return raw.integer(sql);
    }
    std::string unique_violation() const override { return "UNIQUE constraint failed"; }
    std::string foreign_key_violation() const override { return "FOREIGN KEY constraint failed"; }
    std::string target() const override { return file_.string(); }

private:
    TempDir dir_;
    // In a directory that does not exist yet: opening creates it.
    std::filesystem::path file_ = dir_.path() / "state" / "orquestra.db";
};

// The URL of the tests' PostgreSQL server, or nullopt and a test failure saying why.
inline std::optional<std::string> postgres_test_url() {
    const char* file = std::getenv("ORQUESTRA_TEST_POSTGRES_URL_FILE");
    if (file == nullptr || *file == '\0') {
        ADD_FAILURE() << "ORQUESTRA_TEST_POSTGRES_URL_FILE is not set: run the PostgreSQL tests "
                         "through ctest, whose fixture `postgres` starts the server "
                         "(tests/support/postgres_server.sh)";
        return std::nullopt;
    }
    std::ifstream in(file);
    std::string url;
    if (!std::getline(in, url) || url.empty()) {
        ADD_FAILURE() << "no PostgreSQL URL in " << file
                      << ": the test server did not start (see the output of the test "
                         "postgres.start, and tests/support/postgres_server.sh)";
        return std::nullopt;
    }
    return url;
}

// A schema of its own in the test database, on the search_path of every connection the store
// opens (through the URL's `options`), dropped at the end.
class PostgresBackend final : public Backend {
public:
    PostgresBackend() {
        auto url = postgres_test_url();
        if (!url) return;
        base_url_ = *url;
        static std::atomic<int> counter{0};
        std::random_device random;
        schema_ = fmt::format("t_{}_{}_{:08x}", ::getpid(), counter++, random());
        try {
            pqxx::connection conn(base_url_);
            pqxx::nontransaction tx(conn);
            tx.exec("CREATE SCHEMA " + tx.quote_name(schema_));
            ready_ = true;
        } catch (const std::exception& e) {
            ADD_FAILURE() << "cannot create a schema in the test PostgreSQL server: " << e.what();
        }
    }
    ~PostgresBackend() override {
        if (!ready_) return;
        try {
            pqxx::connection conn(base_url_);
            pqxx::nontransaction tx(conn);
            tx.exec("DROP SCHEMA " + tx.quote_name(schema_) + " CASCADE");
        } catch (const std::exception& e) {
            ADD_FAILURE() << "cannot drop schema " << schema_ << ": " << e.what();
        }
    }

    bool ready() const { return ready_; }
    const std::string& schema() const { return schema_; }
    const std::string& base_url() const { return base_url_; }

    Result<std::unique_ptr<Store>> open(StoreOptions options) override {
        if (!ready_) return Error{ErrorCode::kUnavailable, "no test PostgreSQL server"};
        return open_store(target(), options);
    }
    std::int64_t integer(const std::string& sql) override {
        try {
            pqxx::connection conn(base_url_);
            pqxx::nontransaction tx(conn);
            tx.exec("SET search_path TO " + tx.quote_name(schema_));
            auto rows = tx.exec(sql);
            return rows.at(0).at(0).as<std::int64_t>();
        } catch (const std::exception& e) {
            ADD_FAILURE() << sql << ": " << e.what();
            return -1;
        }
    }
    std::string unique_violation() const override {
        return "duplicate key value violates unique constraint";
    }
    std::string foreign_key_violation() const override {
        return "violates foreign key constraint";
    }
    std::string target() const override {
        // libpq decodes the URI: options=-csearch_path=<schema>
        return base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") +
               "options=-csearch_path%3D" + schema_;
    }

private:
    std::string base_url_;
    std::string schema_;
    bool ready_ = false;
};

inline std::unique_ptr<Backend> make_backend(BackendKind kind) {
    if (kind == BackendKind::kSqlite) return std::make_unique<SqliteBackend>();
    return std::make_unique<PostgresBackend>();
}

}  // namespace orquestra::store::testing
