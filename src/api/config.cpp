// GET /config and /config/section/{section}/option/{option} (Admin only), in Airflow's Config
// shape ({"sections": [{"name", "options": [{"key", "value"}]}]}) or, with Accept: text/plain,
// as INI text. Never a secret: options whose name looks like a credential show "< hidden >",
// and the password of any URL (a database URL) is masked.

#include <fmt/format.h>

#include <boost/json/array.hpp>

#include "api/api.hpp"
#include "api/api_detail.hpp"
#include "core/strings.hpp"

namespace orquestra::api {

namespace {

constexpr std::string_view kHidden = "< hidden >";

bool looks_secret(std::string_view key) {
    for (std::string_view word : {"password", "secret", "token", "key", "auth", "credential",
                                  "private", "cookie"}) {
        if (icontains(key, word)) return true;
    }
    return false;
}

// "scheme://user:password@host/..." -> "scheme://user:***@host/..."; password=... in the query
// also becomes ***. Other text is returned as it is.
std::string mask_url(std::string_view value) {
    std::string out(value);
    const auto scheme = out.find("://");
    if (scheme != std::string::npos) {
        const auto start = scheme + 3;
        const auto end = out.find_first_of("/?#", start);
        const auto at = out.rfind('@', end == std::string::npos ? out.size() : end);
        if (at != std::string::npos && at >= start) {
            const auto colon = out.find(':', start);
            if (colon != std::string::npos && colon < at) {
                out.replace(colon + 1, at - colon - 1, "***");
            }
        }
    }
    // key=value pairs whose key looks secret (a query string or a libpq keyword list).
    for (std::size_t pos = 0; pos < out.size();) {
        const auto eq = out.find('=', pos);
        if (eq == std::string::npos) break;
        auto key_start = out.find_last_of("?& ", eq);
        key_start = key_start == std::string::npos ? 0 : key_start + 1;
        auto value_end = out.find_first_of("& ", eq + 1);
        if (value_end == std::string::npos) value_end = out.size();
        if (looks_secret(std::string_view(out).substr(key_start, eq - key_start))) {
            out.replace(eq + 1, value_end - eq - 1, "***");
            value_end = eq + 4;
        }
        pos = value_end;
    }
    return out;
}

}  // namespace

std::string shown_config_value(std::string_view key, std::string_view value) {
    if (looks_secret(key)) return std::string(kHidden);
    return mask_url(value);
}

void ApiServer::get_config(Call& call, const std::string* section, const std::string* option) {
    const std::optional<std::string> only = section != nullptr
                                                ? std::optional<std::string>(*section)
                                                : call.req.query_param("section");
    json::array sections;
    std::string ini;
    bool found_section = !only.has_value();
    bool found_option = option == nullptr;
    for (const ConfigSection& s : options_.config) {
        if (only && s.name != *only) continue;
        found_section = true;
        json::array options;
        ini += fmt::format("[{}]\n", s.name);
        for (const auto& [key, value] : s.options) {
            if (option != nullptr && key != *option) continue;
            found_option = true;
            const std::string shown = shown_config_value(key, value);
            ini += fmt::format("{} = {}\n", key, shown);
            options.push_back(json::object{{"key", key}, {"value", shown}});
        }
        ini += "\n";
        sections.push_back(json::object{{"name", s.name}, {"options", std::move(options)}});
    }
    if (!found_section || !found_option) {
        send_error(call.res,
                   Error{ErrorCode::kNotFound,
                         !found_section
                             ? fmt::format("the configuration has no section '{}'", *only)
                             : fmt::format("the configuration has no option '{}' in section '{}'",
                                           *option, *only)},
                   call.instance);
        return;
    }
    const std::string_view accept = call.req.header(http::beast_http::field::accept);
    if (accept.find("text/plain") != std::string_view::npos &&
        accept.find("application/json") == std::string_view::npos) {
        call.res.set(200, "text/plain; charset=utf-8", std::move(ini));
        return;
    }
    send_json(call.res, json::object{{"sections", std::move(sections)}});
}

}  // namespace orquestra::api
