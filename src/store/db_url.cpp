#include "store/db_url.hpp"

#include <algorithm>
#include <cctype>

namespace orquestra::store {

namespace {

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
    });
}

constexpr std::string_view kMask = "****";

}  // namespace

bool is_postgres_url(std::string_view target) {
    return starts_with_nocase(target, "postgresql://") || starts_with_nocase(target, "postgres://");
}

std::string mask_password(std::string_view target) {
    if (!is_postgres_url(target)) return std::string(target);
    const std::size_t scheme_end = target.find("://") + 3;
    std::string out(target.substr(0, scheme_end));
    std::string_view rest = target.substr(scheme_end);
    // The authority ends at the first '/' or '?'; its userinfo at the last '@' within it.
    const std::size_t authority_end = std::min(rest.find_first_of("/?"), rest.size());
    const std::string_view authority = rest.substr(0, authority_end);
    const std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        const std::size_t colon = userinfo.find(':');
        if (colon != std::string_view::npos) {
            out.append(userinfo.substr(0, colon + 1)).append(kMask);
        } else {
            out.append(userinfo);
        }
        out.append(authority.substr(at));
    } else {
        out.append(authority);
    }
    rest = rest.substr(authority_end);
    const std::size_t query = rest.find('?');
    out.append(rest.substr(0, query));
    if (query == std::string_view::npos) return out;
    // Query parameters: password=... (any case) is masked, the others kept.
    std::string_view params = rest.substr(query + 1);
    out += '?';
    bool first = true;
    while (true) {
        const std::size_t amp = params.find('&');
        const std::string_view param = params.substr(0, amp);
        if (!first) out += '&';
        first = false;
        if (starts_with_nocase(param, "password=")) {
            out.append(param.substr(0, 9)).append(kMask);
        } else {
            out.append(param);
        }
        if (amp == std::string_view::npos) break;
        params = params.substr(amp + 1);
    }
    return out;
}

}  // namespace orquestra::store
