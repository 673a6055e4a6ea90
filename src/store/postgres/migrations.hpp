#pragma once
// The PostgreSQL schema as an ordered list of migrations, version for version the same schema
// as the SQLite one (sqlite/migrations.hpp) in PostgreSQL's SQL: PostgresStore::migrate()
// applies, in order and each in its own transaction, every migration newer than the database's
// version, and records it in `schema_migrations(version, applied_at)`.
//
// A migration that has shipped is never edited; a schema change appends a migration here and
// the one with the same version to the SQLite list.

#include "store/sqlite/migrations.hpp"

#include <span>

namespace orquestra::store {

// Every migration, oldest first; the last one's version is latest_schema_version().
std::span<const Migration> postgres_migrations();

}  // namespace orquestra::store
