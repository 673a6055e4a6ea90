// `variables` and `connections`: Airflow's CLI commands over store/secrets.hpp. What they print
// never shows a connection's password (***) nor a secret variable's value, but for `variables
// get KEY`, which asks for that one value (as Airflow's does), and `variables export FILE`,
// which writes every value to a file only its owner may read.

#include "app/commands.hpp"
#include "app/home_access.hpp"

#include "core/masker.hpp"
#include "core/strings.hpp"
#include "store/secrets.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace orquestra::app {

namespace json = boost::json;

namespace {

int fail(std::string_view what) {
    std::fprintf(stderr, "orquestra: %.*s\n", static_cast<int>(what.size()), what.data());
    return 1;
}

// The store and the key of one command.
struct SecretsAccess {
    std::unique_ptr<store::Store> store;
    std::unique_ptr<store::SecretKeySource> keys;
    std::unique_ptr<store::Secrets> secrets;
};

Result<SecretsAccess> open_secrets(const CommonFlags& flags) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto s = open_store(paths, true);
    if (!s) return s.error();
    SecretsAccess a;
    a.store = std::move(*s);
    a.keys = std::make_unique<store::SecretKeySource>(paths.home, secret_key_from_environment());
    a.secrets = std::make_unique<store::Secrets>(*a.store, *a.keys);
    return a;
}

std::string shown(const std::optional<std::string>& v) { return v ? *v : std::string("None"); }

// Every record of a paged list.
template <class T, class List>
Result<std::vector<T>> all_pages(List list) {
    std::vector<T> out;
    for (int offset = 0;; offset += 1000) {
        auto page = list(1000, offset);
        if (!page) return page.error();
        for (auto& item : page->items) out.push_back(std::move(item));
        if (page->items.size() < 1000) return out;
    }
}

// Text read from a file whose size is bounded, or an error naming it.
Result<std::string> read_file(const std::string& file, std::size_t limit) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Error{ErrorCode::kInvalidArgument, fmt::format("{}: cannot be read", file)};
    std::string text;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > limit) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("{}: larger than {} bytes", file, limit)};
        }
    }
    return text;
}

// JSON text or an error naming the file, the line and the reason.
Result<json::value> parse_json_file(const std::string& file, const std::string& text) {
    json::stream_parser parser;
    boost::system::error_code ec;
    const std::size_t used = parser.write_some(text.data(), text.size(), ec);
    if (!ec) parser.finish(ec);  // an incomplete text
    if (!ec && text.find_first_not_of(" \t\r\n", used) != std::string::npos) {
        ec = json::make_error_code(json::error::extra_data);
    }
    if (ec) {
        const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(used), '\n');
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("{}:{}: not valid JSON: {}", file, line, ec.message())};
    }
    return parser.release();
}

}  // namespace

int cmd_variables_set(const CommonFlags& flags, const std::string& key, const std::string& value,
                      bool as_json, const std::optional<std::string>& description) {
    std::string stored = value;
    if (as_json) {
        boost::system::error_code ec;
        auto v = json::parse(value, ec);
        if (ec) return fail(fmt::format("the value of '{}' is not valid JSON: {}", key, ec.message()));
        stored = json::serialize(v);
    }
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    if (auto r = a->secrets->put_variable(key, stored, description, store::PutMode::kUpsert); !r) {
        return fail(r.error().message);
    }
    std::printf("Variable %s created%s\n", key.c_str(),
                store::looks_secret(key) ? " (its value is secret: sealed in the store)" : "");
    return 0;
}

int cmd_variables_get(const CommonFlags& flags, const std::string& key, bool as_json) {
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    auto v = a->secrets->get_variable(key);
    if (!v) return fail(v.error().message);
    if (!*v) return fail(fmt::format("Variable {} does not exist", key));
    if (as_json) {
        boost::system::error_code ec;
        auto parsed = json::parse((*v)->value, ec);
        if (ec) return fail(fmt::format("the value of variable {} is not JSON: {}", key, ec.message()));
        std::printf("%s\n", json::serialize(parsed).c_str());
        return 0;
    }
    std::fwrite((*v)->value.data(), 1, (*v)->value.size(), stdout);
    std::printf("\n");
    return 0;
}

int cmd_variables_list(const CommonFlags& flags) {
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    auto all = all_pages<store::Variable>(
        [&](int limit, int offset) { return a->store->list_variables(limit, offset); });
    if (!all) return fail(all.error().message);
    std::printf("%-40s %s\n", "key", "description");
    for (const auto& v : *all) {
        std::printf("%-40s %s\n", v.key.c_str(), v.description ? v.description->c_str() : "");
    }
    return 0;
}

int cmd_variables_delete(const CommonFlags& flags, const std::string& key) {
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    if (auto r = a->secrets->delete_variable(key); !r) return fail(r.error().message);
    std::printf("Variable %s deleted\n", key.c_str());
    return 0;
}

int cmd_variables_import(const CommonFlags& flags, const std::string& file) {
    auto text = read_file(file, 64u << 20);
    if (!text) return fail(text.error().message);
    auto parsed = parse_json_file(file, *text);
    if (!parsed) return fail(parsed.error().message);
    if (!parsed->is_object()) {
        return fail(fmt::format("{}: must hold one JSON object of key: value", file));
    }
    // Every entry is checked before any is written.
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& [k, v] : parsed->as_object()) {
        std::string value = v.is_string() ? std::string(v.get_string()) : json::serialize(v);
        if (auto ok = store::check_variable(k, value); !ok) {
            return fail(fmt::format("{}: {}", file, ok.error().message));
        }
        entries.emplace_back(std::string(k), std::move(value));
    }
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    std::size_t done = 0;
    for (const auto& [k, v] : entries) {
        if (auto r = a->secrets->put_variable(k, v, std::nullopt, store::PutMode::kUpsert); !r) {
            return fail(fmt::format("{}: variable '{}': {} ({} of {} imported before it)", file, k,
                                    r.error().message, done, entries.size()));
        }
        ++done;
    }
    std::printf("%zu of %zu variables successfully updated.\n", done, entries.size());
    return 0;
}

int cmd_variables_export(const CommonFlags& flags, const std::string& file) {
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    auto all = all_pages<store::Variable>(
        [&](int limit, int offset) { return a->secrets->list_variables(limit, offset); });
    if (!all) return fail(all.error().message);
    json::object out;
    for (const auto& v : *all) {
        boost::system::error_code ec;
        auto parsed = json::parse(v.value, ec);
        out[v.key] = ec ? json::value(v.value) : std::move(parsed);
    }
    const std::string text = json::serialize(out) + "\n";
    // The file holds secrets in clear: only its owner may read it.
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail(fmt::format("{}: cannot be written: {}", file, std::strerror(errno)));
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!written) return fail(fmt::format("{}: cannot be written: {}", file, std::strerror(errno)));
    std::printf("%zu variables successfully exported to %s\n", all->size(), file.c_str());
    return 0;
}

int cmd_connections_add(const CommonFlags& flags, const ConnectionFlags& c) {
    store::Connection conn;
    if (c.uri) {
        if (c.conn_type || c.host || c.port || c.login || c.password || c.schema || c.extra) {
            return fail("give either --conn-uri or the --conn-* fields, not both");
        }
        auto parsed = store::parse_connection_uri(c.conn_id, *c.uri);
        if (!parsed) return fail(fmt::format("--conn-uri: {}", parsed.error().message));
        conn = std::move(*parsed);
    } else {
        if (!c.conn_type) return fail("give --conn-uri or --conn-type (with the other --conn-* fields)");
        conn.conn_id = c.conn_id;
        conn.conn_type = *c.conn_type;
        conn.host = c.host;
        conn.login = c.login;
        conn.password = c.password;
        conn.schema = c.schema;
        conn.extra = c.extra;
        if (c.port) {
            auto n = parse_int(*c.port);
            if (!n || *n < 0 || *n > 65535) {
                return fail(fmt::format("--conn-port '{}' is not a port (0..65535)", *c.port));
            }
            conn.port = *n;
        }
    }
    conn.description = c.description;
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    if (auto r = a->secrets->put_connection(conn, store::PutMode::kCreate); !r) {
        if (r.error().code == ErrorCode::kConflict) {
            return fail(fmt::format("A connection with `conn_id`={} already exists", c.conn_id));
        }
        return fail(r.error().message);
    }
    std::printf("Successfully added `conn_id`=%s : %s://%s%s%s\n", c.conn_id.c_str(),
                conn.conn_type.c_str(),
                conn.login ? (*conn.login + (conn.password ? ":***@" : "@")).c_str() : "",
                conn.host.value_or("").c_str(),
                conn.port ? (":" + std::to_string(*conn.port)).c_str() : "");
    return 0;
}

int cmd_connections_get(const CommonFlags& flags, const std::string& conn_id) {
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    auto c = a->secrets->get_connection(conn_id);
    if (!c) return fail(c.error().message);
    if (!*c) return fail(fmt::format("Connection {} does not exist", conn_id));
    const store::Connection& conn = **c;
    std::printf("conn_id:     %s\n", conn.conn_id.c_str());
    std::printf("conn_type:   %s\n", conn.conn_type.c_str());
    std::printf("description: %s\n", shown(conn.description).c_str());
    std::printf("host:        %s\n", shown(conn.host).c_str());
    std::printf("port:        %s\n", conn.port ? std::to_string(*conn.port).c_str() : "None");
    std::printf("login:       %s\n", shown(conn.login).c_str());
    std::printf("password:    %s\n", conn.password ? "***" : "None");
    std::printf("schema:      %s\n", shown(conn.schema).c_str());
    std::printf("extra:       %s\n",
                conn.extra ? store::redact_extra(*conn.extra).c_str() : "None");
    return 0;
}

int cmd_connections_list(const CommonFlags& flags) {
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    auto all = all_pages<store::Connection>(
        [&](int limit, int offset) { return a->store->list_connections(limit, offset); });
    if (!all) return fail(all.error().message);
    std::printf("%-28s %-12s %-28s %-6s %-16s %s\n", "conn_id", "conn_type", "host", "port",
                "login", "schema");
    for (const auto& c : *all) {
        std::printf("%-28s %-12s %-28s %-6s %-16s %s\n", c.conn_id.c_str(), c.conn_type.c_str(),
                    shown(c.host).c_str(), c.port ? std::to_string(*c.port).c_str() : "None",
                    shown(c.login).c_str(), shown(c.schema).c_str());
    }
    return 0;
}

int cmd_connections_delete(const CommonFlags& flags, const std::string& conn_id) {
    auto a = open_secrets(flags);
    if (!a) return fail(a.error().message);
    if (auto r = a->secrets->delete_connection(conn_id); !r) {
        if (r.error().code == ErrorCode::kNotFound) {
            return fail(fmt::format("Did not find a connection with `conn_id`={}", conn_id));
        }
        return fail(r.error().message);
    }
    std::printf("Successfully deleted connection with `conn_id`=%s\n", conn_id.c_str());
    return 0;
}

}  // namespace orquestra::app
