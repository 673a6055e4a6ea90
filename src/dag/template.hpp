#pragma once
// Templates: `{{ expression }}` inside strings of a DAG file, compiled once when the file loads
// (so syntax errors are import errors) and rendered per task attempt against a context object.
//
// The expression language is a small, side-effect-free subset of Jinja (see src/dag/README.md):
// literals, names, `a.b`, `a['k']`, `a[0]`, `in`/`not in`, comparisons, and/or/not, parentheses
// and the filters default, tojson, string, int, float, lower, upper, length.
//
// Typing: a template that is exactly one `{{ expr }}` (surrounding whitespace allowed) renders
// to the expression's JSON value, so "{{ params.usuario_id }}" gives the integer 1. Any other
// template renders to a string; values inside text use to_text() (strings raw, everything else
// as JSON text, so null is "null").
//
// Compiled templates are immutable and share their syntax tree, so copies are cheap and
// render() may be called from any number of threads at once.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace orquestra::dag {

// Longest text allowed between one pair of braces, and deepest nesting of an expression.
inline constexpr std::size_t kMaxExpressionLength = 4096;
inline constexpr int kMaxExpressionDepth = 64;

// Most bytes one rendered template may produce, and most bytes any one value built while
// rendering it may have (a list, a filter's output). All the values built while rendering one
// template may add up to at most kMaxRenderWorkBytes. Sizes are counted before anything is
// built, so a run's conf cannot make a rendering allocate without bound.
inline constexpr std::size_t kMaxRenderedBytes = 1u << 20;
inline constexpr std::size_t kMaxRenderWorkBytes = 8u << 20;

// How many bytes renderings may still produce. One budget may be shared by several templates
// (the items of an argv, the strings of a json body) so that their total stays bounded; each
// template is also held to kMaxRenderedBytes. Not thread-safe: one per rendering.
class RenderBudget {
  public:
    // `what` names the limit in errors: "the limit for argv in total".
    explicit RenderBudget(std::size_t bytes = kMaxRenderedBytes,
                          std::string what = "one rendered template")
        : limit_(bytes), left_(bytes), what_(std::move(what)) {}
    std::size_t limit() const { return limit_; }
    std::size_t left() const { return left_; }
    const std::string& what() const { return what_; }
    // Takes n bytes; false, taking nothing, when fewer are left.
    bool take(std::size_t n) {
        if (n > left_) return false;
        left_ -= n;
        return true;
    }

  private:
    std::size_t limit_;
    std::size_t left_;
    std::string what_;
};

// Applied to the text of each expression's value when rendering to text (the literal text of
// the template is kept as written), e.g. percent_encode for one URL path segment.
using TextEscape = std::string (*)(std::string_view);

class Template {
  public:
    // The empty constant string.
    Template();

    // Fails with kInvalidArgument naming the problem and its offset in `text`: an unclosed
    // "{{", an empty or malformed expression, an unknown filter, a `{% %}` block, an expression
    // longer than kMaxExpressionLength or nested deeper than kMaxExpressionDepth.
    static Result<Template> compile(std::string_view text);

    // Fails with kInvalidArgument on an undefined name or missing key ("undefined:
    // tasks.obter_usuario.output.grupoz") and on type errors ("'in' needs a list, string or
    // object on the right, got null").
    // Too large a result, or too large a value built on the way, fails with kTooLarge naming
    // the limit (RenderBudget).
    Result<boost::json::value> render(const boost::json::object& context) const;
    Result<boost::json::value> render(const boost::json::object& context,
                                      RenderBudget& budget) const;
    // render(), then to_text() of the value: for paths, headers and argv. With `escape`, each
    // expression's text goes through it (the template's own text does not); the budget counts
    // the escaped text.
    Result<std::string> render_text(const boost::json::object& context) const;
    Result<std::string> render_text(const boost::json::object& context, RenderBudget& budget,
                                    TextEscape escape = nullptr) const;

    const std::string& source() const;
    // True when the text holds no expression at all.
    bool is_constant() const;
    // True when the text is exactly one {{ expression }} (whitespace around allowed), so that
    // render() keeps the expression's type.
    bool is_single_expression() const;
    // The context names the expressions read at top level (e.g. "params", "tasks"), each once.
    const std::vector<std::string>& root_names() const;
    // What the expressions read, as far as it is known before rendering: each name with the
    // members and literal keys applied to it ("dag_run.conf.x", "tasks.a.output", "params"
    // for params[k] with k computed), each once.
    const std::vector<std::string>& read_paths() const;

  private:
    struct Compiled;
    explicit Template(std::shared_ptr<const Compiled> compiled);
    std::shared_ptr<const Compiled> compiled_;
};

// A JSON tree (object, array or scalar) whose strings may hold templates, e.g. an HTTP task's
// `json:` body. Object keys are not templated. Immutable; cheap to copy; thread-safe to render.
class TemplateTree {
  public:
    // The JSON null tree.
    TemplateTree();
    // Fails like Template::compile, prefixed with where the string is ("usuario_id: ...",
    // "items[2]: ..."). Nesting deeper than 64 levels is refused.
    static Result<TemplateTree> compile(const boost::json::value& tree);
    // Each template is held to kMaxRenderedBytes; all of them together to the budget.
    Result<boost::json::value> render(const boost::json::object& context) const;
    Result<boost::json::value> render(const boost::json::object& context,
                                      RenderBudget& budget) const;
    const boost::json::value& source() const;
    const std::vector<std::string>& root_names() const;
    // Every template's read_paths(), each once.
    const std::vector<std::string>& read_paths() const;

  private:
    struct Node;
    struct Compiled;
    explicit TemplateTree(std::shared_ptr<const Compiled> compiled);
    std::shared_ptr<const Compiled> compiled_;
};

// Compile and render in one step, for one-off use (tests, the API's dry runs).
Result<boost::json::value> render_tree(const boost::json::value& tree,
                                       const boost::json::object& context);

// What a task attempt's templates may read. make_context() lays it out as:
//   params      the resolved params (params.hpp)
//   dag_run     {dag_id, run_id, conf, logical_date, data_interval_start, data_interval_end}
//   run_id, ds ("2024-01-01"), ds_nodash ("20240101"), ts ("2024-01-01T00:00:00+00:00"),
//   logical_date, data_interval_start, data_interval_end   (datetimes as ISO 8601 text)
//   tasks       {<task_id>: {output: <value>}} for the tasks whose output is known
// The scheduler adds, for what a task reads of them (secret_reads()):
//   var         {value: {<key>: text}, json: {<key>: value}}   variables
//   conn        {<conn_id>: {conn_type, host, port, login, password, schema, extra,
//                extra_dejson, description}}                  connections
// and for each task instance (dynamic task mapping):
//   map_index   the instance's index, 0..n-1 (-1 for a task that is not mapped)
//   expand      {<key>: element} the instance's elements, for a mapped task only
struct RenderInputs {
    std::string dag_id;
    std::string run_id;
    boost::json::object params;
    boost::json::object conf;
    Millis logical_date = 0;
    std::optional<Millis> data_interval_start;  // defaults to logical_date
    std::optional<Millis> data_interval_end;    // defaults to logical_date
    boost::json::object task_outputs;           // task_id -> output
};
boost::json::object make_context(const RenderInputs& inputs);

// The top-level names make_context() and the scheduler provide; the loader rejects templates
// using others.
const std::vector<std::string>& context_names();

// The fields of a connection templates may read (conn.<id>.<field>).
const std::vector<std::string>& connection_fields();

// What a template reads of variables and connections, from its read_paths(): each variable key
// (var.value.<key>, var.json.<key>) and connection id (conn.<id>.<field>) once, in order.
// kInvalidArgument for a read the scheduler cannot look up before rendering: a key computed
// while rendering (var.value[params.k]), `var` or `conn` whole, an unknown connection field.
struct SecretReads {
    std::vector<std::string> variables;       // read as text (var.value)
    std::vector<std::string> json_variables;  // read as JSON (var.json)
    std::vector<std::string> connections;
    bool empty() const {
        return variables.empty() && json_variables.empty() && connections.empty();
    }
};
Result<void> add_secret_reads(const std::vector<std::string>& read_paths, SecretReads& out);

}  // namespace orquestra::dag
