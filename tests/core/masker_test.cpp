#include "core/masker.hpp"

#include <gtest/gtest.h>

namespace orquestra {
namespace {

TEST(MaskerTest, EveryOccurrenceOfEverySecretIsMasked) {
    Masker m;
    m.add("hunter22");
    m.add("tok-abc");
    EXPECT_EQ(m.apply("login with hunter22 and tok-abc, again hunter22"),
              "login with *** and ***, again ***");
    EXPECT_EQ(m.apply("nothing here"), "nothing here");
}

TEST(MaskerTest, LongerSecretsFirstAndShortOnesIgnored) {
    Masker m;
    m.add("abcd");
    m.add("abcdefgh");
    m.add("ab");  // too short to mask
    EXPECT_EQ(m.apply("abcdefgh abcd ab"), "*** *** ab");
    EXPECT_EQ(m.secrets().front(), "abcdefgh");
}

TEST(MaskerTest, EscapedFormsAreMaskedToo) {
    Masker m;
    m.add("p\"a/ss w");
    EXPECT_EQ(m.apply(R"({"password":"p\"a/ss w"})"), R"({"password":"***"})");
    EXPECT_EQ(m.apply("/login/p%22a%2Fss%20w"), "/login/***");
}

}  // namespace
}  // namespace orquestra
