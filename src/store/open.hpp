#pragma once
// open_store: the one place that picks a Store implementation. A postgresql:// or postgres://
// URL opens a PostgresStore; anything else is the path of an SQLite file.

#include "store/store.hpp"

#include <memory>
#include <string_view>

namespace orquestra::store {

struct StoreOptions {
    // A reader beside the process's writer: SQLite opens an existing file with query_only;
    // PostgreSQL runs every transaction READ ONLY.
    bool read_only = false;
    // SQLite only: synchronous=FULL (see SqliteOptions).
    bool synchronous_full = false;
    // PostgreSQL only: connections in the pool, and seconds to wait for one to open.
    int pool_size = 4;
    int connect_timeout_s = 5;
};

// Opens (does not migrate) the store at `target`. Error messages show a URL's password masked.
Result<std::unique_ptr<Store>> open_store(std::string_view target, StoreOptions options = {});

}  // namespace orquestra::store
