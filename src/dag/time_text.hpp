#pragma once
// Text forms of durations and instants, as written in DAG files and shown in templates.
// All instants are UTC milliseconds since the epoch (core/clock.hpp). Pure functions; thread-safe.

#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace orquestra::dag {

// "500ms", "30s", "1m", "1h30m", "2d", "1w" (units may be combined, largest first), or a bare
// integer meaning seconds. Fails with kInvalidArgument on anything else, a negative value or
// more than 100 years.
Result<Millis> parse_duration(std::string_view text);

// "2024-01-01", "2024-01-01T06:00", "2024-01-01T06:00:00[.fff]" ('T' or one space), then an
// optional "Z" or "+hh:mm" / "+hhmm" / "+hh" offset; UTC when none. Years 1..9999.
Result<Millis> parse_datetime(std::string_view text);

// "2024-01-01T06:00:00+00:00", with ".mmm" only when the milliseconds are not zero.
std::string format_datetime(Millis t);
// "2024-01-01"
std::string format_date(Millis t);
// The shortest form parse_duration reads back: "1h30m", "500ms", "0s".
std::string format_duration(Millis d);

// The instants this module handles: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z.
inline constexpr Millis kMinMillis = -62'135'596'800'000;
inline constexpr Millis kMaxMillis = 253'402'300'799'999;

// Civil-calendar helpers shared by the schedule code. to_civil clamps to [kMinMillis, kMaxMillis].
struct CivilTime {
    int year = 1970;
    unsigned month = 1;   // 1..12
    unsigned day = 1;     // 1..31
    unsigned hour = 0;    // 0..23
    unsigned minute = 0;  // 0..59
    unsigned second = 0;
    unsigned millis = 0;
};
CivilTime to_civil(Millis t);
// Assumes a valid date; fields out of range give an unspecified (but non-crashing) result.
Millis from_civil(const CivilTime& c);

}  // namespace orquestra::dag
