#include "dag/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include "core/strings.hpp"
#include "dag/dag.hpp"
#include "dag/time_text.hpp"

namespace orquestra::dag {

namespace {

constexpr Millis kMinute = 60'000;
constexpr int kMaxYear = 9999;
// Every step of the searches below moves by at least an hour, and a year has fewer than 9000
// hours; a matching time is at most 8 years away (Feb 29 across a non-leap 2100), so this
// bound is never reached by an expression that can fire.
constexpr int kMaxSearchSteps = 200'000;

Error invalid(std::string message) {
    return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

Millis floor_div(Millis a, Millis b) {
    Millis q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

unsigned days_in_month(int year, unsigned month) {
    using namespace std::chrono;
    return static_cast<unsigned>(
        year_month_day_last{std::chrono::year{year}, month_day_last{std::chrono::month{month}}}
            .day());
}

unsigned weekday_of(int year, unsigned month, unsigned day) {
    using namespace std::chrono;
    return std::chrono::weekday{
        sys_days{year_month_day{std::chrono::year{year}, std::chrono::month{month},
                                std::chrono::day{day}}}}
        .c_encoding();
}

template <std::size_t N>
std::optional<unsigned> next_bit(const std::bitset<N>& bits, unsigned from) {
    for (std::size_t i = from; i < N; ++i) {
        if (bits[i]) return static_cast<unsigned>(i);
    }
    return std::nullopt;
}

template <std::size_t N>
std::optional<unsigned> prev_bit(const std::bitset<N>& bits, unsigned from) {
    for (std::size_t i = std::min<std::size_t>(from, N - 1) + 1; i-- > 0;) {
        if (bits[i]) return static_cast<unsigned>(i);
    }
    return std::nullopt;
}

struct FieldSpec {
    std::string_view name;
    unsigned min;
    unsigned max;
    const std::array<std::string_view, 12>* names;  // value of names[i] is i + name_base
    unsigned name_base;
};

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 12> kDayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI",
                                                        "SAT", "",    "",    "",    "",    ""};

Result<unsigned> field_value(std::string_view token, const FieldSpec& spec) {
    if (spec.names != nullptr) {
        for (std::size_t i = 0; i < spec.names->size(); ++i) {
            if (!(*spec.names)[i].empty() && iequals(token, (*spec.names)[i])) {
                return static_cast<unsigned>(i) + spec.name_base;
            }
        }
    }
    std::optional<long long> n = parse_int(token);
    if (!n) {
        return invalid(fmt::format("bad cron field {} '{}': not a number{}", spec.name, token,
                                   spec.names != nullptr ? " or a name" : ""));
    }
    if (*n < static_cast<long long>(spec.min) || *n > static_cast<long long>(spec.max)) {
        return invalid(fmt::format("bad cron field {} '{}': out of range {}-{}", spec.name, token,
                                   spec.min, spec.max));
    }
    return static_cast<unsigned>(*n);
}

Result<std::uint64_t> parse_field(std::string_view field, const FieldSpec& spec) {
    std::uint64_t mask = 0;
    for (std::string_view part : split(field, ',')) {
        if (part.empty()) {
            return invalid(
                fmt::format("bad cron field {} '{}': empty list item", spec.name, field));
        }
        std::string_view range = part;
        unsigned step = 1;
        bool has_step = false;
        if (std::size_t slash = part.find('/'); slash != std::string_view::npos) {
            range = part.substr(0, slash);
            std::optional<long long> s = parse_int(part.substr(slash + 1));
            if (!s || *s < 1 || *s > spec.max) {
                return invalid(fmt::format("bad cron field {} '{}': bad step", spec.name, part));
            }
            step = static_cast<unsigned>(*s);
            has_step = true;
        }
        unsigned lo = spec.min;
        unsigned hi = spec.max;
        if (range != "*") {
            std::size_t dash = range.find('-', 1);
            if (dash != std::string_view::npos) {
                Result<unsigned> a = field_value(range.substr(0, dash), spec);
                if (!a) return a.error();
                Result<unsigned> b = field_value(range.substr(dash + 1), spec);
                if (!b) return b.error();
                if (*a > *b) {
                    return invalid(fmt::format("bad cron field {} '{}': range goes backwards",
                                               spec.name, part));
                }
                lo = *a;
                hi = *b;
            } else {
                Result<unsigned> a = field_value(range, spec);
                if (!a) return a.error();
                lo = *a;
                hi = has_step ? spec.max : *a;  // "5/15" means 5-max/15
            }
        }
        for (unsigned v = lo; v <= hi; v += step) mask |= std::uint64_t{1} << v;
    }
    return mask;
}

template <std::size_t N>
std::bitset<N> to_bits(std::uint64_t mask) {
    std::bitset<N> bits;
    for (std::size_t i = 0; i < N; ++i) bits[i] = ((mask >> i) & 1u) != 0;
    return bits;
}

}  // namespace

Result<CronExpr> CronExpr::parse(std::string_view text) {
    std::vector<std::string_view> fields;
    for (std::string_view f : split(trim(text), ' ')) {
        // split() keeps empty pieces between repeated spaces; tabs count as spaces too.
        for (std::string_view g : split(f, '\t')) {
            if (!g.empty()) fields.push_back(g);
        }
    }
    if (fields.size() != 5) {
        return invalid(fmt::format(
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            "got {}",
            fields.size()));
    }
    static constexpr FieldSpec kSpecs[5] = {
        {"minute", 0, 59, nullptr, 0},        {"hour", 0, 23, nullptr, 0},
        {"day-of-month", 1, 31, nullptr, 0},  {"month", 1, 12, &kMonthNames, 1},
        {"day-of-week", 0, 7, &kDayNames, 0},
    };
    std::array<std::uint64_t, 5> masks{};
    for (std::size_t i = 0; i < 5; ++i) {
        if (fields[i].find_first_of("?#") != std::string_view::npos) {
            return invalid(
                fmt::format("bad cron field {} '{}': only *, numbers, names, lists, "
                            "ranges and steps are supported",
                            kSpecs[i].name, fields[i]));
        }
        Result<std::uint64_t> m = parse_field(fields[i], kSpecs[i]);
        if (!m) return m.error();
        masks[i] = *m;
    }
    if ((masks[4] >> 7) & 1u) masks[4] = (masks[4] | 1u) & ~(std::uint64_t{1} << 7);  // 7 = Sunday

    CronExpr c;
    c.minutes_ = to_bits<60>(masks[0]);
    c.hours_ = to_bits<24>(masks[1]);
    c.days_ = to_bits<32>(masks[2]);
    c.months_ = to_bits<13>(masks[3]);
    c.weekdays_ = to_bits<7>(masks[4]);
    c.days_star_ = fields[2].front() == '*';
    c.weekdays_star_ = fields[4].front() == '*';

    // When the day-of-month set must match (it always must unless both day fields are
    // restricted), some chosen month has to contain one of its days, or nothing ever fires.
    if (c.days_star_ || c.weekdays_star_) {
        bool possible = false;
        for (unsigned m = 1; m <= 12 && !possible; ++m) {
            if (!c.months_[m]) continue;
            for (unsigned d = 1; d <= days_in_month(2000, m) && !possible; ++d) {  // 2000: leap
                possible = c.days_[d];
            }
        }
        if (!possible) return invalid("the cron expression can never fire (no such day)");
    }
    return c;
}

bool CronExpr::day_matches(int year, unsigned month, unsigned day) const {
    bool dom = days_[day];
    bool dow = weekdays_[weekday_of(year, month, day)];
    return (days_star_ || weekdays_star_) ? (dom && dow) : (dom || dow);
}

bool CronExpr::matches(Millis t) const {
    CivilTime c = to_civil(t);
    return months_[c.month] && day_matches(c.year, c.month, c.day) && hours_[c.hour] &&
           minutes_[c.minute];
}

std::optional<Millis> CronExpr::next_after(Millis t) const {
    if (t >= kMaxMillis) return std::nullopt;
    t = std::max(t, kMinMillis - 1);
    CivilTime c = to_civil(floor_div(t, kMinute) * kMinute + kMinute);
    auto next_day = [&c] {
        c.hour = 0;
        c.minute = 0;
        if (++c.day > days_in_month(c.year, c.month)) {
            c.day = 1;
            if (++c.month > 12) {
                c.month = 1;
                ++c.year;
            }
        }
    };
    for (int step = 0; step < kMaxSearchSteps && c.year <= kMaxYear; ++step) {
        if (!months_[c.month]) {
            c.day = days_in_month(c.year, c.month);  // next_day() then moves to the 1st
            next_day();
            continue;
        }
        if (!day_matches(c.year, c.month, c.day)) {
            next_day();
            continue;
        }
        std::optional<unsigned> h = next_bit(hours_, c.hour);
        if (!h) {
            next_day();
            continue;
        }
        if (*h != c.hour) {
            c.hour = *h;
            c.minute = 0;
        }
        std::optional<unsigned> m = next_bit(minutes_, c.minute);
        if (!m) {
            c.minute = 0;
            if (++c.hour == 24) next_day();
            continue;
        }
        c.minute = *m;
        c.second = 0;
        c.millis = 0;
        return from_civil(c);
    }
    return std::nullopt;
}

std::optional<Millis> CronExpr::previous_or_equal(Millis t) const {
    if (t < kMinMillis) return std::nullopt;
    t = std::min(t, kMaxMillis);
    CivilTime c = to_civil(floor_div(t, kMinute) * kMinute);
    auto previous_day = [&c] {
        c.hour = 23;
        c.minute = 59;
        if (c.day > 1) {
            --c.day;
            return;
        }
        if (c.month > 1) {
            --c.month;
        } else {
            c.month = 12;
            --c.year;
        }
        c.day = days_in_month(c.year, c.month);
    };
    for (int step = 0; step < kMaxSearchSteps && c.year >= 1; ++step) {
        if (!months_[c.month]) {
            c.day = 1;  // previous_day() then moves to the last day of the month before
            previous_day();
            continue;
        }
        if (!day_matches(c.year, c.month, c.day)) {
            previous_day();
            continue;
        }
        std::optional<unsigned> h = prev_bit(hours_, c.hour);
        if (!h) {
            previous_day();
            continue;
        }
        if (*h != c.hour) {
            c.hour = *h;
            c.minute = 59;
        }
        std::optional<unsigned> m = prev_bit(minutes_, c.minute);
        if (!m) {
            if (c.hour == 0) {
                previous_day();
            } else {
                --c.hour;
                c.minute = 59;
            }
            continue;
        }
        c.minute = *m;
        c.second = 0;
        c.millis = 0;
        return from_civil(c);
    }
    return std::nullopt;
}

std::optional<Millis> Schedule::interval() const {
    if (kind_ != ScheduleKind::kInterval) return std::nullopt;
    return interval_;
}

std::optional<Millis> Schedule::next_after(Millis t) const {
    switch (kind_) {
        case ScheduleKind::kInterval:
            // Outside the supported range the arithmetic below could overflow.
            if (t >= kMaxMillis || t < kMinMillis) return std::nullopt;
            return anchor_ + (floor_div(t - anchor_, interval_) + 1) * interval_;
        case ScheduleKind::kCron:
            return cron_->next_after(t);
        case ScheduleKind::kNone:
        case ScheduleKind::kOnce:
            break;
    }
    return std::nullopt;
}

std::optional<Millis> Schedule::previous_or_equal(Millis t) const {
    switch (kind_) {
        case ScheduleKind::kInterval:
            if (t > kMaxMillis || t < kMinMillis) return std::nullopt;
            return anchor_ + floor_div(t - anchor_, interval_) * interval_;
        case ScheduleKind::kCron:
            return cron_->previous_or_equal(t);
        case ScheduleKind::kNone:
        case ScheduleKind::kOnce:
            break;
    }
    return std::nullopt;
}

Result<Schedule> parse_schedule(std::string_view text) {
    std::string_view s = trim(text);
    Schedule out;
    out.text_ = std::string(s);
    if (s.empty() || iequals(s, "none") || iequals(s, "null") || s == "~") {
        out.text_.clear();
        return out;
    }
    auto bad = [&](std::string_view why) {
        return invalid(fmt::format("bad schedule '{}': {}", s, why));
    };
    std::string cron_text;
    if (s.front() == '@') {
        std::string preset = to_lower(s);
        if (preset == "@once") {
            out.kind_ = ScheduleKind::kOnce;
            return out;
        }
        static constexpr std::pair<std::string_view, std::string_view> kPresets[] = {
            {"@hourly", "0 * * * *"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
            {"@weekly", "0 0 * * 0"}, {"@monthly", "0 0 1 * *"},  {"@quarterly", "0 0 1 */3 *"},
            {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"},
        };
        for (const auto& [name, expr] : kPresets) {
            if (preset == name) cron_text = std::string(expr);
        }
        if (cron_text.empty()) {
            return bad(
                "unknown preset (use @once, @hourly, @daily, @weekly, @monthly, "
                "@quarterly or @yearly)");
        }
    } else if (s.find_first_of(" \t") != std::string_view::npos) {
        cron_text = std::string(s);
    } else {
        Result<Millis> d = parse_duration(s);
        if (!d) {
            return bad(
                "expected none, @once, a preset such as @daily, a duration such as 1d, "
                "or a 5-field cron expression");
        }
        if (*d <= 0) return bad("the interval must be longer than zero");
        out.kind_ = ScheduleKind::kInterval;
        out.interval_ = *d;
        return out;
    }
    Result<CronExpr> cron = CronExpr::parse(cron_text);
    if (!cron) return bad(cron.error().message);
    out.kind_ = ScheduleKind::kCron;
    out.cron_ = std::move(*cron);
    out.cron_text_ = std::move(cron_text);
    return out;
}

std::optional<Interval> upcoming_data_interval(const Dag& dag,
                                               std::optional<Millis> last_logical_date, Millis now,
                                               bool catchup) {
    const Schedule& s = dag.schedule;
    if (!dag.start_date || s.kind() == ScheduleKind::kNone) return std::nullopt;
    Millis start_date = *dag.start_date;
    if (s.kind() == ScheduleKind::kOnce) {
        if (last_logical_date) return std::nullopt;
        if (dag.end_date && start_date > *dag.end_date) return std::nullopt;
        return Interval{start_date, start_date};
    }
    // The first fire time at or after start_date, or the one after the last run.
    std::optional<Millis> start =
        last_logical_date ? s.next_after(*last_logical_date) : s.next_after(start_date - 1);
    if (!start) return std::nullopt;
    if (!catchup) {
        // Skip to the latest interval that has ended by now, if that is later.
        if (std::optional<Millis> latest_end = s.previous_or_equal(now)) {
            std::optional<Millis> latest_start = s.previous_or_equal(*latest_end - 1);
            if (latest_start && *latest_start > *start) start = latest_start;
        }
    }
    if (dag.end_date && *start > *dag.end_date) return std::nullopt;
    std::optional<Millis> end = s.next_after(*start);
    if (!end) return std::nullopt;
    return Interval{*start, *end};
}

std::optional<Interval> next_data_interval(const Dag& dag, std::optional<Millis> last_logical_date,
                                           Millis now, bool catchup) {
    std::optional<Interval> next = upcoming_data_interval(dag, last_logical_date, now, catchup);
    if (!next || next->end > now) return std::nullopt;
    return next;
}

}  // namespace orquestra::dag
