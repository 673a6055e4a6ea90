#include "dag/json_text.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace orquestra::dag {
namespace {

namespace json = boost::json;

TEST(JsonTextTest, CompactTextWithShortDoubles) {
    EXPECT_EQ(to_json_text(json::parse(R"({"a":[1,-2,1.5,2.0,1e20,true,null,"x\"y"],"b":{}})")),
              R"({"a":[1,-2,1.5,2,1e+20,true,null,"x\"y"],"b":{}})");
    EXPECT_EQ(to_json_text(json::value(18446744073709551615ull)), "18446744073709551615");
    EXPECT_EQ(to_json_text(json::value("ação\n")), "\"ação\\n\"");
}

TEST(JsonTextTest, TextOfAValue) {
    EXPECT_EQ(to_text(json::value("raw \"text\"")), "raw \"text\"");
    EXPECT_EQ(to_text(json::value(nullptr)), "null");
    EXPECT_EQ(to_text(json::value(true)), "true");
    EXPECT_EQ(to_text(json::value(0.25)), "0.25");
    EXPECT_EQ(to_text(json::parse(R"(["a"])")), R"(["a"])");
}

TEST(JsonTextTest, Truthiness) {
    for (const char* falsy : {"null", "false", "0", "0.0", "\"\"", "[]", "{}"}) {
        EXPECT_FALSE(truthy(json::parse(falsy))) << falsy;
    }
    for (const char* t : {"true", "1", "-1", "0.5", "\"0\"", "[0]", "{\"a\":null}"}) {
        EXPECT_TRUE(truthy(json::parse(t))) << t;
    }
    EXPECT_TRUE(truthy(json::value(std::uint64_t{1})));
}

TEST(JsonTextTest, EqualityAndOrderAcrossNumberKinds) {
    EXPECT_TRUE(json_equal(json::value(1), json::value(1.0)));
    EXPECT_TRUE(json_equal(json::value(std::uint64_t{5}), json::value(std::int64_t{5})));
    EXPECT_FALSE(json_equal(json::value(true), json::value(1)));
    EXPECT_FALSE(json_equal(json::value("1"), json::value(1)));
    EXPECT_TRUE(
        json_equal(json::parse(R"({"a":[1,{"b":2}]})"), json::parse(R"({"a":[1.0,{"b":2}]})")));
    EXPECT_FALSE(json_equal(json::parse(R"({"a":1})"), json::parse(R"({"b":1})")));
    EXPECT_FALSE(json_equal(json::parse("[1,2]"), json::parse("[1]")));
    EXPECT_EQ(compare_numbers(json::value(-1), json::value(18446744073709551615ull)), -1);
    EXPECT_EQ(compare_numbers(json::value(18446744073709551615ull), json::value(-1)), 1);
    EXPECT_EQ(compare_numbers(json::value(2), json::value(1.5)), 1);
    EXPECT_EQ(compare_numbers(json::value(3), json::value(std::uint64_t{3})), 0);
}

TEST(JsonTextTest, KindNamesAndLength) {
    EXPECT_EQ(kind_name(json::value(1)), "integer");
    EXPECT_EQ(kind_name(json::value(1.5)), "number");
    EXPECT_EQ(kind_name(json::parse("[]")), "list");
    EXPECT_EQ(kind_name(json::parse("{}")), "object");
    EXPECT_EQ(kind_name(json::value(nullptr)), "null");
    EXPECT_EQ(utf8_length("ação"), 4u);
    EXPECT_EQ(utf8_length(""), 0u);
    EXPECT_EQ(utf8_length("日本"), 2u);
}

}  // namespace
}  // namespace orquestra::dag
