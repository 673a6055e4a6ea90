#pragma once
// The SQLite schema as an ordered list of migrations. SqliteStore::migrate() applies, in order
// and each in its own transaction, every migration newer than the database's version, and
// records it in `schema_migrations(version, applied_at)`.
//
// A migration that has shipped is never edited: a change of schema is a new migration appended
// to the list, so every existing database reaches the same schema.

#include <span>
#include <string_view>

namespace orquestra::store {

struct Migration {
    int version;            // 1, 2, 3, ... without gaps
    std::string_view name;  // for logs and error messages
    std::string_view sql;   // one or more statements
};

// Every migration, oldest first.
std::span<const Migration> sqlite_migrations();

// The version a fully migrated database has.
int latest_schema_version();

}  // namespace orquestra::store
