#include "dag/params.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <chrono>
#include <string>

namespace orquestra::dag {
namespace {

namespace json = boost::json;

ParamSchema schema(std::string_view text) {
    Result<ParamSchema> s = ParamSchema::compile(json::parse(text).as_object());
    EXPECT_TRUE(s.has_value()) << text << ": " << s.error().message;
    return s ? *s : *ParamSchema::compile({});
}

std::string check(std::string_view schema_text, std::string_view value_text) {
    Result<void> r = schema(schema_text).validate(json::parse(value_text));
    if (r) return "ok";
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    return r.error().message;
}

std::string compile_error(std::string_view text) {
    Result<ParamSchema> s = ParamSchema::compile(json::parse(text).as_object());
    return s ? "ok" : s.error().message;
}

TEST(ParamSchemaTest, Types) {
    EXPECT_EQ(check(R"({"type":"integer"})", "1"), "ok");
    EXPECT_EQ(check(R"({"type":"integer"})", "-1"), "ok");
    EXPECT_EQ(check(R"({"type":"integer"})", "18446744073709551615"), "ok");
    EXPECT_EQ(check(R"({"type":"integer"})", "1.0"), "ok");  // whole doubles, as JSON Schema
    EXPECT_EQ(check(R"({"type":"integer"})", "1.5"), "1.5 is not of type 'integer'");
    EXPECT_EQ(check(R"({"type":"integer"})", R"("1")"), "\"1\" is not of type 'integer'");
    EXPECT_EQ(check(R"({"type":"integer"})", "true"), "true is not of type 'integer'");
    EXPECT_EQ(check(R"({"type":"number"})", "1.5"), "ok");
    EXPECT_EQ(check(R"({"type":"number"})", "2"), "ok");
    EXPECT_EQ(check(R"({"type":"number"})", "null"), "null is not of type 'number'");
    EXPECT_EQ(check(R"({"type":"string"})", R"("x")"), "ok");
    EXPECT_EQ(check(R"({"type":"string"})", "1"), "1 is not of type 'string'");
    EXPECT_EQ(check(R"({"type":"boolean"})", "false"), "ok");
    EXPECT_EQ(check(R"({"type":"boolean"})", "0"), "0 is not of type 'boolean'");
    EXPECT_EQ(check(R"({"type":"array"})", "[1]"), "ok");
    EXPECT_EQ(check(R"({"type":"array"})", "{}"), "{} is not of type 'array'");
    EXPECT_EQ(check(R"({"type":"object"})", R"({"a":1})"), "ok");
    EXPECT_EQ(check(R"({"type":"object"})", "[]"), "[] is not of type 'object'");
    EXPECT_EQ(check(R"({"type":"null"})", "null"), "ok");
    EXPECT_EQ(check(R"({"type":["integer","null"]})", "null"), "ok");
    EXPECT_EQ(check(R"({"type":["integer","null"]})", "3"), "ok");
    EXPECT_EQ(check(R"({"type":["integer","null"]})", R"("3")"),
              "\"3\" is not of type 'integer', 'null'");
    EXPECT_EQ(check("{}", R"({"anything":[1]})"), "ok");  // no type: anything goes
}

TEST(ParamSchemaTest, NumericBounds) {
    EXPECT_EQ(check(R"({"minimum":1})", "1"), "ok");
    EXPECT_EQ(check(R"({"minimum":1})", "0"), "0 is less than the minimum of 1");
    EXPECT_EQ(check(R"({"minimum":1})", "0.5"), "0.5 is less than the minimum of 1");
    EXPECT_EQ(check(R"({"maximum":10})", "10"), "ok");
    EXPECT_EQ(check(R"({"maximum":10})", "11"), "11 is greater than the maximum of 10");
    EXPECT_EQ(check(R"({"maximum":10})", "18446744073709551615"),
              "18446744073709551615 is greater than the maximum of 10");
    EXPECT_EQ(check(R"({"exclusiveMinimum":0})", "0.001"), "ok");
    EXPECT_EQ(check(R"({"exclusiveMinimum":0})", "0"),
              "0 is less than or equal to the exclusive minimum of 0");
    EXPECT_EQ(check(R"({"exclusiveMaximum":1.5})", "1"), "ok");
    EXPECT_EQ(check(R"({"exclusiveMaximum":1.5})", "1.5"),
              "1.5 is greater than or equal to the exclusive maximum of 1.5");
    // Bounds apply to numbers only; other types pass them (JSON Schema semantics).
    EXPECT_EQ(check(R"({"minimum":1})", R"("a")"), "ok");
}

TEST(ParamSchemaTest, Enum) {
    EXPECT_EQ(check(R"({"enum":["a","b",1]})", R"("b")"), "ok");
    EXPECT_EQ(check(R"({"enum":["a","b",1]})", "1.0"), "ok");
    EXPECT_EQ(check(R"({"enum":["a","b",1]})", R"("c")"), "\"c\" is not one of [\"a\",\"b\",1]");
    EXPECT_EQ(check(R"({"enum":[null]})", "null"), "ok");
}

TEST(ParamSchemaTest, StringRules) {
    EXPECT_EQ(check(R"({"minLength":2})", R"("ab")"), "ok");
    EXPECT_EQ(check(R"({"minLength":2})", R"("a")"),
              "\"a\" is shorter than the minimum length of 2");
    EXPECT_EQ(check(R"({"maxLength":3})", R"("ação")"),
              "\"ação\" is longer than the maximum length of 3");  // 4 code points
    EXPECT_EQ(check(R"({"maxLength":4})", R"("ação")"), "ok");
    EXPECT_EQ(check(R"({"pattern":"^[A-Z]{3}$"})", R"("ABC")"), "ok");
    EXPECT_EQ(check(R"({"pattern":"^[A-Z]{3}$"})", R"("ABCD")"),
              "\"ABCD\" does not match pattern '^[A-Z]{3}$'");
    EXPECT_EQ(check(R"({"pattern":"b+"})", R"("abbc")"), "ok");  // searched, not anchored
    std::string long_text = "\"" + std::string(kMaxPatternSubjectLength + 1, 'a') + "\"";
    EXPECT_NE(check(R"({"pattern":"a"})", long_text).find("too long to check against pattern"),
              std::string::npos);
    EXPECT_EQ(check(R"({"maxLength":1})", "12345"), "ok");  // string rules skip non-strings
}

// A pattern with nested quantifiers used to block the engine for seconds on a 29-character
// value (backtracking); RE2 matches in time linear in the value.
TEST(ParamSchemaTest, PatternMatchingIsLinear) {
    ParamSchema s = schema(R"({"type":"string","pattern":"^(a+)+$"})");
    std::string value = std::string(5000, 'a') + "b";
    auto started = std::chrono::steady_clock::now();
    Result<void> r = s.validate(json::value(value));
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("does not match pattern '^(a+)+$'"), std::string::npos);
    EXPECT_LT(took, std::chrono::milliseconds(100));
    EXPECT_TRUE(s.validate(json::value(std::string(kMaxPatternSubjectLength, 'a'))).has_value());
}

TEST(ParamSchemaTest, PatternsAreBounded) {
    EXPECT_EQ(compile_error(R"({"pattern":"^(a)\\1$"})")
                  .rfind("pattern '^(a)\\1$' is not a valid regular expression", 0),
              0u);
    EXPECT_EQ(compile_error(R"j({"pattern":"(?=a)"})j")
                  .rfind("pattern '(?=a)' is not a valid regular expression", 0),
              0u);
    std::string longest = "{\"pattern\":\"" + std::string(kMaxPatternLength, 'a') + "\"}";
    EXPECT_EQ(compile_error(longest), "ok");
    std::string too_long = "{\"pattern\":\"" + std::string(kMaxPatternLength + 1, 'a') + "\"}";
    EXPECT_EQ(compile_error(too_long), "'pattern' is 1001 characters long; the limit is 1000");
    // A program too big to compile is refused, not built.
    EXPECT_NE(compile_error(R"({"pattern":"((a{100}){100}){100}"})")
                  .find("is not a valid regular expression"),
              std::string::npos);
}

TEST(ParamSchemaTest, PatternMatchingTakesLinearTime) {
    // Nested quantifiers made std::regex backtrack exponentially (the params fuzz target hung
    // on them), so one trigger's conf or one DAG's default held a thread for ever.
    const std::string as(kMaxPatternSubjectLength, 'a');
    for (const char* pattern : {"^(a|a)*$", "(a*)*b", "(a|aa)*c", "(x+x+)+y", "^(a+)+$"}) {
        const auto started = std::chrono::steady_clock::now();
        const std::string schema_text = std::string(R"({"pattern":")") + pattern + "\"}";
        (void)check(schema_text, "\"" + as.substr(1) + "b\"");
        (void)check(schema_text, "\"" + as + "\"");
        EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20)) << pattern;
    }
    EXPECT_EQ(check(R"({"pattern":"(a*)*b"})", "\"" + as.substr(1) + "b\""), "ok");
    EXPECT_EQ(check(R"({"pattern":"^(a+)+$"})", "\"" + as + "\""), "ok");
    // Anchors keep their meaning; a pattern broken alone stays broken.
    EXPECT_EQ(check(R"({"pattern":"^b"})", R"("ab")"), "\"ab\" does not match pattern '^b'");
    EXPECT_EQ(check(R"({"pattern":"a$"})", R"("ab")"), "\"ab\" does not match pattern 'a$'");
    EXPECT_EQ(check(R"({"pattern":"\\bb"})", R"("a b")"), "ok");
    EXPECT_EQ(compile_error(R"({"pattern":"a)(?:b"})")
                  .rfind("pattern 'a)(?:b' is not a valid regular expression", 0),
              0u);
    // Back-references would need backtracking: refused.
    EXPECT_EQ(compile_error(R"({"pattern":"(a)\\1"})")
                  .rfind("pattern '(a)\\1' is not a valid regular expression", 0),
              0u);
}

TEST(ParamSchemaTest, Formats) {
    EXPECT_EQ(check(R"({"format":"date"})", R"("2024-02-29")"), "ok");
    EXPECT_EQ(check(R"({"format":"date"})", R"("2023-02-29")"),
              "\"2023-02-29\" is not a valid 'date'");
    EXPECT_EQ(check(R"({"format":"date"})", R"("2024-01-01T00:00:00")"),
              "\"2024-01-01T00:00:00\" is not a valid 'date'");
    EXPECT_EQ(check(R"({"format":"date-time"})", R"("2024-01-01T06:00:00Z")"), "ok");
    EXPECT_EQ(check(R"({"format":"date-time"})", R"("2024-01-01T06:00:00.123+03:00")"), "ok");
    EXPECT_EQ(check(R"({"format":"date-time"})", R"("2024-01-01")"),
              "\"2024-01-01\" is not a valid 'date-time'");
    EXPECT_EQ(check(R"({"format":"date-time"})", R"("yesterday")"),
              "\"yesterday\" is not a valid 'date-time'");
    EXPECT_EQ(check(R"({"format":"time"})", R"("06:30:00")"), "ok");
    EXPECT_EQ(check(R"({"format":"time"})", R"("25:00")"), "\"25:00\" is not a valid 'time'");
    EXPECT_EQ(check(R"({"format":"email"})", R"("ana@example.com")"), "ok");
    EXPECT_EQ(check(R"({"format":"email"})", R"("ana.example.com")"),
              "\"ana.example.com\" is not a valid 'email'");
    EXPECT_EQ(check(R"({"format":"uri"})", R"("https://x.y/z")"), "ok");
    EXPECT_EQ(check(R"({"format":"uri"})", R"("not a uri")"), "\"not a uri\" is not a valid 'uri'");
    EXPECT_EQ(check(R"({"format":"multiline"})", R"("any\ntext")"), "ok");
}

TEST(ParamSchemaTest, LongValuesAreShortenedInMessages) {
    std::string value = "\"" + std::string(200, 'x') + "\"";
    EXPECT_EQ(check(R"({"type":"integer"})", value),
              value.substr(0, 80) + "... is not of type 'integer'");
}

TEST(ParamSchemaTest, BadSchemasFailToCompile) {
    EXPECT_EQ(compile_error(R"({"type":"int"})"),
              "unknown type 'int' (use string, integer, number, boolean, array, object or null)");
    EXPECT_EQ(compile_error(R"({"type":[]})"),
              "'type' must be a type name or a list of them, got []");
    EXPECT_EQ(compile_error(R"({"type":["string", 1]})"), "unknown type 1");
    EXPECT_EQ(compile_error(R"({"minimum":"1"})"), "'minimum' must be a number, got \"1\"");
    EXPECT_EQ(compile_error(R"({"minLength":-1})"),
              "'minLength' must be a non-negative integer, got -1");
    EXPECT_EQ(compile_error(R"({"maxLength":1.5})"),
              "'maxLength' must be a non-negative integer, got 1.5");
    EXPECT_EQ(compile_error(R"({"enum":[]})"), "'enum' must be a non-empty list, got []");
    EXPECT_EQ(compile_error(R"({"pattern":5})"), "'pattern' must be a string, got 5");
    EXPECT_EQ(compile_error(R"({"pattern":"(a"})")
                  .rfind("pattern '(a' is not a valid regular expression", 0),
              0u);
    EXPECT_EQ(compile_error(R"({"format":"colour"})"),
              "unknown format \"colour\" (use date, date-time, time, email, uri or multiline)");
    EXPECT_EQ(compile_error(R"({"items":{"type":"string"}})"),
              "unsupported schema keyword 'items'");
    EXPECT_EQ(compile_error(R"({"title":"T","description":"D","examples":[1],"section":"S"})"),
              "ok");
}

TEST(ParamTest, MakeParamChecksTheDefault) {
    Result<Param> ok = make_param("n", json::parse(R"({"type":"integer","minimum":1})").as_object(),
                                  json::value(3));
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->name, "n");
    EXPECT_NE(ok->compiled, nullptr);
    Result<Param> bad = make_param(
        "n", json::parse(R"({"type":"integer","minimum":1})").as_object(), json::value(0));
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().message, "param 'n': default 0 is less than the minimum of 1");
    Result<Param> bad_schema = make_param("n", json::parse(R"({"type":"text"})").as_object(), {});
    ASSERT_FALSE(bad_schema.has_value());
    EXPECT_EQ(bad_schema.error().message.rfind("param 'n': unknown type 'text'", 0), 0u);
}

std::vector<Param> seed_params() {
    return {
        *make_param("usuario_id", json::parse(R"({"type":"integer","minimum":1})").as_object(),
                    json::value(1)),
        *make_param("grupo", json::parse(R"({"type":"string","enum":["admin","dev"]})").as_object(),
                    std::nullopt),
        *make_param("note", json::object{}, json::value("hi")),
    };
}

TEST(ResolveParamsTest, ConfOverridesDefaultsAndExtraKeysStay) {
    auto params = seed_params();
    Result<json::object> r = resolve_params(
        params, json::parse(R"({"extra": [1], "grupo": "dev", "usuario_id": 5})").as_object());
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(json::value(*r),
              json::parse(R"({"usuario_id": 5, "grupo": "dev", "note": "hi", "extra": [1]})"));
    // Declared params come first, in declaration order, then the extra conf keys.
    std::vector<std::string> keys;
    for (const auto& field : *r) keys.emplace_back(field.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"usuario_id", "grupo", "note", "extra"}));
}

TEST(ResolveParamsTest, DefaultsFillTheGaps) {
    auto params = seed_params();
    Result<json::object> r = resolve_params(params, json::object{{"grupo", "admin"}});
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->at("usuario_id"), json::value(1));
    EXPECT_EQ(r->at("note"), json::value("hi"));
}

TEST(ResolveParamsTest, RequiredParamMissing) {
    auto params = seed_params();
    Result<json::object> r = resolve_params(params, json::object{});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "param 'grupo' is required");
}

TEST(ResolveParamsTest, ConfValuesAreValidated) {
    auto params = seed_params();
    Result<json::object> r = resolve_params(params, json::parse(R"({"grupo": "ops"})").as_object());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message, "param 'grupo': \"ops\" is not one of [\"admin\",\"dev\"]");
    r = resolve_params(params, json::parse(R"({"grupo": "dev", "usuario_id": "1"})").as_object());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message, "param 'usuario_id': \"1\" is not of type 'integer'");
    r = resolve_params(params, json::parse(R"({"grupo": "dev", "usuario_id": null})").as_object());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message, "param 'usuario_id': null is not of type 'integer'");
}

TEST(ResolveParamsTest, NoParamsKeepsConf) {
    Result<json::object> r = resolve_params(std::span<const Param>(), json::object{{"a", 1}});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(json::value(*r), json::parse(R"({"a":1})"));
}

}  // namespace
}  // namespace orquestra::dag
