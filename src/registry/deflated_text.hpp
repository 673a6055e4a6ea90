#pragma once
// DeflatedText: a piece of a document kept compressed, in a form that lets a gzip response be
// assembled from cached pieces without compressing anything again.
//
// Each piece is a raw deflate stream compressed on its own and ended by a sync flush (so it is
// byte-aligned and its last block is not final), with the CRC-32 and length of its text.
// Concatenating such pieces gives one valid deflate stream; GzipAssembly adds the gzip header,
// the final empty block and the trailer (CRCs combined, lengths summed). The registry keeps one
// piece per app and format instead of both the text and a gzip copy, and inflates a piece for
// the clients that do not take gzip.
//
// Thread-safe: pieces are immutable once made; functions keep no shared state.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::registry {

struct DeflatedText {
    std::shared_ptr<const std::string> data;  // raw deflate, sync-flushed, not final
    std::uint32_t crc = 0;                    // CRC-32 of the text
    std::size_t size = 0;                     // length of the text
};

// Compresses `text` (level 1: the pieces are re-made whenever their app changes).
DeflatedText deflate_text(std::string_view text, int level = 1);
// Appends the text of `piece` to `out`. False when the piece is corrupt (never for pieces
// made by deflate_text).
bool inflate_text(const DeflatedText& piece, std::string& out);

// One gzip member made of pieces, as response parts that share the pieces' bytes.
class GzipAssembly {
public:
    void add(const DeflatedText& piece);
    // The parts to send: header, each piece's data, final block and trailer. Call once.
    std::vector<std::shared_ptr<const std::string>> finish();
    std::size_t text_size() const { return size_; }

private:
    std::vector<std::shared_ptr<const std::string>> parts_;
    std::uint32_t crc_ = 0;
    std::size_t size_ = 0;
    bool started_ = false;
};

}  // namespace orquestra::registry
