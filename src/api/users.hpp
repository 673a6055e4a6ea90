#pragma once
// Users and roles of the REST API (and the console): validation, argon2id password hashes
// (libsodium's crypto_pwhash_str at the "interactive" limits) and the one call the CLI makes to
// add a user. Roles are Airflow's: Viewer reads everything; User also triggers, clears, pauses
// and edits runs and task states; Op and Admin may do everything the API offers.
//
// Hashing and verifying are deliberately slow (tens of milliseconds and 64 MiB of memory):
// call them from a worker thread, never from an event loop. Everything here is thread-safe.

#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "store/store.hpp"

namespace orquestra::api {

enum class Role { kViewer, kUser, kOp, kAdmin };

// "Admin", "Op", "User", "Viewer" (exact case); nullopt for anything else (Airflow's "Public"
// included: it may do nothing).
std::optional<Role> parse_role(std::string_view text);
std::string_view to_string(Role role);

// What an endpoint needs: reading; changing runs, task states and pause switches; operating
// the platform (taking a service instance out of service); or administering it (users, roles,
// the configuration).
enum class Permission { kRead, kEdit, kOperate, kAdmin };
bool allows(Role role, Permission permission);

struct UserSpec {
    std::string username;  // ^[A-Za-z0-9_.@-]{1,64}$
    std::string password;  // non-empty, at most kMaxPasswordBytes
    std::string role;      // Admin, Op, User or Viewer
    std::string email;
    std::string first_name;
    std::string last_name;
};

inline constexpr std::size_t kMaxPasswordBytes = 4096;

// kInvalidArgument naming the field and the rule.
Result<void> validate_user(const UserSpec& spec);

// Validates, hashes the password and stores the user: kInvalidArgument for a bad field,
// kConflict when the username is taken. Blocks for the hash (tens of milliseconds).
Result<void> create_user(store::Store& store, UserSpec spec);

// An argon2id hash in libsodium's text form ("$argon2id$v=19$m=...").
Result<std::string> hash_password(std::string_view password);
// True when `password` matches `hash`; false for a wrong password or a malformed hash.
bool verify_password(std::string_view hash, std::string_view password);

// A random password of `length` letters and digits (from the system's secure source), e.g.
// for the standalone admin; kInternal when that source cannot be opened.
Result<std::string> generate_password(std::size_t length = 20);

}  // namespace orquestra::api
