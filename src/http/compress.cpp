#include "http/compress.hpp"

#include "core/strings.hpp"

#include <zlib.h>

#include <array>

namespace orquestra::http {

namespace {

std::string deflate_pieces(const std::vector<std::string_view>& pieces, int level) {
    z_stream zs{};
    // 15 window bits + 16: write a gzip header and trailer.
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
    std::size_t total = 0;
    for (auto p : pieces) total += p.size();
    std::string out;
    out.resize(deflateBound(&zs, static_cast<uLong>(total)) + 64);
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(pieces[i].data()));
        zs.avail_in = static_cast<uInt>(pieces[i].size());
        deflate(&zs, i + 1 == pieces.size() ? Z_FINISH : Z_NO_FLUSH);
    }
    if (pieces.empty()) deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

}  // namespace

std::string gzip_compress(std::string_view data, int level) {
    return deflate_pieces({data}, level);
}

std::string gzip_compress_parts(const std::vector<std::shared_ptr<const std::string>>& parts,
                                int level) {
    std::vector<std::string_view> pieces;
    pieces.reserve(parts.size());
    for (const auto& p : parts) pieces.emplace_back(*p);
    return deflate_pieces(pieces, level);
}

bool gzip_decompress(std::string_view data, std::string& out, std::size_t max_out) {
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return false;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    std::array<char, 16384> chunk{};
    int rc = Z_OK;
    out.clear();
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
        zs.avail_out = static_cast<uInt>(chunk.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        out.append(chunk.data(), chunk.size() - zs.avail_out);
        if (out.size() > max_out) {
            rc = Z_BUF_ERROR;
            break;
        }
    }
    inflateEnd(&zs);
    return rc == Z_STREAM_END;
}

bool accepts_gzip(std::string_view accept_encoding) {
    for (auto part : split(accept_encoding, ',')) {
        auto item = trim(part);
        auto semi = item.find(';');
        auto name = trim(item.substr(0, semi));
        if (!iequals(name, "gzip")) continue;
        if (semi != std::string_view::npos) {
            auto q = trim(item.substr(semi + 1));
            if (q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000") return false;
        }
        return true;
    }
    return false;
}

}  // namespace orquestra::http
