// WebConsole: what it answers for pages, assets and anything else, with which caching and
// security headers; and that the console built into the binary has its page and bundle.

#include "web/console.hpp"

#include <boost/beast/http/message.hpp>
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "http/compress.hpp"

namespace orquestra::web {
namespace {

namespace bhttp = boost::beast::http;

const std::string kPage = "<!doctype html><title>Orquestra</title><script src=\"/assets/app.ABC.js\"></script>";
const std::string kScript(4000, 'x');
const std::string kScriptGzip = http::gzip_compress(kScript, 9);

const std::array<Asset, 2> kAssets = {{
    {"/index.html", "text/html; charset=utf-8", kPage, ""},
    {"/assets/app.ABC.js", "text/javascript; charset=utf-8", kScript, kScriptGzip},
}};

http::Request make(std::string_view target, bhttp::verb method = bhttp::verb::get,
                   std::string_view accept_encoding = "") {
    bhttp::request<bhttp::string_body> msg(method, target, 11);
    if (!accept_encoding.empty()) msg.set(bhttp::field::accept_encoding, accept_encoding);
    return http::Request(std::move(msg));
}

std::string header(const http::Response& res, std::string_view name) {
    for (const auto& [k, v] : res.headers) {
        if (k == name) return v;
    }
    return {};
}

std::string body(const http::Response& res) {
    std::string out = res.body;
    for (const auto& p : res.parts) out += *p;
    return out;
}

TEST(WebConsoleTest, PagesGetThePageUncachedWithAContentSecurityPolicy) {
    WebConsole console(kAssets);
    for (const char* path : {"/", "/login", "/dags", "/dags/seed", "/dags/seed/trigger",
                             "/dags/seed/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00",
                             "/dags/seed/runs/r1/tasks/obter_usuario", "/services",
                             "/services/SERVICO_USUARIOS"}) {
        http::Response res;
        console.handle(make(path), res);
        EXPECT_EQ(res.status, 200) << path;
        EXPECT_EQ(body(res), kPage) << path;
        EXPECT_EQ(res.content_type, "text/html; charset=utf-8");
        EXPECT_EQ(header(res, "Cache-Control"), "no-cache");
        EXPECT_EQ(header(res, "Content-Security-Policy"), WebConsole::kContentSecurityPolicy);
        EXPECT_NE(header(res, "Content-Security-Policy").find("script-src 'self'"),
                  std::string::npos);
        EXPECT_EQ(header(res, "X-Content-Type-Options"), "nosniff");
        EXPECT_EQ(header(res, "X-Frame-Options"), "DENY");
    }
}

TEST(WebConsoleTest, UnknownPathsGetThePageWith404) {
    WebConsole console(kAssets);
    for (const char* path : {"/nope", "/dags/a/b", "/dags//trigger", "/services/a/b",
                             "/dags/seed/runs/r1/tasks", "/index.htm", "/favicon.ico"}) {
        http::Response res;
        console.handle(make(path), res);
        EXPECT_EQ(res.status, 404) << path;
        EXPECT_EQ(body(res), kPage) << path;
        EXPECT_FALSE(header(res, "Content-Security-Policy").empty());
    }
}

TEST(WebConsoleTest, HashedAssetsAreImmutableAndSentCompressedToWhoAcceptsIt) {
    WebConsole console(kAssets);
    http::Response plain;
    console.handle(make("/assets/app.ABC.js"), plain);
    EXPECT_EQ(plain.status, 200);
    EXPECT_EQ(body(plain), kScript);
    EXPECT_EQ(header(plain, "Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_TRUE(header(plain, "Content-Encoding").empty());
    EXPECT_EQ(header(plain, "Vary"), "Accept-Encoding");

    http::Response zipped;
    console.handle(make("/assets/app.ABC.js", bhttp::verb::get, "gzip, deflate, br"), zipped);
    EXPECT_EQ(header(zipped, "Content-Encoding"), "gzip");
    std::string inflated;
    ASSERT_TRUE(http::gzip_decompress(body(zipped), inflated, 1 << 20));
    EXPECT_EQ(inflated, kScript);
    EXPECT_LT(body(zipped).size(), kScript.size() / 10);

    http::Response missing;
    console.handle(make("/assets/app.OLD.js"), missing);
    EXPECT_EQ(missing.status, 404);
    EXPECT_NE(body(missing), kPage);
}

TEST(WebConsoleTest, HeadHasNoBodyAndOtherMethodsAre405) {
    WebConsole console(kAssets);
    http::Response head;
    console.handle(make("/dags", bhttp::verb::head), head);
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(body(head).empty());
    http::Response post;
    console.handle(make("/dags", bhttp::verb::post), post);
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(header(post, "Allow"), "GET, HEAD");
}

TEST(WebConsoleTest, TheBuiltConsoleHasItsPageAndHashedBundle) {
    auto assets = embedded_assets();
    ASSERT_FALSE(assets.empty()) << "the console was not built into this binary";
    bool page = false;
    bool script = false;
    for (const auto& a : assets) {
        if (a.path == "/index.html") {
            page = true;
            // No inline script or style: the Content-Security-Policy would refuse them.
            EXPECT_EQ(a.plain.find("<script>"), std::string_view::npos);
            EXPECT_EQ(a.plain.find("<style"), std::string_view::npos);
            EXPECT_EQ(a.plain.find("style=\""), std::string_view::npos);
        }
        if (a.path.starts_with("/assets/") && a.path.ends_with(".js")) {
            script = true;
            EXPECT_FALSE(a.gzip.empty()) << a.path;
        }
    }
    EXPECT_TRUE(page);
    EXPECT_TRUE(script);
}

}  // namespace
}  // namespace orquestra::web
