#include "dag/time_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>

namespace orquestra::dag {

namespace {

namespace chr = std::chrono;

constexpr Millis kSecond = 1000;
constexpr Millis kMinute = 60 * kSecond;
constexpr Millis kHour = 60 * kMinute;
constexpr Millis kDay = 24 * kHour;
constexpr Millis kWeek = 7 * kDay;
constexpr Millis kMaxDuration = 100 * 366 * kDay;

Error invalid(std::string message) {
    return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `width` digits at `pos`; advances `pos`.
bool read_fixed(std::string_view s, std::size_t& pos, std::size_t width, unsigned& out) {
    if (pos + width > s.size()) return false;
    unsigned v = 0;
    for (std::size_t i = 0; i < width; ++i) {
        char c = s[pos + i];
        if (!is_digit(c)) return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    out = v;
    pos += width;
    return true;
}

}  // namespace

Result<Millis> parse_duration(std::string_view text) {
    std::string_view s = text;
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    if (s.empty()) return invalid("empty duration");
    if (s.front() == '-') return invalid(fmt::format("duration '{}' is negative", text));
    auto bad = [&] {
        return invalid(fmt::format(
            "bad duration '{}': expected e.g. 30s, 1m, 1h30m, 2d, 500ms or a number of seconds",
            text));
    };
    Millis total = 0;
    std::size_t pos = 0;
    Millis previous_scale = kMaxDuration;
    while (pos < s.size()) {
        std::size_t start = pos;
        while (pos < s.size() && is_digit(s[pos])) ++pos;
        if (pos == start) return bad();
        std::int64_t n = 0;
        auto [ptr, ec] = std::from_chars(s.data() + start, s.data() + pos, n);
        if (ec != std::errc{} || ptr != s.data() + pos) {
            return invalid(fmt::format("duration '{}' is too large", text));
        }
        std::size_t unit_start = pos;
        while (pos < s.size() && s[pos] >= 'a' && s[pos] <= 'z') ++pos;
        std::string_view unit = s.substr(unit_start, pos - unit_start);
        Millis scale = 0;
        if (unit.empty()) {
            // A bare integer means seconds; it must then be the whole text.
            if (start != 0 || pos != s.size()) return bad();
            scale = kSecond;
        } else {
            if (unit == "ms")
                scale = 1;
            else if (unit == "s")
                scale = kSecond;
            else if (unit == "m")
                scale = kMinute;
            else if (unit == "h")
                scale = kHour;
            else if (unit == "d")
                scale = kDay;
            else if (unit == "w")
                scale = kWeek;
            else
                return bad();
            // Largest unit first, each once: "1h30m", not "30m1h" or "1m1m".
            if (scale >= previous_scale) return bad();
            previous_scale = scale;
        }
        if (n > kMaxDuration / scale || total + n * scale > kMaxDuration) {
            return invalid(fmt::format("duration '{}' is too large (more than 100 years)", text));
        }
        total += n * scale;
    }
    return total;
}

Result<Millis> parse_datetime(std::string_view text) {
    auto bad = [&] {
        return invalid(fmt::format(
            "bad date '{}': expected YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z|+hh:mm]", text));
    };
    std::string_view s = text;
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    std::size_t pos = 0;
    unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
    if (!read_fixed(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' ||
        !read_fixed(s, pos, 2, month) || pos >= s.size() || s[pos++] != '-' ||
        !read_fixed(s, pos, 2, day)) {
        return bad();
    }
    chr::year_month_day ymd{chr::year{static_cast<int>(year)}, chr::month{month}, chr::day{day}};
    if (year == 0 || !ymd.ok()) return invalid(fmt::format("bad date '{}': no such day", text));
    if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
        ++pos;
        if (!read_fixed(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' ||
            !read_fixed(s, pos, 2, minute)) {
            return bad();
        }
        if (pos < s.size() && s[pos] == ':') {
            ++pos;
            if (!read_fixed(s, pos, 2, second)) return bad();
            if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
                ++pos;
                std::size_t digits = 0;
                while (pos < s.size() && is_digit(s[pos])) {
                    if (digits < 3) millis = millis * 10 + static_cast<unsigned>(s[pos] - '0');
                    ++digits;
                    ++pos;
                }
                if (digits == 0) return bad();
                for (std::size_t i = digits; i < 3; ++i) millis *= 10;
            }
        }
        if (hour > 23 || minute > 59 || second > 59) {
            return invalid(fmt::format("bad date '{}': time out of range", text));
        }
    }
    Millis offset = 0;
    if (pos < s.size()) {
        char c = s[pos];
        if ((c == 'Z' || c == 'z') && pos + 1 == s.size()) {
            ++pos;
        } else if (c == '+' || c == '-') {
            ++pos;
            unsigned oh = 0, om = 0;
            if (!read_fixed(s, pos, 2, oh)) return bad();
            if (pos < s.size() && s[pos] == ':') ++pos;
            if (pos < s.size() && !read_fixed(s, pos, 2, om)) return bad();
            if (oh > 23 || om > 59) return bad();
            offset = static_cast<Millis>(oh) * kHour + static_cast<Millis>(om) * kMinute;
            if (c == '-') offset = -offset;
        }
        if (pos != s.size()) return bad();
    }
    Millis days = chr::sys_days{ymd}.time_since_epoch().count();
    return days * kDay + static_cast<Millis>(hour) * kHour + static_cast<Millis>(minute) * kMinute +
           static_cast<Millis>(second) * kSecond + static_cast<Millis>(millis) - offset;
}

CivilTime to_civil(Millis t) {
    t = std::clamp(t, kMinMillis, kMaxMillis);
    chr::sys_time<chr::milliseconds> tp{chr::milliseconds{t}};
    auto day_point = chr::floor<chr::days>(tp);
    chr::year_month_day ymd{day_point};
    Millis rest = (tp - day_point).count();
    CivilTime c;
    c.year = static_cast<int>(ymd.year());
    c.month = static_cast<unsigned>(ymd.month());
    c.day = static_cast<unsigned>(ymd.day());
    c.hour = static_cast<unsigned>(rest / kHour);
    c.minute = static_cast<unsigned>(rest % kHour / kMinute);
    c.second = static_cast<unsigned>(rest % kMinute / kSecond);
    c.millis = static_cast<unsigned>(rest % kSecond);
    return c;
}

Millis from_civil(const CivilTime& c) {
    chr::year_month_day ymd{chr::year{c.year}, chr::month{c.month}, chr::day{c.day}};
    Millis days = chr::sys_days{ymd}.time_since_epoch().count();
    return days * kDay + static_cast<Millis>(c.hour) * kHour +
           static_cast<Millis>(c.minute) * kMinute + static_cast<Millis>(c.second) * kSecond +
           static_cast<Millis>(c.millis);
}

std::string format_datetime(Millis t) {
    CivilTime c = to_civil(t);
    if (c.millis != 0) {
        return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+00:00", c.year, c.month,
                           c.day, c.hour, c.minute, c.second, c.millis);
    }
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00", c.year, c.month, c.day, c.hour,
                       c.minute, c.second);
}

std::string format_date(Millis t) {
    CivilTime c = to_civil(t);
    return fmt::format("{:04}-{:02}-{:02}", c.year, c.month, c.day);
}

std::string format_duration(Millis d) {
    if (d == 0) return "0s";
    std::string out;
    if (d < 0) {
        out.push_back('-');
        d = -d;
    }
    struct Unit {
        Millis scale;
        const char* name;
    };
    for (Unit u : {Unit{kDay, "d"}, Unit{kHour, "h"}, Unit{kMinute, "m"}, Unit{kSecond, "s"},
                   Unit{1, "ms"}}) {
        if (d >= u.scale) {
            out += fmt::format("{}{}", d / u.scale, u.name);
            d %= u.scale;
        }
    }
    return out;
}

}  // namespace orquestra::dag
