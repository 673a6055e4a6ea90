#pragma once
// Telling a PostgreSQL URL from an SQLite path, and showing a URL without its password.

#include <string>
#include <string_view>

namespace orquestra::store {

// Whether `target` is a PostgreSQL connection URI (postgresql:// or postgres://, any case).
bool is_postgres_url(std::string_view target);

// The URL with its password replaced by "****", both the one in user:password@ and a
// `password=` query parameter; anything that is not a URL comes back unchanged. For every log
// line, error message and CLI output that names a database.
std::string mask_password(std::string_view target);

}  // namespace orquestra::store
