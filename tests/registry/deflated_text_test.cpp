#include "registry/deflated_text.hpp"

#include "http/compress.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace orquestra::registry {
namespace {

std::string joined(const std::vector<std::shared_ptr<const std::string>>& parts) {
    std::string out;
    for (const auto& p : parts) out += *p;
    return out;
}

TEST(DeflatedTextTest, InflatesBackToTheText) {
    std::string text;
    for (int i = 0; i < 5000; ++i) text += "{\"instanceId\":\"inst-" + std::to_string(i) + "\"},";
    auto piece = deflate_text(text);
    ASSERT_TRUE(piece.data);
    EXPECT_LT(piece.data->size(), text.size() / 4);
    EXPECT_EQ(piece.size, text.size());
    std::string out = "prefix:";
    ASSERT_TRUE(inflate_text(piece, out));
    EXPECT_EQ(out, "prefix:" + text);
}

TEST(DeflatedTextTest, PiecesMakeOneGzipDocument) {
    const std::string a = "<applications><apps__hashcode>UP_3_</apps__hashcode>";
    std::string b;
    for (int i = 0; i < 3000; ++i) b += "<instance>" + std::to_string(i * 7919) + "</instance>";
    const std::string c;  // an empty piece changes nothing
    const std::string d = "</applications>";
    GzipAssembly assembly;
    for (const std::string* text : std::initializer_list<const std::string*>{&a, &b, &c, &d}) {
        assembly.add(deflate_text(*text));
    }
    EXPECT_EQ(assembly.text_size(), a.size() + b.size() + d.size());
    std::string plain;
    ASSERT_TRUE(http::gzip_decompress(joined(assembly.finish()), plain, 1 << 24));
    EXPECT_EQ(plain, a + b + c + d);
}

TEST(DeflatedTextTest, NoPiecesIsAnEmptyGzipDocument) {
    GzipAssembly assembly;
    std::string plain = "x";
    ASSERT_TRUE(http::gzip_decompress(joined(assembly.finish()), plain, 16));
    EXPECT_EQ(plain, "");
}

TEST(DeflatedTextTest, CorruptPieceIsRefused) {
    auto piece = deflate_text(std::string(1000, 'q') + "tail");
    std::string broken = *piece.data;
    broken.resize(broken.size() / 2);
    piece.data = std::make_shared<const std::string>(broken);
    std::string out = "kept";
    EXPECT_FALSE(inflate_text(piece, out));
    EXPECT_EQ(out, "kept");
}

}  // namespace
}  // namespace orquestra::registry
