#pragma once
// Who may read Orquestra's files and reach its registry.
//
// Home: the home folder and its dags/ and logs/ are the owner's only (0700), and the database
// (orquestra.db with its -wal and -shm) and the standalone admin's password file are 0600:
// they hold password hashes, confs and task outputs. secure_home() creates what is missing
// with those modes and tightens what exists with a warning; SQLite gives the -wal and -shm
// files it creates the database file's mode.
//
// Registry credentials ("user:password") come, most preferred first, from a file (which must
// not be readable by group or others), from $ORQUESTRA_REGISTRY_AUTH, or from a flag (which
// other local users can see in the process list).
//
// Call from the main thread before other threads start (take_env() changes the environment).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "app/workflow_node.hpp"
#include "core/error.hpp"

namespace orquestra::app {

inline constexpr const char* kRegistryAuthEnv = "ORQUESTRA_REGISTRY_AUTH";
// The database (--db wins over it); taken out of the environment, as it may hold a password.
inline constexpr const char* kDatabaseEnv = "ORQUESTRA_DB";

// Creates the home, its dags/ and logs/ (0700) and the database file (0600) when missing;
// tightens existing ones that group or others may use, logging a warning for each.
Result<void> secure_home(const HomePaths& paths);

// Removes group and other permissions from `path` if it exists and has any (warning).
Result<void> tighten(const std::filesystem::path& path, bool directory);

// The registry credentials from the first source given: the file, `env` (the value of
// $ORQUESTRA_REGISTRY_AUTH), the flag. nullopt when none is; kInvalidArgument (with the reason)
// for a file that group or others may read, an unreadable file, or text that is not
// "user:password" with a user.
Result<std::optional<std::string>> resolve_registry_auth(const std::string& file,
                                                         const std::optional<std::string>& env,
                                                         const std::string& flag);

// "user:password" with a non-empty user and no control characters.
Result<void> check_credentials(std::string_view text, std::string_view source);

// The value of an environment variable, removed from the environment so that processes this
// one starts (command tasks) do not inherit it; nullopt when unset or empty.
std::optional<std::string> take_env(const char* name);

// $ORQUESTRA_SECRET_KEY (the key sealing variables and connections, store/secret_box.hpp),
// taken out of the environment at the first call, which main makes before any thread starts,
// so that command tasks never inherit it. nullopt when unset: <home>/secret.key is used.
const std::optional<std::string>& secret_key_from_environment();

// True for 127.0.0.0/8, ::1 and "localhost": listening there keeps the port off the network.
bool is_loopback_host(std::string_view host);

}  // namespace orquestra::app
