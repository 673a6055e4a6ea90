#include "http/compress.hpp"

#include "core/strings.hpp"

#include <zlib.h>

#include <array>

namespace orquestra::http {

namespace {

// Deflates through a small fixed buffer: the output grows with what deflate produces, so
// compressing a large document never reserves its uncompressed size.
std::string deflate_pieces(const std::vector<std::string_view>& pieces, int level) {
    z_stream zs{};
    // 15 window bits + 16: write a gzip header and trailer.
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
    std::array<Bytef, 64 * 1024> buffer;
    std::string out;
    auto pump = [&](int flush) {
        int rc = Z_OK;
        do {
            zs.next_out = buffer.data();
            zs.avail_out = static_cast<uInt>(buffer.size());
            rc = deflate(&zs, flush);
            out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - zs.avail_out);
        } while (zs.avail_out == 0 && rc != Z_STREAM_END);
    };
    for (auto p : pieces) {
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p.data()));
        zs.avail_in = static_cast<uInt>(p.size());
        pump(Z_NO_FLUSH);
    }
    zs.next_in = nullptr;
    zs.avail_in = 0;
    pump(Z_FINISH);
    deflateEnd(&zs);
    out.shrink_to_fit();  // kept in caches: no slack
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
