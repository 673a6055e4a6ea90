#pragma once
// DAG params: a JSON Schema subset per param, compiled once when the DAG loads, and the merge
// of a run's conf over the defaults (as Airflow does when a run is triggered).
//
// Supported keywords: type (string, integer, number, boolean, array, object, null, or a list
// of them), minimum, maximum, exclusiveMinimum, exclusiveMaximum, enum, minLength, maxLength,
// pattern (RE2 syntax, which has no backreferences or lookaround, so matching takes time linear
// in the value; searched anywhere in the string as JSON Schema says), format (date,
// date-time, time, email, uri; "multiline" is a UI hint and checks nothing). Annotations
// title, description, description_md, examples, section and values_display are kept and not
// checked. Any other keyword is refused so that a typo cannot pass silently.
// Immutable after compile(); thread-safe.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/error.hpp"

namespace re2 {
class RE2;
}

namespace orquestra::dag {

struct Dag;

// A `pattern` may be at most this long; strings longer than kMaxPatternSubjectLength bytes are
// not matched against a pattern and fail validation with a clear message. Matching is linear
// in the string, so the bound is on work, not on stack depth.
inline constexpr std::size_t kMaxPatternLength = 1000;
inline constexpr std::size_t kMaxPatternSubjectLength = 64u << 10;

class ParamSchema {
  public:
    // Fails with kInvalidArgument naming the keyword: "unknown type 'int'", "pattern '(' is
    // not a valid regular expression: ...", "unsupported schema keyword 'items'".
    static Result<ParamSchema> compile(const boost::json::object& schema);

    // Fails with kInvalidArgument naming the value and the rule, without the param's name:
    // "0 is less than the minimum of 1".
    Result<void> validate(const boost::json::value& value) const;

  private:
    enum TypeBit : unsigned {
        kNull = 1u << 0,
        kBoolean = 1u << 1,
        kInteger = 1u << 2,
        kNumber = 1u << 3,
        kString = 1u << 4,
        kArray = 1u << 5,
        kObject = 1u << 6,
    };
    enum class Format { kNone, kDate, kDateTime, kTime, kEmail, kUri, kMultiline };

    unsigned types_ = 0;  // 0: any type
    std::string type_text_;
    std::optional<boost::json::value> minimum_, maximum_, exclusive_minimum_, exclusive_maximum_;
    std::optional<boost::json::array> enum_;
    std::optional<std::uint64_t> min_length_, max_length_;
    std::shared_ptr<const re2::RE2> pattern_;  // compiled once; RE2 is thread-safe
    std::string pattern_text_;
    Format format_ = Format::kNone;
    std::string format_text_;
};

struct Param {
    std::string name;
    boost::json::object schema;  // as written, without "default"
    std::optional<boost::json::value> default_value;
    std::shared_ptr<const ParamSchema> compiled;  // never null in a Param from make_param()
};

// Compiles the schema and checks the default against it. Errors read
// "param 'usuario_id': default 0 is less than the minimum of 1".
Result<Param> make_param(std::string name, boost::json::object schema,
                         std::optional<boost::json::value> default_value);

// "param 'usuario_id': 0 is less than the minimum of 1".
Result<void> validate_param(const Param& param, const boost::json::value& value);

// The params of a run: for each declared param, in order, the conf value if present, else the
// default, validated against its schema ("param 'x' is required" when neither exists); then
// the conf keys that are not params, kept as Airflow keeps them. Fails with kInvalidArgument.
Result<boost::json::object> resolve_params(std::span<const Param> params,
                                           const boost::json::object& conf);
Result<boost::json::object> resolve_params(const Dag& dag, const boost::json::object& conf);

}  // namespace orquestra::dag
