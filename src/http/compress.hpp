#pragma once
// gzip for response bodies (zlib).

#include <memory>
#include <string>
#include <vector>
#include <string_view>

namespace orquestra::http {

std::string gzip_compress(std::string_view data, int level = 6);
// The same over the concatenation of `parts`, without joining them first.
std::string gzip_compress_parts(const std::vector<std::shared_ptr<const std::string>>& parts,
                                int level = 6);
// Empty optional-like: returns false when `data` is not valid gzip or inflates past `max_out`.
bool gzip_decompress(std::string_view data, std::string& out, std::size_t max_out);
// True when an Accept-Encoding header value admits gzip.
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace orquestra::http
