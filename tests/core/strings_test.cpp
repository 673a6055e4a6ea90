#include "core/strings.hpp"

#include <gtest/gtest.h>

#include <string>

namespace orquestra {
namespace {

TEST(Base64Test, KnownValuesAndPadding) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("admin:s3cret"), "YWRtaW46czNjcmV0");
    EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
    EXPECT_EQ(base64_decode("YWRtaW46czNjcmV0"), "admin:s3cret");
    // Characters outside the alphabet are skipped; '=' ends the value.
    EXPECT_EQ(base64_decode("Zm9v\r\nYg==garbage"), "foob");
}

TEST(Base64Test, LongValuesOfEveryByteRoundTrip) {
    // The decoder once kept every bit it had read in an int, which overflowed after five
    // characters of a long header (the HTTP fuzz target found it under UBSan).
    std::string all;
    for (int round = 0; round < 40; ++round) {
        for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
    }
    for (std::size_t len : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{255},
                            std::size_t{256}, std::size_t{257}, all.size()}) {
        const std::string value = all.substr(0, len);
        const std::string encoded = base64_encode(value);
        EXPECT_EQ(encoded.size() % 4, 0U);
        EXPECT_EQ(base64_decode(encoded), value) << len;
    }
    EXPECT_EQ(base64_decode(std::string(100000, '/')).size(), 75000U);
}

}  // namespace
}  // namespace orquestra
