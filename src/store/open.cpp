#include "store/open.hpp"

#include "store/db_url.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <string>

namespace orquestra::store {

Result<std::unique_ptr<Store>> open_store(std::string_view target, StoreOptions options) {
    if (target.empty()) return Error{ErrorCode::kInvalidArgument, "no database given"};
    if (is_postgres_url(target)) {
        PostgresOptions pg;
        pg.read_only = options.read_only;
        pg.pool_size = options.pool_size;
        pg.connect_timeout_s = options.connect_timeout_s;
        auto opened = PostgresStore::open(std::string(target), pg);
        if (!opened) return opened.error();
        return std::unique_ptr<Store>(std::move(*opened));
    }
    SqliteOptions sqlite;
    sqlite.query_only = options.read_only;
    sqlite.synchronous_full = options.synchronous_full;
    auto opened = SqliteStore::open(std::filesystem::path(std::string(target)), sqlite);
    if (!opened) return opened.error();
    return std::unique_ptr<Store>(std::move(*opened));
}

}  // namespace orquestra::store
