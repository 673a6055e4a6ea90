#include "dag/schedule.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

#include "dag/dag.hpp"
#include "dag/time_text.hpp"

namespace orquestra::dag {
namespace {

constexpr Millis kMinute = 60'000;
constexpr Millis kHour = 60 * kMinute;
constexpr Millis kDay = 24 * kHour;

Millis at(std::string_view text) {
    Result<Millis> t = parse_datetime(text);
    EXPECT_TRUE(t.has_value()) << text;
    return t ? *t : 0;
}

std::string show(std::optional<Millis> t) { return t ? format_datetime(*t) : "none"; }

CronExpr cron(std::string_view text) {
    Result<CronExpr> c = CronExpr::parse(text);
    EXPECT_TRUE(c.has_value()) << text << ": " << c.error().message;
    return c ? *c : *CronExpr::parse("* * * * *");
}

std::string next(std::string_view expr, std::string_view from) {
    return show(cron(expr).next_after(at(from)));
}

std::string prev(std::string_view expr, std::string_view from) {
    return show(cron(expr).previous_or_equal(at(from)));
}

std::string schedule_error(std::string_view text) {
    Result<Schedule> s = parse_schedule(text);
    if (s) return "ok";
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    return s.error().message;
}

// ---- parsing -------------------------------------------------------------------------------

TEST(ParseScheduleTest, NoneForms) {
    for (const char* text : {"", "  ", "none", "None", "null", "NULL", "~"}) {
        Result<Schedule> s = parse_schedule(text);
        ASSERT_TRUE(s.has_value()) << text;
        EXPECT_EQ(s->kind(), ScheduleKind::kNone) << text;
        EXPECT_EQ(s->text(), "");
        EXPECT_FALSE(s->next_after(0).has_value());
        EXPECT_FALSE(s->previous_or_equal(0).has_value());
    }
    EXPECT_EQ(Schedule().kind(), ScheduleKind::kNone);
}

TEST(ParseScheduleTest, Presets) {
    struct Case {
        const char* text;
        const char* cron;
    };
    for (Case c :
         {Case{"@hourly", "0 * * * *"}, Case{"@daily", "0 0 * * *"}, Case{"@midnight", "0 0 * * *"},
          Case{"@weekly", "0 0 * * 0"}, Case{"@monthly", "0 0 1 * *"},
          Case{"@quarterly", "0 0 1 */3 *"}, Case{"@yearly", "0 0 1 1 *"},
          Case{"@annually", "0 0 1 1 *"}, Case{"@DAILY", "0 0 * * *"}}) {
        Result<Schedule> s = parse_schedule(c.text);
        ASSERT_TRUE(s.has_value()) << c.text;
        EXPECT_TRUE(s->is_cron());
        EXPECT_EQ(s->cron_expression(), c.cron);
        EXPECT_EQ(s->text(), c.text);
    }
    Result<Schedule> once = parse_schedule("@once");
    ASSERT_TRUE(once.has_value());
    EXPECT_EQ(once->kind(), ScheduleKind::kOnce);
    EXPECT_FALSE(once->next_after(0).has_value());
    EXPECT_EQ(schedule_error("@continuous").rfind("bad schedule '@continuous': unknown preset", 0),
              0u);
}

TEST(ParseScheduleTest, Durations) {
    Result<Schedule> s = parse_schedule("1h30m");
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->kind(), ScheduleKind::kInterval);
    EXPECT_EQ(s->interval(), 90 * kMinute);
    EXPECT_EQ(parse_schedule("3600")->interval(), kHour);  // bare number: seconds
    EXPECT_FALSE(parse_schedule("@daily")->interval().has_value());
    EXPECT_EQ(schedule_error("0s"), "bad schedule '0s': the interval must be longer than zero");
    EXPECT_EQ(schedule_error("daily").rfind("bad schedule 'daily': expected none, @once", 0), 0u);
}

TEST(ParseScheduleTest, CronErrorsNameTheField) {
    EXPECT_EQ(schedule_error("0 25 * * *"),
              "bad schedule '0 25 * * *': bad cron field hour '25': out of range 0-23");
    EXPECT_EQ(schedule_error("60 * * * *"),
              "bad schedule '60 * * * *': bad cron field minute '60': out of range 0-59");
    EXPECT_EQ(schedule_error("* * 0 * *"),
              "bad schedule '* * 0 * *': bad cron field day-of-month '0': out of range 1-31");
    EXPECT_EQ(schedule_error("* * * 13 *"),
              "bad schedule '* * * 13 *': bad cron field month '13': out of range 1-12");
    EXPECT_EQ(schedule_error("* * * * 8"),
              "bad schedule '* * * * 8': bad cron field day-of-week '8': out of range 0-7");
    EXPECT_EQ(
        schedule_error("* * * * FUN"),
        "bad schedule '* * * * FUN': bad cron field day-of-week 'FUN': not a number or a name");
    EXPECT_EQ(schedule_error("5-1 * * * *"),
              "bad schedule '5-1 * * * *': bad cron field minute '5-1': range goes backwards");
    EXPECT_EQ(schedule_error("*/0 * * * *"),
              "bad schedule '*/0 * * * *': bad cron field minute '*/0': bad step");
    EXPECT_EQ(schedule_error("1,,2 * * * *"),
              "bad schedule '1,,2 * * * *': bad cron field minute '1,,2': empty list item");
    EXPECT_EQ(schedule_error("0 0 ? * MON").find("only *, numbers, names, lists"),
              std::string("bad schedule '0 0 ? * MON': bad cron field day-of-month '?': ").size());
    EXPECT_EQ(schedule_error("0 12 L * *"),
              "bad schedule '0 12 L * *': bad cron field day-of-month 'L': not a number");
    EXPECT_EQ(schedule_error("0 0 * *"),
              "bad schedule '0 0 * *': a cron expression has 5 fields (minute hour day-of-month "
              "month day-of-week), got 4");
    EXPECT_EQ(schedule_error("0 0 31 4,6,9,11 *"),
              "bad schedule '0 0 31 4,6,9,11 *': the cron expression can never fire (no such day)");
    // Both day fields restricted: the weekday alone can fire, so Feb 30 is no obstacle.
    EXPECT_EQ(schedule_error("0 0 30 2 MON"), "ok");
}

// ---- cron next / previous ------------------------------------------------------------------

TEST(CronTest, NextIsStrictlyAfter) {
    EXPECT_EQ(next("*/15 * * * *", "2024-01-01T10:07:00Z"), "2024-01-01T10:15:00+00:00");
    EXPECT_EQ(next("*/15 * * * *", "2024-01-01T10:15:00Z"), "2024-01-01T10:30:00+00:00");
    EXPECT_EQ(next("*/15 * * * *", "2024-01-01T10:14:59.999Z"), "2024-01-01T10:15:00+00:00");
    EXPECT_EQ(next("*/15 * * * *", "2024-01-01T23:50:00Z"), "2024-01-02T00:00:00+00:00");
    EXPECT_EQ(next("* * * * *", "2024-01-01T10:00:30Z"), "2024-01-01T10:01:00+00:00");
}

TEST(CronTest, MonthAndYearBoundaries) {
    EXPECT_EQ(next("0 0 1 * *", "2023-12-15T00:00:00Z"), "2024-01-01T00:00:00+00:00");
    EXPECT_EQ(next("0 0 1 1 *", "2024-01-01T00:00:00Z"), "2025-01-01T00:00:00+00:00");
    EXPECT_EQ(next("0 0 31 * *", "2024-04-01T00:00:00Z"), "2024-05-31T00:00:00+00:00");
    EXPECT_EQ(next("59 23 31 12 *", "2024-06-01T00:00:00Z"), "2024-12-31T23:59:00+00:00");
    EXPECT_EQ(next("30 6 * * *", "2024-12-31T07:00:00Z"), "2025-01-01T06:30:00+00:00");
}

TEST(CronTest, LeapDay) {
    EXPECT_EQ(next("0 0 29 2 *", "2024-03-01T00:00:00Z"), "2028-02-29T00:00:00+00:00");
    EXPECT_EQ(next("0 0 29 2 *", "2023-01-01T00:00:00Z"), "2024-02-29T00:00:00+00:00");
    EXPECT_EQ(next("0 0 29 2 *", "2096-03-01T00:00:00Z"), "2104-02-29T00:00:00+00:00");  // 2100
    EXPECT_EQ(prev("0 0 29 2 *", "2104-02-28T00:00:00Z"), "2096-02-29T00:00:00+00:00");
}

TEST(CronTest, DayOfMonthOrDayOfWeekWhenBothRestricted) {
    // "the 13th, or any Friday" (Vixie cron): 2024-09-06 is a Friday, 2024-10-13 a Sunday.
    EXPECT_EQ(next("0 0 13 * 5", "2024-09-01T00:00:00Z"), "2024-09-06T00:00:00+00:00");
    EXPECT_EQ(next("0 0 13 * 5", "2024-10-11T00:00:00Z"), "2024-10-13T00:00:00+00:00");
    EXPECT_EQ(next("0 0 13 * 5", "2024-10-13T00:00:00Z"), "2024-10-18T00:00:00+00:00");
}

TEST(CronTest, StarFieldWithStepMeansAnd) {
    // Day-of-month "*/2" starts with '*': odd days that are also Mondays.
    EXPECT_EQ(next("0 0 */2 * 1", "2023-12-31T00:00:00Z"), "2024-01-01T00:00:00+00:00");
    EXPECT_EQ(next("0 0 */2 * 1", "2024-01-01T00:00:00Z"), "2024-01-15T00:00:00+00:00");
    // Day-of-week "*": only the day of month counts.
    EXPECT_EQ(next("0 0 15 * *", "2024-01-01T00:00:00Z"), "2024-01-15T00:00:00+00:00");
}

TEST(CronTest, ListsRangesStepsAndNames) {
    EXPECT_EQ(next("0 8-18/4 * * *", "2024-01-01T09:00:00Z"), "2024-01-01T12:00:00+00:00");
    EXPECT_EQ(next("0 8-18/4 * * *", "2024-01-01T16:30:00Z"), "2024-01-02T08:00:00+00:00");
    EXPECT_EQ(next("5,35 * * * *", "2024-01-01T10:06:00Z"), "2024-01-01T10:35:00+00:00");
    EXPECT_EQ(next("10/20 * * * *", "2024-01-01T10:31:00Z"), "2024-01-01T10:50:00+00:00");
    EXPECT_EQ(next("30 9 * JAN,JUL MON-FRI", "2024-01-31T10:00:00Z"), "2024-07-01T09:30:00+00:00");
    EXPECT_EQ(next("30 9 * jan,jul mon-fri", "2024-01-31T10:00:00Z"), "2024-07-01T09:30:00+00:00");
    EXPECT_EQ(next("0 6 * * 1-5", "2024-01-05T07:00:00Z"),
              "2024-01-08T06:00:00+00:00");                                             // Fri->Mon
    EXPECT_EQ(next("0 0 * * 7", "2024-01-01T00:00:00Z"), "2024-01-07T00:00:00+00:00");  // Sunday
    EXPECT_EQ(next("0 0 * * 0", "2024-01-01T00:00:00Z"), "2024-01-07T00:00:00+00:00");
    EXPECT_EQ(next("0 0 * * 5-7", "2024-01-06T01:00:00Z"), "2024-01-07T00:00:00+00:00");
    EXPECT_EQ(next("0 0 1 */3 *", "2024-01-02T00:00:00Z"), "2024-04-01T00:00:00+00:00");
}

TEST(CronTest, PreviousOrEqual) {
    EXPECT_EQ(prev("*/15 * * * *", "2024-01-01T10:15:00Z"), "2024-01-01T10:15:00+00:00");
    EXPECT_EQ(prev("*/15 * * * *", "2024-01-01T10:14:59Z"), "2024-01-01T10:00:00+00:00");
    EXPECT_EQ(prev("0 0 1 * *", "2024-01-01T00:00:00Z"), "2024-01-01T00:00:00+00:00");
    EXPECT_EQ(prev("0 0 1 * *", "2023-12-31T23:59:00Z"), "2023-12-01T00:00:00+00:00");
    EXPECT_EQ(prev("0 6 * * 1-5", "2024-01-08T05:00:00Z"), "2024-01-05T06:00:00+00:00");
    EXPECT_EQ(prev("0 0 31 * *", "2024-05-01T00:00:00Z"), "2024-03-31T00:00:00+00:00");
    EXPECT_EQ(prev("0 0 1 1 *", "2024-06-01T00:00:00Z"), "2024-01-01T00:00:00+00:00");
}

// Compares the field-by-field search with a minute-by-minute walk, over varied expressions and
// start times. The walk stays short because these expressions fire at least daily.
TEST(CronTest, AgreesWithBruteForce) {
    const char* exprs[] = {"*/7 * * * *", "0 */5 * * *",        "15 3,9 * * 1-5", "0 0 */2 * 1",
                           "0 0 13 * 5",  "*/20 20-23/2 * * *", "0 0 * * *",      "5 4 * * SUN"};
    std::uint64_t seed = 12345;
    auto random_time = [&] {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        Millis span = 3 * 365 * kDay;
        return at("2023-01-01T00:00:00Z") +
               static_cast<Millis>((seed >> 11) % static_cast<std::uint64_t>(span));
    };
    for (const char* text : exprs) {
        CronExpr c = cron(text);
        for (int i = 0; i < 20; ++i) {
            Millis t = random_time();
            Millis walk = (t / kMinute + 1) * kMinute;
            while (!c.matches(walk)) walk += kMinute;
            EXPECT_EQ(show(c.next_after(t)), show(walk)) << text << " after " << show(t);
            Millis back = (t / kMinute) * kMinute;
            while (!c.matches(back)) back -= kMinute;
            EXPECT_EQ(show(c.previous_or_equal(t)), show(back)) << text << " before " << show(t);
        }
    }
}

TEST(CronTest, SearchIsFastForRareExpressions) {
    auto start = std::chrono::steady_clock::now();
    CronExpr c = cron("0 0 29 2 1");  // Feb 29 or any Monday in February (OR)
    CronExpr rare = cron("0 0 29 2 *");
    Millis t = at("2001-01-01T00:00:00Z");
    for (int i = 0; i < 200; ++i) {
        auto n = rare.next_after(t);
        ASSERT_TRUE(n.has_value());
        t = *n;
        ASSERT_TRUE(c.next_after(t).has_value());
    }
    EXPECT_EQ(show(t), "2824-02-29T00:00:00+00:00");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(CronTest, ExtremeTimesAreSafe) {
    CronExpr c = cron("0 0 * * *");
    EXPECT_FALSE(c.next_after(std::numeric_limits<Millis>::max()).has_value());
    EXPECT_FALSE(c.previous_or_equal(std::numeric_limits<Millis>::min()).has_value());
    EXPECT_EQ(show(c.next_after(std::numeric_limits<Millis>::min())), "0001-01-01T00:00:00+00:00");
    EXPECT_EQ(show(c.previous_or_equal(std::numeric_limits<Millis>::max())),
              "9999-12-31T00:00:00+00:00");
    EXPECT_FALSE(c.next_after(at("9999-12-31T00:00:00Z")).has_value());
    Schedule s = *parse_schedule("1d");
    EXPECT_FALSE(s.next_after(std::numeric_limits<Millis>::max()).has_value());
    EXPECT_FALSE(s.previous_or_equal(std::numeric_limits<Millis>::min()).has_value());
}

// ---- interval schedules --------------------------------------------------------------------

TEST(IntervalScheduleTest, AlignedToAnchor) {
    Schedule s = *parse_schedule("6h");
    s.set_anchor(at("2024-01-01T01:00:00Z"));
    EXPECT_EQ(show(s.next_after(at("2024-01-01T01:00:00Z"))), "2024-01-01T07:00:00+00:00");
    EXPECT_EQ(show(s.next_after(at("2024-01-01T06:59:00Z"))), "2024-01-01T07:00:00+00:00");
    EXPECT_EQ(show(s.next_after(at("2023-12-31T20:00:00Z"))), "2024-01-01T01:00:00+00:00");
    EXPECT_EQ(show(s.previous_or_equal(at("2024-01-01T07:00:00Z"))), "2024-01-01T07:00:00+00:00");
    EXPECT_EQ(show(s.previous_or_equal(at("2024-01-01T12:59:00Z"))), "2024-01-01T07:00:00+00:00");
    EXPECT_EQ(show(s.previous_or_equal(at("2023-12-31T20:00:00Z"))), "2023-12-31T19:00:00+00:00");
}

// ---- data intervals ------------------------------------------------------------------------

Dag dag_with(std::string_view schedule, std::string_view start,
             std::optional<std::string_view> end = std::nullopt) {
    Dag d;
    d.dag_id = "d";
    d.schedule = *parse_schedule(schedule);
    d.start_date = at(start);
    d.schedule.set_anchor(*d.start_date);
    if (end) d.end_date = at(*end);
    return d;
}

std::string show(std::optional<Interval> i) {
    return i ? format_datetime(i->start) + " / " + format_datetime(i->end) : "none";
}

TEST(DataIntervalTest, CatchupWalksEveryInterval) {
    Dag d = dag_with("1d", "2024-01-01");
    Millis now = at("2024-01-03T12:00:00Z");
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, now, true)),
              "2024-01-01T00:00:00+00:00 / 2024-01-02T00:00:00+00:00");
    EXPECT_EQ(show(next_data_interval(d, at("2024-01-01"), now, true)),
              "2024-01-02T00:00:00+00:00 / 2024-01-03T00:00:00+00:00");
    // [01-03, 01-04) has not ended yet.
    EXPECT_EQ(show(next_data_interval(d, at("2024-01-02"), now, true)), "none");
    EXPECT_EQ(show(upcoming_data_interval(d, at("2024-01-02"), now, true)),
              "2024-01-03T00:00:00+00:00 / 2024-01-04T00:00:00+00:00");
    // The interval is due exactly when its end is reached.
    EXPECT_EQ(show(next_data_interval(d, at("2024-01-02"), at("2024-01-04"), true)),
              "2024-01-03T00:00:00+00:00 / 2024-01-04T00:00:00+00:00");
}

TEST(DataIntervalTest, WithoutCatchupOnlyTheLatest) {
    Dag d = dag_with("1d", "2024-01-01");
    Millis now = at("2024-01-10T12:00:00Z");
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, now, false)),
              "2024-01-09T00:00:00+00:00 / 2024-01-10T00:00:00+00:00");
    EXPECT_EQ(show(next_data_interval(d, at("2024-01-02"), now, false)),
              "2024-01-09T00:00:00+00:00 / 2024-01-10T00:00:00+00:00");
    EXPECT_EQ(show(next_data_interval(d, at("2024-01-09"), now, false)), "none");
    // Before the first interval has ended there is nothing to run.
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, at("2024-01-01T12:00:00Z"), false)), "none");
    EXPECT_EQ(show(upcoming_data_interval(d, std::nullopt, at("2024-01-01T12:00:00Z"), false)),
              "2024-01-01T00:00:00+00:00 / 2024-01-02T00:00:00+00:00");
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, at("2023-06-01"), false)), "none");
}

TEST(DataIntervalTest, CronWithoutCatchup) {
    Dag d = dag_with("0 6 * * 1-5", "2024-01-01");
    // Monday 2024-01-08 07:00: the latest complete interval is Fri 06:00 -> Mon 06:00.
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, at("2024-01-08T07:00:00Z"), false)),
              "2024-01-05T06:00:00+00:00 / 2024-01-08T06:00:00+00:00");
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, at("2024-01-08T07:00:00Z"), true)),
              "2024-01-01T06:00:00+00:00 / 2024-01-02T06:00:00+00:00");
}

TEST(DataIntervalTest, StartDateInsideAnIntervalWaitsForTheNextFireTime) {
    Dag d = dag_with("@daily", "2024-01-01T10:30:00Z");
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, at("2024-01-05"), true)),
              "2024-01-02T00:00:00+00:00 / 2024-01-03T00:00:00+00:00");
}

TEST(DataIntervalTest, EndDateStopsRuns) {
    Dag d = dag_with("1d", "2024-01-01", "2024-01-03");
    Millis now = at("2024-02-01");
    EXPECT_EQ(show(next_data_interval(d, at("2024-01-02"), now, true)),
              "2024-01-03T00:00:00+00:00 / 2024-01-04T00:00:00+00:00");  // starts on end_date
    EXPECT_EQ(show(next_data_interval(d, at("2024-01-03"), now, true)), "none");
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, now, false)), "none");  // latest is past
}

TEST(DataIntervalTest, OnceRunsOnceAtStartDate) {
    Dag d = dag_with("@once", "2024-01-01T06:00:00Z");
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, at("2024-01-01T05:00:00Z"), false)), "none");
    EXPECT_EQ(show(next_data_interval(d, std::nullopt, at("2024-01-01T06:00:00Z"), false)),
              "2024-01-01T06:00:00+00:00 / 2024-01-01T06:00:00+00:00");
    EXPECT_EQ(show(next_data_interval(d, at("2024-01-01T06:00:00Z"), at("2025-01-01"), true)),
              "none");
}

TEST(DataIntervalTest, NoScheduleOrNoStartDateNeverRuns) {
    Dag none = dag_with("none", "2024-01-01");
    EXPECT_EQ(show(next_data_interval(none, std::nullopt, at("2025-01-01"), true)), "none");
    Dag no_start;
    no_start.schedule = *parse_schedule("@daily");
    EXPECT_EQ(show(next_data_interval(no_start, std::nullopt, at("2025-01-01"), true)), "none");
}

}  // namespace
}  // namespace orquestra::dag
