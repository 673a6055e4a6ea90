#pragma once
// Secrets: variables and connections as their users see them, over the Store, which keeps
// them as given. Here they are checked (sizes, names), sealed at rest (store/secret_box.hpp)
// and opened again, and overridden by the environment as Airflow does:
//   ORQUESTRA_VAR_<KEY>  a variable's value (key upper-cased), looked at before the store
//   ORQUESTRA_CONN_<ID>  a connection as a URI (conn_type://login:password@host:port/schema?k=v)
//
// Sealed: a connection's password and extra, and a variable's value when its key looks secret
// (looks_secret()). Everything this class returns is in clear; hiding secrets from people
// (the API, the CLI, logs) is the callers' (mask_text(), core/masker.hpp).
//
// Thread safety: as the Store and the EnvLookup it is given; blocking (it calls the Store).

#include "store/secret_box.hpp"
#include "store/store.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace orquestra::store {

inline constexpr std::size_t kMaxVariableKeyBytes = 250;
inline constexpr std::size_t kMaxVariableValueBytes = 1u << 20;
inline constexpr std::size_t kMaxConnIdBytes = 250;
inline constexpr std::size_t kMaxConnFieldBytes = 64u << 10;  // host, login, password, ...
inline constexpr std::size_t kMaxConnExtraBytes = 1u << 20;
inline constexpr std::size_t kMaxDescriptionBytes = 64u << 10;
inline constexpr std::string_view kVariableEnvPrefix = "ORQUESTRA_VAR_";
inline constexpr std::string_view kConnectionEnvPrefix = "ORQUESTRA_CONN_";

// True when a name (a variable's key, an environment variable's, a header's) holds, in any
// case, one of: password, passwd, secret, token, api_key, apikey, private_key, access_token,
// authorization, credential.
bool looks_secret(std::string_view name);

// kInvalidArgument (saying the bound) for an empty key, one over kMaxVariableKeyBytes or with a
// control character, and for a value over kMaxVariableValueBytes.
Result<void> check_variable(std::string_view key, std::string_view value);
// conn_id: 1..250 of A-Z a-z 0-9 _ . - (it is used in templates and environment names).
Result<void> check_conn_id(std::string_view conn_id);
// The id, the sizes of every field, a port in 0..65535, an extra that is a JSON object.
Result<void> check_connection(const Connection& connection);

// A connection from a URI: scheme → conn_type ('-' read as '_'), user info → login and
// password, host, port, the path (without its '/') → schema, all percent-decoded; the query is
// the extra: `__extra__=<JSON object>`, or its parameters as a JSON object of strings.
// kInvalidArgument saying what is wrong (never echoing the password).
Result<Connection> parse_connection_uri(std::string_view conn_id, std::string_view uri);

// A connection's extra (JSON text) for people to see: the value of every member whose name
// looks secret, at any depth, is "***"; text that is not JSON is "***" whole.
std::string redact_extra(std::string_view extra);

// Reads one environment variable: nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

class Secrets {
public:
    Secrets(Store& store, SecretKeySource& keys, EnvLookup env = process_environment());

    // Variables: `value` in clear; is_encrypted says the value is secret (sealed at rest, or
    // from the environment under a secret-looking key).
    Result<void> put_variable(const std::string& key, const std::string& value,
                              const std::optional<std::string>& description, PutMode mode);
    // The environment's ORQUESTRA_VAR_<KEY> first, then the store; nullopt when neither has it.
    Result<std::optional<Variable>> get_variable(const std::string& key);
    // The store's only (as Airflow lists them).
    Result<Page<Variable>> list_variables(int limit, int offset);
    Result<void> delete_variable(const std::string& key);

    // Connections, in clear (is_encrypted: a password is set).
    Result<void> put_connection(const Connection& connection, PutMode mode);
    // ORQUESTRA_CONN_<ID> first (an invalid URI there is an error naming the variable).
    Result<std::optional<Connection>> get_connection(const std::string& conn_id);
    Result<Page<Connection>> list_connections(int limit, int offset);
    Result<void> delete_connection(const std::string& conn_id);

private:
    Result<Variable> open_variable(Variable stored);
    Result<Connection> open_connection(Connection stored);

    Store& store_;
    SecretKeySource& keys_;
    EnvLookup env_;
};

}  // namespace orquestra::store
