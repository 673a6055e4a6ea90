// The HTTP request parser as a connection uses it (src/http/server.cpp): Beast's request parser
// with the server's default limits on header and body, fed from a buffer that receives the
// bytes in pieces, several requests in a row on one connection; then what handlers read of a
// request (path, query parameters, headers, Basic credentials).
#include "http/message.hpp"
#include "http/server.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using orquestra::http::Request;
using orquestra::http::ServerOptions;

void use(const Request& req) {
    volatile std::size_t sink = 0;
    sink = sink + req.path().size() + req.query().size() + req.body().size();
    (void)req.query_param("status");
    for (const auto& [k, v] : req.query_params()) sink = sink + k.size() + v.size();
    sink = sink + req.header(bhttp::field::accept).size() + req.header("Content-Type").size();
    if (auto auth = orquestra::http::parse_basic_auth(req.header(bhttp::field::authorization))) {
        sink = sink + auth->first.size() + auth->second.size();
    }
    sink = sink + (req.keep_alive() ? 1 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ServerOptions options;
    if (size == 0) return 0;
    // The first byte picks the size of the pieces the bytes arrive in, as reads would.
    const std::size_t piece = 1 + data[0] % 64 * 97;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    beast::flat_buffer buffer;
    for (int request = 0; request < 8; ++request) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(options.max_header_bytes);
        parser.body_limit(options.max_body_bytes);
        beast::error_code ec;
        for (;;) {
            if (buffer.size() > 0) {
                const std::size_t used = parser.put(buffer.data(), ec);
                buffer.consume(used);
                if (parser.is_done()) break;
                if (ec && ec != bhttp::error::need_more) return 0;
                ec = {};
            }
            if (input.empty()) {
                // The peer closed: what Beast's read does at end of stream (end_of_stream
                // before the first byte of a request, else the parser decides).
                if (!parser.got_some()) return 0;
                parser.put_eof(ec);
                if (ec || !parser.is_done()) return 0;
                break;
            }
            const std::size_t n = std::min(piece, input.size());
            auto dest = buffer.prepare(n);
            std::copy_n(input.data(), n, static_cast<char*>(dest.data()));
            buffer.commit(n);
            input.remove_prefix(n);
        }
        Request req(parser.release());
        use(req);
        if (!req.keep_alive()) return 0;
    }
    return 0;
}
