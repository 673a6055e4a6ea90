#include "dag/time_text.hpp"

#include <gtest/gtest.h>

namespace orquestra::dag {
namespace {

std::string duration_error(std::string_view text) {
    Result<Millis> d = parse_duration(text);
    return d ? "ok" : d.error().message;
}

TEST(ParseDurationTest, UnitsAndCombinations) {
    EXPECT_EQ(*parse_duration("500ms"), 500);
    EXPECT_EQ(*parse_duration("30s"), 30'000);
    EXPECT_EQ(*parse_duration("1m"), 60'000);
    EXPECT_EQ(*parse_duration("1h30m"), 5'400'000);
    EXPECT_EQ(*parse_duration("2d"), 172'800'000);
    EXPECT_EQ(*parse_duration("1w"), 604'800'000);
    EXPECT_EQ(*parse_duration("1d2h3m4s5ms"), 93'784'005);
    EXPECT_EQ(*parse_duration("90"), 90'000);  // bare number: seconds
    EXPECT_EQ(*parse_duration(" 0 "), 0);
    EXPECT_EQ(*parse_duration("0s"), 0);
}

TEST(ParseDurationTest, Rejects) {
    EXPECT_EQ(duration_error(""), "empty duration");
    EXPECT_EQ(duration_error("-5s"), "duration '-5s' is negative");
    for (const char* bad :
         {"5 minutes", "1.5h", "h", "10x", "30m1h", "1m1m", "1s2", "PT1M", "s1"}) {
        EXPECT_EQ(duration_error(bad).rfind("bad duration", 0), 0u) << bad;
    }
    EXPECT_EQ(duration_error("99999999999999999999s"),
              "duration '99999999999999999999s' is too large");
    EXPECT_EQ(duration_error("40000d"), "duration '40000d' is too large (more than 100 years)");
}

TEST(ParseDatetimeTest, Forms) {
    EXPECT_EQ(*parse_datetime("1970-01-01"), 0);
    EXPECT_EQ(*parse_datetime("2024-01-01"), 1'704'067'200'000);
    EXPECT_EQ(*parse_datetime("2024-01-01T06:00:00"), 1'704'067'200'000 + 6 * 3'600'000);
    EXPECT_EQ(*parse_datetime("2024-01-01 06:00"), 1'704'067'200'000 + 6 * 3'600'000);
    EXPECT_EQ(*parse_datetime("2024-01-01T06:00:00Z"), *parse_datetime("2024-01-01T06:00:00"));
    EXPECT_EQ(*parse_datetime("2024-01-01T06:00:00+03:00"), *parse_datetime("2024-01-01T03:00:00"));
    EXPECT_EQ(*parse_datetime("2024-01-01T06:00:00-0130"), *parse_datetime("2024-01-01T07:30:00"));
    EXPECT_EQ(*parse_datetime("2024-01-01T06:00:00+02"), *parse_datetime("2024-01-01T04:00:00"));
    EXPECT_EQ(*parse_datetime("2024-01-01T00:00:00.5Z"), 1'704'067'200'500);
    EXPECT_EQ(*parse_datetime("2024-01-01T00:00:00.123456"), 1'704'067'200'123);
    EXPECT_EQ(*parse_datetime("2024-02-29"), *parse_datetime("2024-03-01") - 86'400'000);
    EXPECT_EQ(*parse_datetime("1969-12-31T23:59:59Z"), -1000);
}

TEST(ParseDatetimeTest, Rejects) {
    for (const char* bad :
         {"", "2024", "2024-1-01", "2024-13-01", "2023-02-29", "2024-01-32", "2024-01-01T24:00",
          "2024-01-01T10:60", "2024-01-01T10:00:61", "2024-01-01X", "2024-01-01T10",
          "2024-01-01T10:00+25:00", "0000-01-01", "yesterday", "2024-01-01T10:00:00.Z"}) {
        EXPECT_FALSE(parse_datetime(bad).has_value()) << bad;
    }
}

TEST(FormatTest, DatetimeDateAndDuration) {
    EXPECT_EQ(format_datetime(0), "1970-01-01T00:00:00+00:00");
    EXPECT_EQ(format_datetime(1'704'067'200'123), "2024-01-01T00:00:00.123+00:00");
    EXPECT_EQ(format_datetime(-1000), "1969-12-31T23:59:59+00:00");
    EXPECT_EQ(format_date(1'704'067'200'000 + 86'399'999), "2024-01-01");
    EXPECT_EQ(format_duration(0), "0s");
    EXPECT_EQ(format_duration(5'400'000), "1h30m");
    EXPECT_EQ(format_duration(93'784'005), "1d2h3m4s5ms");
    for (const char* text : {"500ms", "1h30m", "2d", "1d2h3m4s5ms"}) {
        EXPECT_EQ(format_duration(*parse_duration(text)), text);
    }
}

TEST(CivilTest, RoundTrip) {
    for (Millis t :
         {Millis{0}, Millis{1'704'067'200'123}, Millis{-86'400'001}, Millis{951'782'400'000}}) {
        EXPECT_EQ(from_civil(to_civil(t)), t);
    }
    CivilTime c = to_civil(*parse_datetime("2000-02-29T23:59:58.007Z"));
    EXPECT_EQ(c.year, 2000);
    EXPECT_EQ(c.month, 2u);
    EXPECT_EQ(c.day, 29u);
    EXPECT_EQ(c.hour, 23u);
    EXPECT_EQ(c.minute, 59u);
    EXPECT_EQ(c.second, 58u);
    EXPECT_EQ(c.millis, 7u);
}

}  // namespace
}  // namespace orquestra::dag
