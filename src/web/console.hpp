#pragma once
// WebConsole: serves the console's front end (src/web/ui, built by esbuild and embedded in the
// binary at build time). Its data comes from the REST API (/api/v1, including /api/v1/ui).
//
// - /assets/<name>.<hash>.<ext>: the hashed bundle files, cached for a year ("immutable"),
//   gzip-compressed at build time and sent compressed to clients that accept it.
// - The console's pages (/, /login, /dags, /dags/{id}, .../trigger, .../runs/{run},
//   .../runs/{run}/tasks/{task}, /services, /services/{app}): the page (index.html), never
//   cached ("no-cache"), with a Content-Security-Policy that allows only this origin's scripts
//   and styles. Any other path gets the same page with status 404, and the console shows its
//   "page not found".
//
// Thread-safe and allocation-light: the assets are static, responses share their bytes.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/message.hpp"

namespace orquestra::web {

struct Asset {
    std::string_view path;  // "/index.html", "/assets/app.3F2A91C0.js"
    std::string_view content_type;
    std::string_view plain;
    std::string_view gzip;  // empty when compressing did not pay
};

// The assets built into this binary (console_assets.cpp, generated).
std::span<const Asset> embedded_assets();

class WebConsole {
public:
    static constexpr std::string_view kContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; worker-src 'self'; font-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    explicit WebConsole(std::span<const Asset> assets = embedded_assets());

    // GET and HEAD of the console's paths; 405 for other methods. Never blocks.
    void handle(const http::Request& req, http::Response& res) const;
    // True for the paths of the console's pages, its assets and its favicon.
    static bool is_page(std::string_view path);

private:
    struct Body {
        const Asset* asset = nullptr;
        std::shared_ptr<const std::string> plain;
        std::shared_ptr<const std::string> gzip;
    };
    void send(const Body& body, bool head, bool gzip, int status, http::Response& res) const;

    std::unordered_map<std::string_view, Body> assets_;
    const Body* page_ = nullptr;
};

}  // namespace orquestra::web
