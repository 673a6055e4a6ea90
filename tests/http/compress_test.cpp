#include "http/compress.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace orquestra::http {
namespace {

std::string inflate(const std::string& gz) {
    std::string out;
    EXPECT_TRUE(gzip_decompress(gz, out, 64u << 20));
    return out;
}

TEST(CompressTest, EmptyInputRoundTrips) {
    const std::string gz = gzip_compress("");
    ASSERT_GE(gz.size(), 18u);  // gzip header and trailer
    EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
    EXPECT_EQ(inflate(gz), "");
}

TEST(CompressTest, IncompressibleInputLargerThanTheBufferRoundTrips) {
    // Random bytes compress to more than the 64 KiB output buffer: several rounds of output.
    std::mt19937 rng(7);
    std::string data(1 << 20, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    const std::string gz = gzip_compress(data, 1);
    EXPECT_GT(gz.size(), data.size());  // stored blocks add a little
    EXPECT_EQ(inflate(gz), data);
}

TEST(CompressTest, LargeDocumentKeepsNoSlackInItsResult) {
    std::string data;
    for (int i = 0; i < 200'000; ++i) data += "{\"instanceId\":\"host-" + std::to_string(i) + "\"},";
    const std::string gz = gzip_compress(data, 1);
    EXPECT_LT(gz.size(), data.size() / 4);
    // The cached result holds what it needs, not a buffer sized for the input.
    EXPECT_LT(gz.capacity(), gz.size() + 64);
    EXPECT_EQ(inflate(gz), data);
}

TEST(CompressTest, PartsCompressAsTheirConcatenation) {
    std::vector<std::shared_ptr<const std::string>> parts;
    std::string whole;
    for (int i = 0; i < 50; ++i) {
        auto p = std::make_shared<const std::string>(std::string(1000 + i * 37, static_cast<char>('a' + i % 26)));
        whole += *p;
        parts.push_back(std::move(p));
    }
    EXPECT_EQ(inflate(gzip_compress_parts(parts, 1)), whole);
    EXPECT_EQ(inflate(gzip_compress_parts({}, 1)), "");
}

TEST(CompressTest, DecompressRefusesOutputOverTheLimitAndGarbage) {
    const std::string gz = gzip_compress(std::string(100'000, 'x'));
    std::string out;
    EXPECT_FALSE(gzip_decompress(gz, out, 10'000));
    EXPECT_FALSE(gzip_decompress("not gzip at all", out, 10'000));
}

TEST(CompressTest, AcceptsGzipReadsTheHeaderLikeBrowsersSendIt) {
    EXPECT_TRUE(accepts_gzip("gzip"));
    EXPECT_TRUE(accepts_gzip("deflate, gzip;q=1.0, *;q=0.5"));
    EXPECT_TRUE(accepts_gzip("GZIP"));
    EXPECT_FALSE(accepts_gzip(""));
    EXPECT_FALSE(accepts_gzip("gzip;q=0"));
    EXPECT_FALSE(accepts_gzip("br, deflate"));
}

}  // namespace
}  // namespace orquestra::http
