#include "registry/deflated_text.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>

namespace orquestra::registry {

namespace {

// gzip header: magic, deflate, no flags, no mtime, no extra flags, OS "unix".
const auto kGzipHeader =
    std::make_shared<const std::string>(std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10));
// A final, empty block with fixed Huffman codes: ends the concatenated deflate stream.
const auto kFinalBlock = std::make_shared<const std::string>(std::string("\x03\x00", 2));

void put_le32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

DeflatedText deflate_text(std::string_view text, int level) {
    DeflatedText piece;
    piece.size = text.size();
    piece.crc = static_cast<std::uint32_t>(
        crc32_z(0, reinterpret_cast<const Bytef*>(text.data()), text.size()));
    z_stream zs{};
    // Negative window bits: raw deflate, no zlib or gzip wrapper.
    if (deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return piece;
    }
    std::string out;
    out.reserve(text.size() / 8 + 64);
    std::array<Bytef, 32 * 1024> buffer;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    std::size_t left = text.size();
    int rc = Z_OK;
    do {
        // zlib counts input in uInt: feed very large texts in slices.
        const uInt slice = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
        zs.avail_in = slice;
        left -= slice;
        const int flush = left == 0 ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        do {
            zs.next_out = buffer.data();
            zs.avail_out = static_cast<uInt>(buffer.size());
            rc = deflate(&zs, flush);
            out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - zs.avail_out);
        } while (zs.avail_out == 0 && rc == Z_OK);
    } while (left > 0 && rc == Z_OK);
    deflateEnd(&zs);
    out.shrink_to_fit();  // kept in caches: no slack
    piece.data = std::make_shared<const std::string>(std::move(out));
    return piece;
}

bool inflate_text(const DeflatedText& piece, std::string& out) {
    if (piece.size == 0) return true;
    if (!piece.data) return false;
    z_stream zs{};
    if (inflateInit2(&zs, -15) != Z_OK) return false;
    const std::size_t start = out.size();
    out.resize(start + piece.size);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data->data()));
    zs.avail_in = static_cast<uInt>(piece.data->size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + start);
    zs.avail_out = static_cast<uInt>(piece.size);
    // The stream has no final block: it ends when all input is used and the text is whole.
    const int rc = inflate(&zs, Z_SYNC_FLUSH);
    const bool whole = (rc == Z_OK || rc == Z_BUF_ERROR) && zs.avail_out == 0;
    inflateEnd(&zs);
    if (!whole) out.resize(start);
    return whole;
}

void GzipAssembly::add(const DeflatedText& piece) {
    if (!started_) {
        parts_.push_back(kGzipHeader);
        started_ = true;
    }
    if (piece.size == 0) return;
    parts_.push_back(piece.data);
    crc_ = static_cast<std::uint32_t>(crc32_combine(crc_, piece.crc, static_cast<z_off_t>(piece.size)));
    size_ += piece.size;
}

std::vector<std::shared_ptr<const std::string>> GzipAssembly::finish() {
    if (!started_) parts_.push_back(kGzipHeader);
    parts_.push_back(kFinalBlock);
    std::string trailer;
    put_le32(trailer, crc_);
    put_le32(trailer, static_cast<std::uint32_t>(size_ & 0xffffffffu));  // ISIZE: length mod 2^32
    parts_.push_back(std::make_shared<const std::string>(std::move(trailer)));
    return std::move(parts_);
}

}  // namespace orquestra::registry
