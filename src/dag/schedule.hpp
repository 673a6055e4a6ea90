#pragma once
// Schedules: when a DAG runs. Parsed once at load; immutable afterwards and thread-safe.
// All times are UTC milliseconds since the epoch.
//
// Forms: none (also null, empty) = only triggered runs; "@once"; presets "@hourly", "@daily"
// (= "@midnight"), "@weekly", "@monthly", "@quarterly", "@yearly" (= "@annually"), which are
// cron expressions; a duration ("1d", "30m", or a number of seconds) = a fixed interval anchored
// at the DAG's start_date; or a 5-field cron expression "minute hour day-of-month month
// day-of-week" with *, lists, ranges, steps, JAN-DEC and SUN-SAT names and Sunday as 0 or 7.
// When both day fields are restricted a day matches either of them (Vixie cron); a field that
// starts with '*' counts as unrestricted even with a step ("*/2").
//
// Airflow semantics: a scheduled run covers a data interval [start, end) between two
// consecutive fire times, is created once `end` has passed, and its logical date is `start`.

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace orquestra::dag {

struct Dag;

// A parsed 5-field cron expression.
class CronExpr {
  public:
    // Fails with kInvalidArgument naming the field: "cron '0 25 * * *': hour 25 is out of range
    // 0-23". Also refuses expressions that can never fire ("0 0 30 2 *").
    static Result<CronExpr> parse(std::string_view text);

    bool matches(Millis t) const;  // t's minute is a fire time (seconds ignored)
    // The first fire time strictly after t; nullopt if none before year 9999.
    std::optional<Millis> next_after(Millis t) const;
    // The last fire time at or before t; nullopt if none since year 1.
    std::optional<Millis> previous_or_equal(Millis t) const;

  private:
    bool day_matches(int year, unsigned month, unsigned day) const;

    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;     // 1..31
    std::bitset<13> months_;   // 1..12
    std::bitset<7> weekdays_;  // 0 = Sunday
    bool days_star_ = false;
    bool weekdays_star_ = false;
};

enum class ScheduleKind { kNone, kOnce, kInterval, kCron };

class Schedule {
  public:
    Schedule() = default;  // none

    ScheduleKind kind() const { return kind_; }
    // As written in the DAG file ("@daily", "1d", "0 6 * * 1-5"); empty for none.
    const std::string& text() const { return text_; }
    bool is_cron() const { return kind_ == ScheduleKind::kCron; }
    // The fixed interval of an interval schedule.
    std::optional<Millis> interval() const;
    // The 5-field expression of a cron schedule ("0 0 * * *" for "@daily"); empty otherwise.
    const std::string& cron_expression() const { return cron_text_; }

    // Interval schedules fire at anchor + k * interval; the loader sets the DAG's start_date.
    void set_anchor(Millis anchor) { anchor_ = anchor; }
    Millis anchor() const { return anchor_; }

    // The first fire time strictly after t. None and @once have no recurring fire times.
    std::optional<Millis> next_after(Millis t) const;
    // The last fire time at or before t.
    std::optional<Millis> previous_or_equal(Millis t) const;

  private:
    friend Result<Schedule> parse_schedule(std::string_view text);

    ScheduleKind kind_ = ScheduleKind::kNone;
    std::string text_;
    Millis interval_ = 0;
    Millis anchor_ = 0;
    std::optional<CronExpr> cron_;
    std::string cron_text_;
};

// Fails with kInvalidArgument: "bad schedule '@dayly': ...".
Result<Schedule> parse_schedule(std::string_view text);

// A data interval [start, end). For @once, start == end == start_date.
struct Interval {
    Millis start = 0;
    Millis end = 0;
    bool operator==(const Interval&) const = default;
};

// The next data interval to create a run for, given the logical date of the latest scheduled
// run (nullopt when there is none), or nullopt when no run is due at `now`. Runs start at the
// DAG's start_date and stop after end_date (an interval starting after end_date is never
// returned). With catchup, intervals come one at a time from the last one on; without it,
// only the latest complete interval (or a later one). @once yields [start_date, start_date]
// once. A DAG without start_date or schedule never has one.
std::optional<Interval> next_data_interval(const Dag& dag, std::optional<Millis> last_logical_date,
                                           Millis now, bool catchup);

// The same choice without the "is it due" test: the interval the next scheduled run will
// cover, possibly ending in the future (for the API's next_dagrun and for sleeping until then).
std::optional<Interval> upcoming_data_interval(const Dag& dag,
                                               std::optional<Millis> last_logical_date, Millis now,
                                               bool catchup);

}  // namespace orquestra::dag
