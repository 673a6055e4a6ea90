#include "dag/template.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "dag/time_text.hpp"

namespace orquestra::dag {
namespace {

namespace json = boost::json;

const json::object& context() {
    static const json::object ctx = json::parse(R"({
        "params": {"usuario_id": 1, "name": "Ana", "ratio": 0.5, "flag": false,
                   "tags": ["a", "b"], "empty": "", "zero": 0, "nothing": null, "word": "ação",
                   "nested": {"k": [10, 20, {"deep": "x"}]}, "key": "name", "big": 18446744073709551615},
        "tasks": {"obter_usuario": {"output": {"id": 1, "nome": "Ana", "grupos": ["admin", "dev"]}}},
        "ds": "2024-01-01"
    })")
                                        .as_object();
    return ctx;
}

// Compiles and renders, failing the test on a compile error.
json::value render(std::string_view text) {
    Result<Template> t = Template::compile(text);
    EXPECT_TRUE(t.has_value()) << text << ": " << t.error().message;
    if (!t) return json::value();
    Result<json::value> v = t->render(context());
    EXPECT_TRUE(v.has_value()) << text << ": " << v.error().message;
    return v ? *v : json::value();
}

json::value eval(std::string_view expr) { return render("{{ " + std::string(expr) + " }}"); }

std::string render_error(std::string_view text) {
    Result<Template> t = Template::compile(text);
    if (!t) return "compile: " + t.error().message;
    Result<json::value> v = t->render(context());
    if (v) return "rendered: " + json::serialize(*v);
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument);
    return v.error().message;
}

std::string compile_error(std::string_view text) {
    Result<Template> t = Template::compile(text);
    if (t) return "compiled";
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
    return t.error().message;
}

// ---- typing --------------------------------------------------------------------------------

TEST(TemplateTest, LoneExpressionKeepsItsType) {
    EXPECT_EQ(render("{{ params.usuario_id }}"), json::value(1));
    EXPECT_EQ(render("  {{params.usuario_id}}\n"), json::value(1));
    EXPECT_EQ(render("{{ params.tags }}"), json::parse(R"(["a","b"])"));
    EXPECT_EQ(render("{{ params.nested }}"), json::parse(R"({"k":[10,20,{"deep":"x"}]})"));
    EXPECT_EQ(render("{{ params.nothing }}"), json::value(nullptr));
    EXPECT_EQ(render("{{ params.flag }}"), json::value(false));
    EXPECT_EQ(render("{{ params.ratio }}"), json::value(0.5));
}

TEST(TemplateTest, MixedTextRendersAString) {
    EXPECT_EQ(render("/usuarios/{{ params.usuario_id }}"), json::value("/usuarios/1"));
    EXPECT_EQ(render("{{ params.name }} {{ params.usuario_id }}"), json::value("Ana 1"));
    EXPECT_EQ(render("t={{ params.tags }}"), json::value(R"(t=["a","b"])"));
    EXPECT_EQ(render("n={{ params.nothing }} f={{ params.flag }} r={{ params.ratio }}"),
              json::value("n=null f=false r=0.5"));
    EXPECT_EQ(render("o={{ params.nested.k[2] }}"), json::value(R"(o={"deep":"x"})"));
}

TEST(TemplateTest, TextWithoutExpressionsIsConstant) {
    Result<Template> t = Template::compile("plain } { text");
    ASSERT_TRUE(t.has_value());
    EXPECT_TRUE(t->is_constant());
    EXPECT_EQ(*t->render(context()), json::value("plain } { text"));
    EXPECT_EQ(t->source(), "plain } { text");
    EXPECT_EQ(*Template().render(context()), json::value(""));
    EXPECT_FALSE(Template::compile("{{ 1 }}")->is_constant());
}

TEST(TemplateTest, BracesInsideStringLiterals) {
    EXPECT_EQ(render("{{ '}}' }}"), json::value("}}"));
    EXPECT_EQ(render("{{ \"{{\" }}x"), json::value("{{x"));
    EXPECT_EQ(render("a {{ 'b' }} }} c"), json::value("a b }} c"));
}

// ---- literals and access -------------------------------------------------------------------

TEST(TemplateTest, Literals) {
    EXPECT_EQ(eval("42"), json::value(42));
    EXPECT_EQ(eval("-7"), json::value(-7));
    EXPECT_EQ(eval("2.5"), json::value(2.5));
    EXPECT_EQ(eval("1e3"), json::value(1000.0));
    EXPECT_EQ(eval("'it\\'s'"), json::value("it's"));
    EXPECT_EQ(eval("\"say \\\"hi\\\"\\n\""), json::value("say \"hi\"\n"));
    EXPECT_EQ(eval("'back\\\\slash \\d'"), json::value("back\\slash \\d"));
    for (const char* t : {"true", "True"}) EXPECT_EQ(eval(t), json::value(true));
    for (const char* f : {"false", "False"}) EXPECT_EQ(eval(f), json::value(false));
    for (const char* n : {"none", "None", "null"}) EXPECT_EQ(eval(n), json::value(nullptr));
    EXPECT_EQ(eval("[]"), json::array());
    EXPECT_EQ(eval("[1, 'a', [true, none],]"), json::parse(R"([1,"a",[true,null]])"));
}

TEST(TemplateTest, NamesAttributesAndSubscripts) {
    EXPECT_EQ(eval("ds"), json::value("2024-01-01"));
    EXPECT_EQ(eval("params['name']"), json::value("Ana"));
    EXPECT_EQ(eval("params[\"name\"]"), json::value("Ana"));
    EXPECT_EQ(eval("params[params.key]"), json::value("Ana"));
    EXPECT_EQ(eval("params.nested.k[0]"), json::value(10));
    EXPECT_EQ(eval("params.nested.k[-1].deep"), json::value("x"));
    EXPECT_EQ(eval("params.nested['k'][params.usuario_id]"), json::value(20));
    EXPECT_EQ(eval("tasks.obter_usuario.output.grupos[0]"), json::value("admin"));
    EXPECT_EQ(eval("[10, 20, 30][1]"), json::value(20));  // subscript of an owned value
    EXPECT_EQ(eval("(params.nested).k[1]"), json::value(20));
    EXPECT_EQ(eval("params.big"), json::value(18446744073709551615ull));
}

// ---- operators -----------------------------------------------------------------------------

TEST(TemplateTest, Membership) {
    EXPECT_EQ(eval("'admin' in tasks.obter_usuario.output.grupos"), json::value(true));
    EXPECT_EQ(eval("'root' in tasks.obter_usuario.output.grupos"), json::value(false));
    EXPECT_EQ(eval("'root' not in tasks.obter_usuario.output.grupos"), json::value(true));
    EXPECT_EQ(eval("1 in [1.0, 2]"), json::value(true));
    EXPECT_EQ(eval("[1] in [[1], 2]"), json::value(true));
    EXPECT_EQ(eval("'nA' in params.name"), json::value(false));
    EXPECT_EQ(eval("'An' in params.name"), json::value(true));
    EXPECT_EQ(eval("'' in ''"), json::value(true));
    EXPECT_EQ(eval("'nome' in tasks.obter_usuario.output"), json::value(true));
    EXPECT_EQ(eval("'x' not in tasks.obter_usuario.output"), json::value(true));
    EXPECT_EQ(render_error("{{ 'a' in params.usuario_id }}"),
              "'in' needs a list, string or object on the right, got integer");
    EXPECT_EQ(render_error("{{ 'a' in params.nothing }}"),
              "'in' needs a list, string or object on the right, got null");
    EXPECT_EQ(render_error("{{ 1 in 'abc' }}"),
              "'in' with a string on the right needs a string on the left, got integer");
}

TEST(TemplateTest, Comparisons) {
    EXPECT_EQ(eval("1 == 1.0"), json::value(true));
    EXPECT_EQ(eval("params.usuario_id == 1"), json::value(true));
    EXPECT_EQ(eval("'a' != 'b'"), json::value(true));
    EXPECT_EQ(eval("true == 1"), json::value(false));
    EXPECT_EQ(eval("none == null"), json::value(true));
    EXPECT_EQ(eval("[1, [2]] == [1.0, [2]]"), json::value(true));
    EXPECT_EQ(eval("2 > 1.5"), json::value(true));
    EXPECT_EQ(eval("-1 < 0"), json::value(true));
    EXPECT_EQ(eval("3 <= 3"), json::value(true));
    EXPECT_EQ(eval("3 >= 4"), json::value(false));
    EXPECT_EQ(eval("'abc' < 'abd'"), json::value(true));
    EXPECT_EQ(eval("[1, 2] < [1, 3]"), json::value(true));
    EXPECT_EQ(eval("[1, 2] < [1, 2, 0]"), json::value(true));
    EXPECT_EQ(eval("params.big > 1"), json::value(true));
    EXPECT_EQ(eval("-5 < params.big"), json::value(true));
    EXPECT_EQ(render_error("{{ 1 < 'a' }}"), "cannot order integer and string");
    EXPECT_EQ(render_error("{{ none < 1 }}"), "cannot order null and integer");
}

TEST(TemplateTest, ObjectLiteralIsNotSupported) {
    EXPECT_NE(compile_error("{{ {} }}").find("unexpected character '{'"), std::string::npos);
}

TEST(TemplateTest, BooleanLogicIsPythonLike) {
    EXPECT_EQ(eval("true and false"), json::value(false));
    EXPECT_EQ(eval("true or false"), json::value(true));
    EXPECT_EQ(eval("not params.flag"), json::value(true));
    EXPECT_EQ(eval("not not 'x'"), json::value(true));
    EXPECT_EQ(eval("params.empty or 'fallback'"), json::value("fallback"));
    EXPECT_EQ(eval("params.name and params.usuario_id"), json::value(1));
    EXPECT_EQ(eval("params.zero and missing_name"), json::value(0));  // short-circuit
    EXPECT_EQ(eval("params.name or missing_name"), json::value("Ana"));
    EXPECT_EQ(eval("not 1 == 2"), json::value(true));              // not binds looser than ==
    EXPECT_EQ(eval("true or true and false"), json::value(true));  // and binds tighter
    EXPECT_EQ(eval("(true or true) and false"), json::value(false));
    EXPECT_EQ(eval("1 == 1 and 'a' in ['a']"), json::value(true));
}

TEST(TemplateTest, Truthiness) {
    for (const char* falsy :
         {"0", "0.0", "''", "[]", "false", "none", "params.nothing", "params.empty"}) {
        EXPECT_EQ(eval(std::string("not ") + falsy), json::value(true)) << falsy;
    }
    for (const char* truthy : {"1", "-1", "0.1", "'0'", "[0]", "true", "params", "' '"}) {
        EXPECT_EQ(eval(std::string("not ") + truthy), json::value(false)) << truthy;
    }
}

// ---- filters -------------------------------------------------------------------------------

TEST(TemplateTest, DefaultFilter) {
    EXPECT_EQ(eval("params.missing | default(5)"), json::value(5));
    EXPECT_EQ(eval("tasks.nope.output.x | default('n/a')"), json::value("n/a"));
    EXPECT_EQ(eval("undefined_name | default"), json::value(""));
    EXPECT_EQ(eval("params.name | default('x')"), json::value("Ana"));
    EXPECT_EQ(eval("params.empty | default('x')"), json::value(""));
    EXPECT_EQ(eval("params.empty | default('x', true)"), json::value("x"));
    EXPECT_EQ(eval("params.nothing | default(7, true)"), json::value(7));
    EXPECT_EQ(eval("params.nested.k[9] | default(-1)"), json::value(-1));
    EXPECT_EQ(eval("params.missing | default(params.usuario_id)"), json::value(1));
    // default catches undefined only, not type errors.
    EXPECT_EQ(render_error("{{ ('a' in 3) | default(1) }}"),
              "'in' needs a list, string or object on the right, got integer");
}

TEST(TemplateTest, ConversionFilters) {
    EXPECT_EQ(eval("params.tags | tojson"), json::value(R"(["a","b"])"));
    EXPECT_EQ(eval("params.name | tojson"), json::value("\"Ana\""));
    EXPECT_EQ(eval("params.nested | tojson"), json::value(R"({"k":[10,20,{"deep":"x"}]})"));
    EXPECT_EQ(eval("params.usuario_id | string"), json::value("1"));
    EXPECT_EQ(eval("params.nothing | string"), json::value("null"));
    EXPECT_EQ(eval("params.name | string"), json::value("Ana"));
    EXPECT_EQ(eval("'42' | int"), json::value(42));
    EXPECT_EQ(eval("' 42 ' | int"), json::value(42));
    EXPECT_EQ(eval("'3.9' | int"), json::value(3));
    EXPECT_EQ(eval("-3.9 | int"), json::value(-3));
    EXPECT_EQ(eval("true | int"), json::value(1));
    EXPECT_EQ(eval("'2.5' | float"), json::value(2.5));
    EXPECT_EQ(eval("2 | float"), json::value(2.0));
    EXPECT_EQ(eval("params.name | lower"), json::value("ana"));
    EXPECT_EQ(eval("params.name | upper"), json::value("ANA"));
    EXPECT_EQ(eval("params.name | upper | lower | length"), json::value(3));
    EXPECT_EQ(eval("params.word | length"), json::value(4));  // code points, not bytes
    EXPECT_EQ(eval("params.tags | length"), json::value(2));
    EXPECT_EQ(eval("params.nested | length"), json::value(1));
    EXPECT_EQ(eval("params.tags | length > 1"), json::value(true));  // | binds tighter than >
    EXPECT_EQ(render_error("{{ 'abc' | int }}"), "int: cannot convert \"abc\" to an integer");
    EXPECT_EQ(render_error("{{ [1] | int }}"), "int: cannot convert [1] to an integer");
    EXPECT_EQ(render_error("{{ 'x' | float }}"), "float: cannot convert \"x\" to a number");
    EXPECT_EQ(render_error("{{ 'inf' | float }}"), "float: cannot convert \"inf\" to a number");
    EXPECT_EQ(render_error("{{ 1e300 | int }}"), "int: cannot convert 1e+300 to an integer");
    EXPECT_EQ(render_error("{{ 1 | lower }}"), "lower: needs a string, got integer");
    EXPECT_EQ(render_error("{{ 1 | length }}"), "length: integer has no length");
}

// ---- errors --------------------------------------------------------------------------------

TEST(TemplateTest, UndefinedNamesAndKeysAreNamed) {
    EXPECT_EQ(render_error("{{ tasks.obter_usuario.output.grupoz }}"),
              "undefined: tasks.obter_usuario.output.grupoz");
    EXPECT_EQ(render_error("x {{ nope }}"), "undefined: nope");
    EXPECT_EQ(render_error("{{ params.name.first }}"), "undefined: params.name.first");
    EXPECT_EQ(render_error("{{ params.tags[2] }}"), "undefined: params.tags[2]");
    EXPECT_EQ(render_error("{{ params.tags[-3] }}"), "undefined: params.tags[-3]");
    EXPECT_EQ(render_error("{{ params['nope'] }}"), "undefined: params['nope']");
    EXPECT_EQ(render_error("{{ params[params.name] }}"),
              "undefined: params[params.name] (key \"Ana\")");
    EXPECT_EQ(render_error("{{ params.tags['a'] }}"), "undefined: params.tags['a']");
    EXPECT_EQ(render_error("{{ 'admin' in tasks.x.output }}"), "undefined: tasks.x");
}

TEST(TemplateTest, MalformedTemplatesFailAtCompile) {
    EXPECT_EQ(compile_error("{{ }}"), "empty expression at offset 0");
    EXPECT_EQ(compile_error("a {{ b"), "'{{' at offset 2 is not closed by '}}'");
    EXPECT_EQ(compile_error("{{ 'abc }}"), "'{{' at offset 0 is not closed by '}}'");
    EXPECT_EQ(compile_error("{{ a ) }}"), "unexpected ')' at offset 3 in '{{ a ) }}'");
    EXPECT_EQ(compile_error("{{ a + 1 }}"),
              "unexpected character '+' at offset 3 in '{{ a + 1 }}'");
    EXPECT_EQ(compile_error("{{ a = 1 }}"),
              "'=' at offset 3 is not an operator; compare with '==' in '{{ a = 1 }}'");
    EXPECT_EQ(compile_error("{{ a | nofilter }}"),
              "unknown filter 'nofilter' (known: default, tojson, string, int, float, lower, "
              "upper, length) in '{{ a | nofilter }}'");
    EXPECT_EQ(compile_error("{{ a | upper(1) }}"),
              "filter 'upper' takes no arguments in '{{ a | upper(1) }}'");
    EXPECT_EQ(compile_error("{{ a | default(1, 2, 3) }}"),
              "filter 'default' takes 0 to 2 arguments, got 3 in '{{ a | default(1, 2, 3) }}'");
    EXPECT_EQ(compile_error("{{ a | }}"),
              "expected a filter name after '|' at offset 5 in '{{ a | }}'");
    EXPECT_EQ(compile_error("{{ 1 < 2 < 3 }}"),
              "chained comparison at offset 7; join comparisons with 'and' in '{{ 1 < 2 < 3 }}'");
    EXPECT_EQ(compile_error("{% if x %}y{% endif %}"),
              "'{%' at offset 0 starts a block; templates support only {{ expression }}");
    EXPECT_EQ(compile_error("{{ 1abc }}"), "bad number '1' at offset 1 in '{{ 1abc }}'");
    EXPECT_EQ(compile_error("{{ 99999999999999999999 }}"),
              "integer 99999999999999999999 is out of range in '{{ 99999999999999999999 }}'");
    EXPECT_EQ(compile_error("{{ a. }}"),
              "expected a name after '.' at offset 4, found end of expression in '{{ a. }}'");
    EXPECT_EQ(compile_error("{{ [1, 2 }}"),
              "expected ']' or ',' at offset 7, found end of expression in '{{ [1, 2 }}'");
    EXPECT_EQ(compile_error("{{ and }}"), "unexpected 'and' at offset 1 in '{{ and }}'");
    EXPECT_EQ(compile_error("{{ a b }}"), "unexpected 'b' at offset 3 in '{{ a b }}'");
    EXPECT_EQ(compile_error("{{ a[1 }}"),
              "expected ']' at offset 5, found end of expression in '{{ a[1 }}'");
    EXPECT_EQ(compile_error("{{ (a }}"),
              "expected ')' at offset 4, found end of expression in '{{ (a }}'");
    EXPECT_EQ(compile_error("{{ 'x }}'"), "'{{' at offset 0 is not closed by '}}'");
    EXPECT_EQ(compile_error("ok {{ a }} then {{ a ! }}"),
              "unexpected character '!' at offset 3 in '{{ a ! }}'");
}

TEST(TemplateTest, ExpressionLengthLimit) {
    std::string at_limit = "'" + std::string(kMaxExpressionLength - 2, 'x') + "'";
    EXPECT_EQ(compile_error("{{" + at_limit + "}}"), "compiled");
    EXPECT_EQ(compile_error("{{ " + at_limit + "}}"),
              "expression at offset 0 is longer than 4096 characters");
}

TEST(TemplateTest, NestingDepthLimit) {
    auto parens = [](int n) { return std::string(n, '(') + "1" + std::string(n, ')'); };
    EXPECT_EQ(eval(parens(60)), json::value(1));
    EXPECT_EQ(compile_error("{{ " + parens(70) + " }}").find("expression nests deeper than 64"),
              0u);
    auto nots = [](int n) {
        std::string s;
        for (int i = 0; i < n; ++i) s += "not ";
        return s + "true";
    };
    EXPECT_EQ(eval(nots(40)), json::value(true));
    EXPECT_EQ(compile_error("{{ " + nots(70) + " }}").find("expression nests deeper than 64"), 0u);
    auto lists = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
    EXPECT_EQ(compile_error("{{ " + lists(70) + " }}").find("expression nests deeper than 64"), 0u);
    // Long chains are nesting too, even though the parser reads them in a loop.
    std::string chain = "params";
    for (int i = 0; i < 70; ++i) chain += ".a";
    EXPECT_EQ(compile_error("{{ " + chain + " }}").find("expression nests deeper than 64"), 0u);
    std::string ors = "1";
    for (int i = 0; i < 70; ++i) ors += " or 1";
    EXPECT_EQ(compile_error("{{ " + ors + " }}").find("expression nests deeper than 64"), 0u);
}

TEST(TemplateTest, RootNamesAreCollected) {
    Result<Template> t = Template::compile(
        "{{ params.a }}{{ tasks.x.output | default(ds) }}{{ params.b or [run_id] }}");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->root_names(), (std::vector<std::string>{"params", "tasks", "ds", "run_id"}));
}

// ---- trees and context ---------------------------------------------------------------------

TEST(TemplateTreeTest, RendersEveryStringKeepingTypes) {
    json::value tree = json::parse(R"({
        "usuario_id": "{{ params.usuario_id }}", "grupo": "admin",
        "list": [1, "{{ params.ratio }}", {"deep": "n={{ params.name }}"}],
        "fixed": {"a": [1, 2]}, "none": null
    })");
    Result<TemplateTree> t = TemplateTree::compile(tree);
    ASSERT_TRUE(t.has_value()) << t.error().message;
    EXPECT_EQ(t->source(), tree);
    EXPECT_EQ(t->root_names(), std::vector<std::string>{"params"});
    EXPECT_EQ(*t->render(context()), json::parse(R"({
        "usuario_id": 1, "grupo": "admin", "list": [1, 0.5, {"deep": "n=Ana"}],
        "fixed": {"a": [1, 2]}, "none": null
    })"));
    EXPECT_EQ(*render_tree(json::value("{{ params.tags }}"), context()),
              json::parse(R"(["a","b"])"));
    EXPECT_EQ(*render_tree(json::value(3), context()), json::value(3));
    EXPECT_EQ(*TemplateTree().render(context()), json::value(nullptr));
}

TEST(TemplateTreeTest, ErrorsNameThePath) {
    Result<TemplateTree> bad =
        TemplateTree::compile(json::parse(R"({"a": [0, {"b": "{{ x | }}"}]})"));
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().message.rfind("a[1].b: expected a filter name", 0), 0u)
        << bad.error().message;
    Result<TemplateTree> t = TemplateTree::compile(json::parse(R"({"a": ["{{ params.nope }}"]})"));
    ASSERT_TRUE(t.has_value());
    auto r = t->render(context());
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message, "undefined: params.nope");
    json::value deep = json::value(json::string("{{ 1 }}"));
    for (int i = 0; i < 70; ++i) deep = json::array{deep};
    EXPECT_FALSE(TemplateTree::compile(deep).has_value());
}

TEST(TemplateContextTest, MakeContextLaysOutRunValues) {
    RenderInputs in;
    in.dag_id = "d";
    in.run_id = "scheduled__2024-01-02T06:00:00+00:00";
    in.params = json::object{{"x", 1}};
    in.conf = json::object{{"x", 1}, {"extra", true}};
    in.logical_date = *parse_datetime("2024-01-02T06:00:00Z");
    in.data_interval_end = *parse_datetime("2024-01-03T06:00:00Z");
    in.task_outputs = json::object{{"a", json::array{1, 2}}};
    json::object ctx = make_context(in);
    EXPECT_EQ(json::value(ctx), json::parse(R"({
        "params": {"x": 1},
        "dag_run": {"dag_id": "d", "run_id": "scheduled__2024-01-02T06:00:00+00:00",
                    "conf": {"x": 1, "extra": true},
                    "logical_date": "2024-01-02T06:00:00+00:00",
                    "data_interval_start": "2024-01-02T06:00:00+00:00",
                    "data_interval_end": "2024-01-03T06:00:00+00:00"},
        "run_id": "scheduled__2024-01-02T06:00:00+00:00",
        "ds": "2024-01-02", "ds_nodash": "20240102", "ts": "2024-01-02T06:00:00+00:00",
        "logical_date": "2024-01-02T06:00:00+00:00",
        "data_interval_start": "2024-01-02T06:00:00+00:00",
        "data_interval_end": "2024-01-03T06:00:00+00:00",
        "tasks": {"a": {"output": [1, 2]}}
    })"));
    for (const auto& field : ctx) {
        const auto& names = context_names();
        EXPECT_NE(std::find(names.begin(), names.end(), field.key()), names.end()) << field.key();
    }
    // The scheduler adds var and conn, for what a task reads of them, and each instance's
    // map_index and (mapped) expand.
    EXPECT_EQ(context_names().size(), ctx.size() + 4);
}

TEST(TemplateTest, CopiesShareTheCompiledTree) {
    Template a = *Template::compile("{{ params.name }}!");
    Template b = a;
    a = Template();
    EXPECT_EQ(*b.render_text(context()), "Ana!");
    EXPECT_EQ(*a.render_text(context()), "");
}

// ---- Sizes ---------------------------------------------------------------------------------

json::object big_context(std::size_t conf_bytes) {
    json::object conf;
    conf["text"] = std::string(conf_bytes, 'x');
    json::object ctx;
    ctx["dag_run"] = json::object{{"conf", conf}};
    ctx["params"] = json::object{{"word", "a/b c?d#e%f\r\nG"}};
    return ctx;
}

std::string repeat(std::string_view piece, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += piece;
    return out;
}

// A DAG file of 20,000 expressions over a 10 KB conf used to render to 200 MB.
TEST(TemplateLimitTest, ARenderedTemplateStopsAtItsLimit) {
    json::object ctx = big_context(10'000);
    Result<Template> t = Template::compile(repeat("{{ dag_run.conf | tojson }}", 20'000));
    ASSERT_TRUE(t.has_value()) << t.error().message;
    Result<std::string> text = t->render_text(ctx);
    ASSERT_FALSE(text.has_value());
    EXPECT_EQ(text.error().code, ErrorCode::kTooLarge);
    EXPECT_EQ(text.error().message,
              "the rendered text would be longer than 1048576 bytes, the limit for one template");
    // Typed and text renderings alike.
    Result<Template> typed = Template::compile("{{ dag_run.conf.text }}");
    ASSERT_TRUE(typed.has_value());
    EXPECT_TRUE(typed->render(big_context(kMaxRenderedBytes - 10)).has_value());
    Result<json::value> v = typed->render(big_context(kMaxRenderedBytes + 1));
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code, ErrorCode::kTooLarge);
}

TEST(TemplateLimitTest, ValuesBuiltWhileRenderingAreBounded) {
    json::object ctx = big_context(100'000);
    // Each list is 1.1 MB: refused before it is built.
    Result<Template> list = Template::compile(
        "{{ [" + repeat("dag_run.conf, ", 10) + "dag_run.conf] | length }}");
    ASSERT_TRUE(list.has_value());
    Result<json::value> v = list->render(ctx);
    ASSERT_FALSE(v.has_value());
    EXPECT_EQ(v.error().code, ErrorCode::kTooLarge);
    EXPECT_NE(v.error().message.find("the limit for a value built while rendering"),
              std::string::npos)
        << v.error().message;
    // Each piece fits, but together they build more than kMaxRenderWorkBytes.
    Result<Template> work = Template::compile(
        "{{ [" + repeat("dag_run.conf | tojson | length, ", 100) + "0] | length }}");
    ASSERT_TRUE(work.has_value());
    v = work->render(ctx);
    ASSERT_FALSE(v.has_value());
    EXPECT_NE(v.error().message.find("more than 8388608 bytes"), std::string::npos)
        << v.error().message;
    // Small values are not affected.
    Result<Template> fine = Template::compile("{{ [dag_run.conf] | tojson | length }}");
    ASSERT_TRUE(fine.has_value());
    EXPECT_EQ(*fine->render(ctx), json::value(100'013));  // [{"text":"x..."}]
}

TEST(TemplateLimitTest, ASharedBudgetBoundsSeveralTemplates) {
    json::object ctx = big_context(300);
    Result<Template> t = Template::compile("{{ dag_run.conf.text }}");
    ASSERT_TRUE(t.has_value());
    RenderBudget budget(1000, "argv in total");
    EXPECT_TRUE(t->render_text(ctx, budget).has_value());
    EXPECT_TRUE(t->render_text(ctx, budget).has_value());
    EXPECT_TRUE(t->render_text(ctx, budget).has_value());
    EXPECT_EQ(budget.left(), 100u);
    Result<std::string> fourth = t->render_text(ctx, budget);
    ASSERT_FALSE(fourth.has_value());
    EXPECT_EQ(fourth.error().message,
              "the rendered text would be longer than 1000 bytes, the limit for argv in total");
    EXPECT_EQ(budget.left(), 100u);

    Result<TemplateTree> tree = TemplateTree::compile(
        json::parse(R"({"a": "{{ dag_run.conf.text }}", "b": ["{{ dag_run.conf.text }}"]})"));
    ASSERT_TRUE(tree.has_value());
    RenderBudget body(500, "the body");
    Result<json::value> rendered = tree->render(ctx, body);
    ASSERT_FALSE(rendered.has_value());
    EXPECT_EQ(rendered.error().code, ErrorCode::kTooLarge);
}

TEST(TemplateEscapeTest, EachValueIsEscapedAndTheTextKept) {
    json::object ctx = big_context(1);
    Result<Template> t = Template::compile("/a b/{{ params.word }}/{{ 5 }}?q={{ params.word }}");
    ASSERT_TRUE(t.has_value());
    RenderBudget budget;
    auto escape = [](std::string_view s) { return "<" + std::string(s) + ">"; };
    Result<std::string> text = t->render_text(ctx, budget, +escape);
    ASSERT_TRUE(text.has_value()) << text.error().message;
    EXPECT_EQ(*text, "/a b/<a/b c?d#e%f\r\nG>/<5>?q=<a/b c?d#e%f\r\nG>");
    // A single expression keeps its text alone, without the whitespace around it.
    Result<Template> single = Template::compile("  {{ params.word }} ");
    ASSERT_TRUE(single.has_value());
    EXPECT_EQ(*single->render_text(ctx, budget, +escape), "<a/b c?d#e%f\r\nG>");
}

TEST(TemplateReadsTest, ReadPathsFollowMembersAndLiteralKeys) {
    Result<Template> t = Template::compile(
        "{{ dag_run.conf.x }} {{ dag_run['dag_id'] }} {{ tasks.a.output[0].b }} "
        "{{ params[params.key] | default(ds) }} {{ [run_id, 1] }}");
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->read_paths(),
              (std::vector<std::string>{"dag_run.conf.x", "dag_run.dag_id", "tasks.a.output[0].b",
                                        "params", "params.key", "ds", "run_id"}));
}

}  // namespace
}  // namespace orquestra::dag
