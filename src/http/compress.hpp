#pragma once
// gzip for response bodies (zlib).

#include <string>
#include <string_view>

namespace orquestra::http {

std::string gzip_compress(std::string_view data, int level = 6);
// Empty optional-like: returns false when `data` is not valid gzip or inflates past `max_out`.
bool gzip_decompress(std::string_view data, std::string& out, std::size_t max_out);
// True when an Accept-Encoding header value admits gzip.
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace orquestra::http
