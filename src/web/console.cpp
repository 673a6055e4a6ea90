#include "web/console.hpp"

#include <array>

#include "core/strings.hpp"
#include "http/compress.hpp"

namespace orquestra::web {

namespace {

using http::beast_http::field;
using http::beast_http::verb;

// Security headers every console response carries.
void secure_headers(http::Response& res) {
    res.add_header("X-Content-Type-Options", "nosniff");
    res.add_header("Referrer-Policy", "no-referrer");
    res.add_header("X-Frame-Options", "DENY");
}

// The segments of a path split on '/', without the leading empty one ("/a/b" -> a, b).
std::vector<std::string_view> segments_of(std::string_view path) {
    std::vector<std::string_view> out;
    if (path.empty() || path.front() != '/') return out;
    path.remove_prefix(1);
    if (path.empty()) return out;
    return split(path, '/');
}

bool all_non_empty(const std::vector<std::string_view>& s) {
    for (auto part : s) {
        if (part.empty()) return false;
    }
    return true;
}

}  // namespace

WebConsole::WebConsole(std::span<const Asset> assets) {
    for (const auto& a : assets) {
        Body body;
        body.asset = &a;
        body.plain = std::make_shared<const std::string>(a.plain);
        if (!a.gzip.empty()) body.gzip = std::make_shared<const std::string>(a.gzip);
        assets_[a.path] = std::move(body);
    }
    if (auto it = assets_.find("/index.html"); it != assets_.end()) page_ = &it->second;
}

bool WebConsole::is_page(std::string_view path) {
    auto s = segments_of(path);
    if (path == "/" || path.empty()) return true;
    if (!all_non_empty(s)) return false;
    const std::size_t n = s.size();
    if (n == 1) return s[0] == "login" || s[0] == "dags" || s[0] == "services";
    if (s[0] == "services") return n == 2;
    if (s[0] != "dags") return false;
    if (n == 2) return true;
    if (n == 3) return s[2] == "trigger";
    if (n == 4) return s[2] == "runs";
    if (n == 6) return s[2] == "runs" && s[4] == "tasks";
    return false;
}

void WebConsole::send(const Body& body, bool head, bool gzip, int status,
                      http::Response& res) const {
    res = http::Response{};
    res.status = status;
    res.content_type = std::string(body.asset->content_type);
    const bool compressed = gzip && body.gzip != nullptr;
    if (!head) res.parts.push_back(compressed ? body.gzip : body.plain);
    if (compressed) res.add_header("Content-Encoding", "gzip");
    if (body.gzip != nullptr) res.add_header("Vary", "Accept-Encoding");
    secure_headers(res);
}

void WebConsole::handle(const http::Request& req, http::Response& res) const {
    const bool head = req.method() == verb::head;
    if (req.method() != verb::get && !head) {
        res = http::Response{};
        res.set(405, "text/plain; charset=utf-8", "Only GET and HEAD are allowed here\n");
        res.add_header("Allow", "GET, HEAD");
        secure_headers(res);
        return;
    }
    const bool gzip = http::accepts_gzip(req.header(field::accept_encoding));
    const std::string_view path = req.path();
    if (path.starts_with("/assets/")) {
        auto it = assets_.find(path);
        if (it == assets_.end()) {
            res = http::Response{};
            res.set(404, "text/plain; charset=utf-8", "No such asset\n");
            secure_headers(res);
            return;
        }
        send(it->second, head, gzip, 200, res);
        // The name carries the content's hash: a new build is a new name.
        res.add_header("Cache-Control", "public, max-age=31536000, immutable");
        return;
    }
    if (page_ == nullptr) {
        res = http::Response{};
        res.set(503, "text/plain; charset=utf-8", "The console is not built into this binary\n");
        return;
    }
    send(*page_, head, gzip, is_page(path) ? 200 : 404, res);
    res.add_header("Cache-Control", "no-cache");
    res.add_header("Content-Security-Policy", std::string(kContentSecurityPolicy));
}

}  // namespace orquestra::web
