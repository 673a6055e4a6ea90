#include "http/message.hpp"

#include "core/strings.hpp"

namespace orquestra::http {

Request::Request(beast_http::request<beast_http::string_body> msg) : msg_(std::move(msg)) {
    std::string_view t = msg_.target();
    auto q = t.find('?');
    if (q == std::string_view::npos) {
        path_ = t;
    } else {
        path_ = t.substr(0, q);
        query_ = t.substr(q + 1);
    }
}

std::optional<std::string> Request::query_param(std::string_view name) const {
    for (auto part : split(query_, '&')) {
        if (part.empty()) continue;
        auto eq = part.find('=');
        std::string_view key = part.substr(0, eq);
        auto decoded_key = percent_decode(key, true);
        if (!decoded_key || *decoded_key != name) continue;
        if (eq == std::string_view::npos) return std::string();
        auto value = percent_decode(part.substr(eq + 1), true);
        return value ? *value : std::string(part.substr(eq + 1));
    }
    return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> Request::query_params() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto part : split(query_, '&')) {
        if (part.empty()) continue;
        auto eq = part.find('=');
        std::string_view key = part.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
        auto k = percent_decode(key, true);
        auto v = percent_decode(value, true);
        out.emplace_back(k ? *k : std::string(key), v ? *v : std::string(value));
    }
    return out;
}

std::string_view Request::header(std::string_view name) const {
    auto it = msg_.find(name);
    if (it == msg_.end()) return {};
    auto v = it->value();
    return std::string_view(v.data(), v.size());
}

std::string_view Request::header(beast_http::field f) const {
    auto it = msg_.find(f);
    if (it == msg_.end()) return {};
    auto v = it->value();
    return std::string_view(v.data(), v.size());
}

std::string_view reason_phrase(int status) {
    return beast_http::obsolete_reason(static_cast<beast_http::status>(status));
}

std::string media_type(std::string_view content_type) {
    return to_lower(trim(content_type.substr(0, content_type.find(';'))));
}

std::optional<std::pair<std::string, std::string>> parse_basic_auth(std::string_view header) {
    header = trim(header);
    if (header.size() < 6 || !iequals(header.substr(0, 6), "Basic ")) return std::nullopt;
    std::string decoded = base64_decode(trim(header.substr(6)));
    auto colon = decoded.find(':');
    if (colon == std::string::npos) return std::nullopt;
    return std::make_pair(decoded.substr(0, colon), decoded.substr(colon + 1));
}

}  // namespace orquestra::http
