#include "store/secrets.hpp"

#include "core/strings.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <array>
#include <cstdlib>

namespace orquestra::store {

namespace json = boost::json;

namespace {

Error invalid(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

bool has_control(std::string_view s) {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return true;
    }
    return false;
}

Result<void> check_field(std::string_view name, const std::optional<std::string>& value,
                         std::size_t limit) {
    if (value && value->size() > limit) {
        return invalid(fmt::format("the connection's {} is {} bytes, over the limit of {} bytes",
                                   name, value->size(), limit));
    }
    return {};
}

// Text to decode from a URI part, or an error naming the part (not its text: it may be a
// password).
Result<std::string> decoded(std::string_view part, std::string_view name) {
    auto text = percent_decode(part);
    if (!text) return invalid(fmt::format("the URI's {} holds a malformed %-escape", name));
    if (text->find('\0') != std::string::npos) {
        return invalid(fmt::format("the URI's {} holds a NUL byte", name));
    }
    return std::move(*text);
}

}  // namespace

bool looks_secret(std::string_view name) {
    static constexpr std::array<std::string_view, 10> kParts = {
        "password", "passwd",       "secret",        "token",     "api_key",
        "apikey",   "private_key", "access_token", "authorization", "credential"};
    for (auto part : kParts) {
        if (icontains(name, part)) return true;
    }
    return false;
}

Result<void> check_variable(std::string_view key, std::string_view value) {
    if (key.empty()) return invalid("a variable's key may not be empty");
    if (key.size() > kMaxVariableKeyBytes) {
        return invalid(fmt::format("the variable key is {} bytes, over the limit of {} bytes",
                                   key.size(), kMaxVariableKeyBytes));
    }
    if (has_control(key)) return invalid("a variable's key may not hold control characters");
    if (value.size() > kMaxVariableValueBytes) {
        return invalid(fmt::format(
            "the value of variable '{}' is {} bytes, over the limit of {} bytes (1 MiB)", key,
            value.size(), kMaxVariableValueBytes));
    }
    return {};
}

Result<void> check_conn_id(std::string_view conn_id) {
    if (conn_id.empty()) return invalid("a connection id may not be empty");
    if (conn_id.size() > kMaxConnIdBytes) {
        return invalid(fmt::format("the connection id is {} bytes, over the limit of {} bytes",
                                   conn_id.size(), kMaxConnIdBytes));
    }
    for (char c : conn_id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok) {
            return invalid(fmt::format(
                "connection id '{}' may hold only letters, digits, '_', '.' and '-'",
                has_control(conn_id) ? std::string("(with control characters)")
                                     : std::string(conn_id)));
        }
    }
    return {};
}

Result<void> check_connection(const Connection& c) {
    if (auto r = check_conn_id(c.conn_id); !r) return r;
    if (c.conn_type.size() > kMaxConnIdBytes || has_control(c.conn_type)) {
        return invalid(fmt::format("the connection's conn_type must be at most {} bytes of text",
                                   kMaxConnIdBytes));
    }
    for (const auto& [name, value] :
         {std::pair<std::string_view, const std::optional<std::string>*>{"host", &c.host},
          {"login", &c.login},
          {"password", &c.password},
          {"schema", &c.schema}}) {
        if (auto r = check_field(name, *value, kMaxConnFieldBytes); !r) return r;
    }
    if (auto r = check_field("description", c.description, kMaxDescriptionBytes); !r) return r;
    if (auto r = check_field("extra", c.extra, kMaxConnExtraBytes); !r) return r;
    if (c.port && (*c.port < 0 || *c.port > 65535)) {
        return invalid(fmt::format("the connection's port {} is not in 0..65535", *c.port));
    }
    if (c.extra && !c.extra->empty()) {
        boost::system::error_code ec;
        auto parsed = json::parse(*c.extra, ec);
        if (ec || !parsed.is_object()) {
            return invalid("the connection's extra must be a JSON object ({\"key\": \"value\"})");
        }
    }
    return {};
}

Result<Connection> parse_connection_uri(std::string_view conn_id, std::string_view uri) {
    if (uri.size() > kMaxConnExtraBytes) {
        return invalid(fmt::format("the connection URI is {} bytes, over the limit of {} bytes",
                                   uri.size(), kMaxConnExtraBytes));
    }
    if (has_control(uri)) return invalid("the connection URI holds control characters");
    Connection c;
    c.conn_id = std::string(conn_id);
    const std::size_t scheme_end = uri.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) {
        return invalid(
            "the connection URI must look like conn_type://login:password@host:port/schema "
            "(no '://' found)");
    }
    for (char ch : uri.substr(0, scheme_end)) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.' ||
                        ch == '_';
        if (!ok) return invalid("the connection URI's scheme (its conn_type) is not valid");
    }
    c.conn_type = to_lower(uri.substr(0, scheme_end));
    for (char& ch : c.conn_type) {
        if (ch == '-') ch = '_';
    }
    std::string_view rest = uri.substr(scheme_end + 3);
    std::string_view query;
    if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    std::string_view authority = rest;
    std::string_view path;
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
        authority = rest.substr(0, slash);
        path = rest.substr(slash + 1);
    }
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        std::string_view login = userinfo;
        if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
            login = userinfo.substr(0, colon);
            auto password = decoded(userinfo.substr(colon + 1), "password");
            if (!password) return password.error();
            c.password = std::move(*password);
        }
        auto decoded_login = decoded(login, "login");
        if (!decoded_login) return decoded_login.error();
        if (!decoded_login->empty()) c.login = std::move(*decoded_login);
    }
    std::string_view host = authority;
    std::string_view port;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return invalid("the connection URI's IPv6 host has no ']'");
        host = authority.substr(0, close + 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return invalid("the connection URI has text after its host");
            port = after.substr(1);
        }
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    auto decoded_host = decoded(host, "host");
    if (!decoded_host) return decoded_host.error();
    if (!decoded_host->empty()) c.host = std::move(*decoded_host);
    if (!port.empty()) {
        auto n = parse_int(port);
        if (!n || *n < 0 || *n > 65535) {
            return invalid(fmt::format("the connection URI's port '{}' is not a number in 0..65535",
                                       port.substr(0, 16)));
        }
        c.port = *n;
    }
    if (!path.empty()) {
        auto schema = decoded(path, "path");
        if (!schema) return schema.error();
        c.schema = std::move(*schema);
    }
    if (!query.empty()) {
        json::object extra;
        for (auto param : split(query, '&')) {
            if (param.empty()) continue;
            const auto eq = param.find('=');
            auto name = percent_decode(param.substr(0, eq), true);
            auto value = percent_decode(eq == std::string_view::npos ? std::string_view()
                                                                     : param.substr(eq + 1),
                                        true);
            if (!name || !value) return invalid("the connection URI's query holds a malformed %-escape");
            if (*name == "__extra__") {
                boost::system::error_code ec;
                auto parsed = json::parse(*value, ec);
                if (ec || !parsed.is_object()) {
                    return invalid("the connection URI's __extra__ must be a JSON object");
                }
                for (auto& [k, v] : parsed.as_object()) extra[k] = v;
                continue;
            }
            extra[*name] = *value;
        }
        if (!extra.empty()) c.extra = json::serialize(extra);
    }
    if (auto ok = check_connection(c); !ok) return ok.error();
    return c;
}

namespace {

void redact(json::value& v) {
    if (auto* o = v.if_object()) {
        for (auto& [k, member] : *o) {
            if (looks_secret(k)) {
                member = "***";
            } else {
                redact(member);
            }
        }
    } else if (auto* a = v.if_array()) {
        for (auto& item : *a) redact(item);
    }
}

}  // namespace

std::string redact_extra(std::string_view extra) {
    if (extra.empty()) return std::string();
    boost::system::error_code ec;
    auto v = json::parse(extra, ec);
    if (ec) return "***";
    redact(v);
    return json::serialize(v);
}

EnvLookup process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

Secrets::Secrets(Store& store, SecretKeySource& keys, EnvLookup env)
    : store_(store), keys_(keys), env_(std::move(env)) {}

Result<void> Secrets::put_variable(const std::string& key, const std::string& value,
                                   const std::optional<std::string>& description, PutMode mode) {
    if (auto ok = check_variable(key, value); !ok) return ok;
    if (description && description->size() > kMaxDescriptionBytes) {
        return invalid(fmt::format("the description is {} bytes, over the limit of {} bytes",
                                   description->size(), kMaxDescriptionBytes));
    }
    Variable v;
    v.key = key;
    v.description = description;
    if (looks_secret(key)) {
        auto box = keys_.get();
        if (!box) return box.error();
        v.value = (*box)->seal(value);
        v.is_encrypted = true;
    } else {
        v.value = value;
    }
    return store_.put_variable(v, mode);
}

Result<Variable> Secrets::open_variable(Variable stored) {
    if (stored.is_encrypted) {
        auto box = keys_.get();
        if (!box) return box.error();
        auto plain = (*box)->open(stored.value);
        if (!plain) {
            return Error{plain.error().code,
                         fmt::format("variable '{}': {}", stored.key, plain.error().message)};
        }
        stored.value = std::move(*plain);
    }
    // What the callers mask: a secret-looking key, whether it was stored sealed or not.
    stored.is_encrypted = stored.is_encrypted || looks_secret(stored.key);
    return stored;
}

Result<std::optional<Variable>> Secrets::get_variable(const std::string& key) {
    if (auto ok = check_variable(key, ""); !ok) return ok.error();
    if (auto value = env_(std::string(kVariableEnvPrefix) + to_upper(key))) {
        Variable v;
        v.key = key;
        v.value = std::move(*value);
        v.is_encrypted = looks_secret(key);
        return std::optional<Variable>(std::move(v));
    }
    auto stored = store_.get_variable(key);
    if (!stored) return stored.error();
    if (!*stored) return std::optional<Variable>();
    auto opened = open_variable(std::move(**stored));
    if (!opened) return opened.error();
    return std::optional<Variable>(std::move(*opened));
}

Result<Page<Variable>> Secrets::list_variables(int limit, int offset) {
    auto page = store_.list_variables(limit, offset);
    if (!page) return page.error();
    for (auto& v : page->items) {
        auto opened = open_variable(std::move(v));
        if (!opened) return opened.error();
        v = std::move(*opened);
    }
    return page;
}

Result<void> Secrets::delete_variable(const std::string& key) {
    return store_.delete_variable(key);
}

Result<void> Secrets::put_connection(const Connection& connection, PutMode mode) {
    if (auto ok = check_connection(connection); !ok) return ok;
    Connection c = connection;
    c.is_encrypted = false;
    c.is_extra_encrypted = false;
    const bool seal_password = c.password && !c.password->empty();
    const bool seal_extra = c.extra && !c.extra->empty();
    if (seal_password || seal_extra) {
        auto box = keys_.get();
        if (!box) return box.error();
        if (seal_password) {
            c.password = (*box)->seal(*c.password);
            c.is_encrypted = true;
        }
        if (seal_extra) {
            c.extra = (*box)->seal(*c.extra);
            c.is_extra_encrypted = true;
        }
    }
    return store_.put_connection(c, mode);
}

Result<Connection> Secrets::open_connection(Connection c) {
    if (c.is_encrypted || c.is_extra_encrypted) {
        auto box = keys_.get();
        if (!box) return box.error();
        if (c.is_encrypted && c.password) {
            auto plain = (*box)->open(*c.password);
            if (!plain) {
                return Error{plain.error().code, fmt::format("connection '{}' password: {}",
                                                             c.conn_id, plain.error().message)};
            }
            c.password = std::move(*plain);
        }
        if (c.is_extra_encrypted && c.extra) {
            auto plain = (*box)->open(*c.extra);
            if (!plain) {
                return Error{plain.error().code, fmt::format("connection '{}' extra: {}",
                                                             c.conn_id, plain.error().message)};
            }
            c.extra = std::move(*plain);
        }
    }
    c.is_encrypted = c.password.has_value() && !c.password->empty();
    return c;
}

Result<std::optional<Connection>> Secrets::get_connection(const std::string& conn_id) {
    if (auto ok = check_conn_id(conn_id); !ok) return ok.error();
    const std::string env_name = std::string(kConnectionEnvPrefix) + to_upper(conn_id);
    if (auto uri = env_(env_name)) {
        auto c = parse_connection_uri(conn_id, *uri);
        if (!c) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("{}: {}", env_name, c.error().message)};
        }
        c->is_encrypted = c->password.has_value() && !c->password->empty();
        return std::optional<Connection>(std::move(*c));
    }
    auto stored = store_.get_connection(conn_id);
    if (!stored) return stored.error();
    if (!*stored) return std::optional<Connection>();
    auto opened = open_connection(std::move(**stored));
    if (!opened) return opened.error();
    return std::optional<Connection>(std::move(*opened));
}

Result<Page<Connection>> Secrets::list_connections(int limit, int offset) {
    auto page = store_.list_connections(limit, offset);
    if (!page) return page.error();
    for (auto& c : page->items) {
        auto opened = open_connection(std::move(c));
        if (!opened) return opened.error();
        c = std::move(*opened);
    }
    return page;
}

Result<void> Secrets::delete_connection(const std::string& conn_id) {
    return store_.delete_connection(conn_id);
}

}  // namespace orquestra::store
