// The template language: lexer, recursive-descent parser and tree-walking evaluator, all here.
// While compiling, syntax errors travel as a private SyntaxError exception that compile()
// turns into an Error; nothing is thrown out of this file. Evaluation returns Results, with
// ErrorCode::kNotFound marking "undefined" so that the `default` filter can catch exactly that.

#include "dag/template.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <utility>

#include "core/strings.hpp"
#include "dag/json_text.hpp"
#include "dag/time_text.hpp"

namespace orquestra::dag {

namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------------------------
// Lexer

enum class Tok {
    kEnd,
    kIdent,
    kInt,
    kFloat,
    kString,
    kDot,
    kComma,
    kPipe,
    kLParen,
    kRParen,
    kLBracket,
    kRBracket,
    kEq,
    kNe,
    kLt,
    kLe,
    kGt,
    kGe,
};

struct Token {
    Tok kind = Tok::kEnd;
    std::string text;  // identifier, or the decoded value of a string literal
    std::int64_t int_value = 0;
    double float_value = 0;
    std::size_t begin = 0;  // offsets into the expression text
    std::size_t end = 0;
};

struct SyntaxError {
    std::string message;
};

[[noreturn]] void syntax_error(std::string message) { throw SyntaxError{std::move(message)}; }

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void lex_number(std::string_view s, std::size_t& i, Token& t) {
    if (s[i] == '-') ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    bool is_float = false;
    if (i + 1 < s.size() && s[i] == '.' && is_digit(s[i + 1])) {
        is_float = true;
        ++i;
        while (i < s.size() && is_digit(s[i])) ++i;
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        std::size_t j = i + 1;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        if (j < s.size() && is_digit(s[j])) {
            is_float = true;
            i = j;
            while (i < s.size() && is_digit(s[i])) ++i;
        }
    }
    std::string_view text = s.substr(t.begin, i - t.begin);
    if (i < s.size() && is_ident_char(s[i])) {
        syntax_error(fmt::format("bad number '{}' at offset {}", text, t.begin));
    }
    const char* first = s.data() + t.begin;
    const char* last = s.data() + i;
    if (is_float) {
        auto [ptr, ec] = std::from_chars(first, last, t.float_value);
        if (ec != std::errc{} || ptr != last || !std::isfinite(t.float_value)) {
            syntax_error(fmt::format("number {} is out of range", text));
        }
        t.kind = Tok::kFloat;
    } else {
        auto [ptr, ec] = std::from_chars(first, last, t.int_value);
        if (ec != std::errc{} || ptr != last) {
            syntax_error(fmt::format("integer {} is out of range", text));
        }
        t.kind = Tok::kInt;
    }
}

void lex_string(std::string_view s, std::size_t& i, Token& t) {
    char quote = s[i++];
    std::string value;
    while (i < s.size()) {
        char c = s[i++];
        if (c == quote) {
            t.kind = Tok::kString;
            t.text = std::move(value);
            return;
        }
        if (c == '\\' && i < s.size()) {
            char e = s[i++];
            switch (e) {
                case 'n':
                    value.push_back('\n');
                    break;
                case 't':
                    value.push_back('\t');
                    break;
                case 'r':
                    value.push_back('\r');
                    break;
                case '\\':
                case '\'':
                case '"':
                    value.push_back(e);
                    break;
                default:  // unknown escapes stay as written, as in Python
                    value.push_back('\\');
                    value.push_back(e);
            }
        } else {
            value.push_back(c);
        }
    }
    syntax_error(fmt::format("unterminated string starting at offset {}", t.begin));
}

std::vector<Token> tokenize(std::string_view s) {
    std::vector<Token> out;
    std::size_t i = 0;
    while (true) {
        while (i < s.size() && is_space(s[i])) ++i;
        Token t;
        t.begin = i;
        if (i == s.size()) {
            t.end = i;
            out.push_back(std::move(t));
            return out;
        }
        char c = s[i];
        std::string_view two = s.substr(i, 2);
        if (is_ident_start(c)) {
            while (i < s.size() && is_ident_char(s[i])) ++i;
            t.kind = Tok::kIdent;
            t.text = std::string(s.substr(t.begin, i - t.begin));
        } else if (is_digit(c) || (c == '-' && i + 1 < s.size() && is_digit(s[i + 1]))) {
            lex_number(s, i, t);
        } else if (c == '\'' || c == '"') {
            lex_string(s, i, t);
        } else if (two == "==" || two == "!=" || two == "<=" || two == ">=") {
            t.kind = two == "=="   ? Tok::kEq
                     : two == "!=" ? Tok::kNe
                     : two == "<=" ? Tok::kLe
                                   : Tok::kGe;
            i += 2;
        } else {
            switch (c) {
                case '<':
                    t.kind = Tok::kLt;
                    break;
                case '>':
                    t.kind = Tok::kGt;
                    break;
                case '.':
                    t.kind = Tok::kDot;
                    break;
                case ',':
                    t.kind = Tok::kComma;
                    break;
                case '|':
                    t.kind = Tok::kPipe;
                    break;
                case '(':
                    t.kind = Tok::kLParen;
                    break;
                case ')':
                    t.kind = Tok::kRParen;
                    break;
                case '[':
                    t.kind = Tok::kLBracket;
                    break;
                case ']':
                    t.kind = Tok::kRBracket;
                    break;
                case '=':
                    syntax_error(
                        fmt::format("'=' at offset {} is not an operator; compare with '=='", i));
                default:
                    syntax_error(fmt::format("unexpected character '{}' at offset {}", c, i));
            }
            ++i;
        }
        t.end = i;
        out.push_back(std::move(t));
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

enum class NodeKind { kLiteral, kName, kAttr, kIndex, kList, kNot, kAnd, kOr, kCompare, kFilter };
enum class CmpOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };
enum class FilterId { kDefault, kToJson, kString, kInt, kFloat, kLower, kUpper, kLength };

struct Expr {
    NodeKind kind = NodeKind::kLiteral;
    json::value literal;  // kLiteral
    std::string name;     // kName: the name; kAttr: the member; kFilter: the filter
    std::string text;     // this node's source text, for error messages
    CmpOp op = CmpOp::kEq;
    FilterId filter = FilterId::kDefault;
    // kAttr: base; kIndex: base, key; kList: items; kNot: operand; kAnd/kOr/kCompare: left,
    // right; kFilter: input, then the arguments.
    std::vector<std::unique_ptr<Expr>> kids;
    int depth = 1;
};

struct FilterInfo {
    std::string_view name;
    FilterId id;
    std::size_t min_args;
    std::size_t max_args;
};

constexpr FilterInfo kFilters[] = {
    {"default", FilterId::kDefault, 0, 2}, {"tojson", FilterId::kToJson, 0, 0},
    {"string", FilterId::kString, 0, 0},   {"int", FilterId::kInt, 0, 0},
    {"float", FilterId::kFloat, 0, 0},     {"lower", FilterId::kLower, 0, 0},
    {"upper", FilterId::kUpper, 0, 0},     {"length", FilterId::kLength, 0, 0},
};

bool is_keyword(std::string_view w) { return w == "and" || w == "or" || w == "not" || w == "in"; }

class Parser {
  public:
    Parser(std::string_view source, std::vector<Token> tokens)
        : src_(source), toks_(std::move(tokens)) {}

    std::unique_ptr<Expr> parse_all() {
        auto e = parse_expr();
        if (peek().kind != Tok::kEnd) {
            syntax_error(fmt::format("unexpected {} at offset {}", describe(peek()), peek().begin));
        }
        return e;
    }

  private:
    using Kids = std::vector<std::unique_ptr<Expr>>;

    // Bounds the recursion of the parser itself, before any node exists.
    class DepthGuard {
      public:
        explicit DepthGuard(Parser& p) : p_(p) {
            if (++p_.depth_ > kMaxExpressionDepth) {
                syntax_error(
                    fmt::format("expression nests deeper than {} levels", kMaxExpressionDepth));
            }
        }
        ~DepthGuard() { --p_.depth_; }
        DepthGuard(const DepthGuard&) = delete;
        DepthGuard& operator=(const DepthGuard&) = delete;

      private:
        Parser& p_;
    };

    const Token& peek(std::size_t ahead = 0) const {
        return toks_[std::min(pos_ + ahead, toks_.size() - 1)];
    }
    const Token& advance() {
        const Token& t = toks_[pos_];
        if (t.kind != Tok::kEnd) ++pos_;
        return t;
    }
    bool is_word(std::string_view w, std::size_t ahead = 0) const {
        return peek(ahead).kind == Tok::kIdent && peek(ahead).text == w;
    }
    std::string describe(const Token& t) const {
        if (t.kind == Tok::kEnd) return "end of expression";
        return fmt::format("'{}'", src_.substr(t.begin, t.end - t.begin));
    }
    void expect(Tok kind, std::string_view what) {
        if (peek().kind != kind) {
            syntax_error(fmt::format("expected {} at offset {}, found {}", what, peek().begin,
                                     describe(peek())));
        }
        advance();
    }
    std::size_t prev_end() const { return pos_ == 0 ? 0 : toks_[pos_ - 1].end; }

    std::unique_ptr<Expr> make(NodeKind kind, std::size_t begin, Kids kids) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->kids = std::move(kids);
        int deepest = 0;
        for (const auto& k : e->kids) deepest = std::max(deepest, k->depth);
        e->depth = deepest + 1;
        if (e->depth > kMaxExpressionDepth) {
            syntax_error(
                fmt::format("expression nests deeper than {} levels", kMaxExpressionDepth));
        }
        e->text = std::string(src_.substr(begin, prev_end() - begin));
        return e;
    }
    static Kids kids(std::unique_ptr<Expr> a) {
        Kids k;
        k.push_back(std::move(a));
        return k;
    }
    static Kids kids(std::unique_ptr<Expr> a, std::unique_ptr<Expr> b) {
        Kids k;
        k.push_back(std::move(a));
        k.push_back(std::move(b));
        return k;
    }

    std::unique_ptr<Expr> parse_expr() {
        DepthGuard guard(*this);
        return parse_or();
    }

    std::unique_ptr<Expr> parse_or() {
        std::size_t begin = peek().begin;
        auto left = parse_and();
        while (is_word("or")) {
            advance();
            auto right = parse_and();
            left = make(NodeKind::kOr, begin, kids(std::move(left), std::move(right)));
        }
        return left;
    }

    std::unique_ptr<Expr> parse_and() {
        std::size_t begin = peek().begin;
        auto left = parse_not();
        while (is_word("and")) {
            advance();
            auto right = parse_not();
            left = make(NodeKind::kAnd, begin, kids(std::move(left), std::move(right)));
        }
        return left;
    }

    std::unique_ptr<Expr> parse_not() {
        if (is_word("not")) {
            std::size_t begin = peek().begin;
            advance();
            DepthGuard guard(*this);
            auto operand = parse_not();
            return make(NodeKind::kNot, begin, kids(std::move(operand)));
        }
        return parse_compare();
    }

    // Reads a comparison operator if one is next.
    std::optional<CmpOp> take_compare_op() {
        std::optional<CmpOp> op;
        switch (peek().kind) {
            case Tok::kEq:
                op = CmpOp::kEq;
                break;
            case Tok::kNe:
                op = CmpOp::kNe;
                break;
            case Tok::kLt:
                op = CmpOp::kLt;
                break;
            case Tok::kLe:
                op = CmpOp::kLe;
                break;
            case Tok::kGt:
                op = CmpOp::kGt;
                break;
            case Tok::kGe:
                op = CmpOp::kGe;
                break;
            default:
                break;
        }
        if (op) {
            advance();
        } else if (is_word("in")) {
            advance();
            op = CmpOp::kIn;
        } else if (is_word("not") && is_word("in", 1)) {
            advance();
            advance();
            op = CmpOp::kNotIn;
        }
        return op;
    }

    std::unique_ptr<Expr> parse_compare() {
        std::size_t begin = peek().begin;
        auto left = parse_filtered();
        std::optional<CmpOp> op = take_compare_op();
        if (!op) return left;
        auto right = parse_filtered();
        auto e = make(NodeKind::kCompare, begin, kids(std::move(left), std::move(right)));
        e->op = *op;
        std::size_t at = peek().begin;
        if (take_compare_op()) {
            syntax_error(
                fmt::format("chained comparison at offset {}; join comparisons with 'and'", at));
        }
        return e;
    }

    std::unique_ptr<Expr> parse_filtered() {
        std::size_t begin = peek().begin;
        auto e = parse_postfix();
        while (peek().kind == Tok::kPipe) {
            advance();
            if (peek().kind != Tok::kIdent) {
                syntax_error(
                    fmt::format("expected a filter name after '|' at offset {}", peek().begin));
            }
            std::string name = advance().text;
            const FilterInfo* info = nullptr;
            for (const auto& f : kFilters) {
                if (f.name == name) info = &f;
            }
            if (info == nullptr) {
                syntax_error(fmt::format(
                    "unknown filter '{}' (known: default, tojson, string, int, float, lower, "
                    "upper, length)",
                    name));
            }
            Kids k = kids(std::move(e));
            if (peek().kind == Tok::kLParen) {
                advance();
                if (peek().kind != Tok::kRParen) {
                    while (true) {
                        k.push_back(parse_expr());
                        if (peek().kind != Tok::kComma) break;
                        advance();
                    }
                }
                expect(Tok::kRParen, "')'");
            }
            std::size_t args = k.size() - 1;
            if (args < info->min_args || args > info->max_args) {
                syntax_error(info->max_args == 0
                                 ? fmt::format("filter '{}' takes no arguments", name)
                                 : fmt::format("filter '{}' takes {} to {} arguments, got {}", name,
                                               info->min_args, info->max_args, args));
            }
            e = make(NodeKind::kFilter, begin, std::move(k));
            e->name = name;
            e->filter = info->id;
        }
        return e;
    }

    std::unique_ptr<Expr> parse_postfix() {
        std::size_t begin = peek().begin;
        auto e = parse_primary();
        while (true) {
            if (peek().kind == Tok::kDot) {
                advance();
                if (peek().kind != Tok::kIdent) {
                    syntax_error(fmt::format("expected a name after '.' at offset {}, found {}",
                                             peek().begin, describe(peek())));
                }
                std::string member = advance().text;
                e = make(NodeKind::kAttr, begin, kids(std::move(e)));
                e->name = std::move(member);
            } else if (peek().kind == Tok::kLBracket) {
                advance();
                auto key = parse_expr();
                expect(Tok::kRBracket, "']'");
                e = make(NodeKind::kIndex, begin, kids(std::move(e), std::move(key)));
            } else {
                return e;
            }
        }
    }

    std::unique_ptr<Expr> literal(std::size_t begin, json::value v) {
        auto e = make(NodeKind::kLiteral, begin, {});
        e->literal = std::move(v);
        return e;
    }

    std::unique_ptr<Expr> parse_primary() {
        const Token& t = peek();
        std::size_t begin = t.begin;
        switch (t.kind) {
            case Tok::kInt:
                advance();
                return literal(begin, t.int_value);
            case Tok::kFloat:
                advance();
                return literal(begin, t.float_value);
            case Tok::kString:
                advance();
                return literal(begin, json::string(t.text));
            case Tok::kIdent: {
                const std::string& w = t.text;
                if (w == "true" || w == "True") {
                    advance();
                    return literal(begin, true);
                }
                if (w == "false" || w == "False") {
                    advance();
                    return literal(begin, false);
                }
                if (w == "none" || w == "None" || w == "null") {
                    advance();
                    return literal(begin, nullptr);
                }
                if (is_keyword(w)) {
                    syntax_error(fmt::format("unexpected '{}' at offset {}", w, begin));
                }
                std::string name = advance().text;
                auto e = make(NodeKind::kName, begin, {});
                e->name = std::move(name);
                return e;
            }
            case Tok::kLParen: {
                advance();
                auto e = parse_expr();
                expect(Tok::kRParen, "')'");
                return e;
            }
            case Tok::kLBracket: {
                advance();
                Kids items;
                while (peek().kind != Tok::kRBracket) {
                    items.push_back(parse_expr());
                    if (peek().kind != Tok::kComma) break;
                    advance();
                }
                expect(Tok::kRBracket, "']' or ','");
                return make(NodeKind::kList, begin, std::move(items));
            }
            case Tok::kEnd:
                syntax_error("unexpected end of expression");
            default:
                syntax_error(fmt::format("unexpected {} at offset {}", describe(t), begin));
        }
    }

    std::string_view src_;
    std::vector<Token> toks_;
    std::size_t pos_ = 0;
    int depth_ = 0;
};

void collect_roots(const Expr& e, std::vector<std::string>& out) {
    if (e.kind == NodeKind::kName && std::find(out.begin(), out.end(), e.name) == out.end()) {
        out.push_back(e.name);
    }
    for (const auto& k : e.kids) collect_roots(*k, out);
}

// ---------------------------------------------------------------------------------------------
// Evaluation

// A value that is either borrowed from the context or the syntax tree (both outlive the
// evaluation) or owned. Members of an owned value are moved out, never borrowed, so no
// reference dangles.
struct Val {
    const json::value* ref = nullptr;
    json::value own;

    static Val borrow(const json::value& v) { return Val{&v, {}}; }
    static Val owned(json::value v) { return Val{nullptr, std::move(v)}; }
    const json::value& get() const { return ref != nullptr ? *ref : own; }
    json::value take() && { return ref != nullptr ? *ref : std::move(own); }
    // `child` lies inside this value. An owned value is dropped right after, so its member
    // is moved out of it rather than copied.
    Val member(const json::value& child) && {
        if (ref != nullptr) return borrow(child);
        return owned(std::move(const_cast<json::value&>(child)));
    }
};

using Eval = Result<Val>;

// An upper bound on the length of `s` as a JSON string, counted no further than just past `cap`.
std::size_t quoted_size(std::string_view s, std::size_t cap) {
    std::size_t n = 2;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        n += u < 0x20 ? 6 : (c == '"' || c == '\\') ? 2 : 1;
        if (n > cap) break;
    }
    return n;
}

// An upper bound on the length of to_json_text(v) (quoted) or to_text(v) (not quoted), counted
// no further than just past `cap`: enough to tell whether a value fits without building it.
std::size_t text_size(const json::value& v, std::size_t cap, bool quoted = true) {
    switch (v.kind()) {
        case json::kind::null:
            return 4;
        case json::kind::bool_:
            return 5;
        case json::kind::int64:
        case json::kind::uint64:
        case json::kind::double_:
            return 25;  // the longest number text
        case json::kind::string: {
            std::string_view s(v.get_string());
            return quoted ? quoted_size(s, cap) : s.size();
        }
        case json::kind::array: {
            std::size_t n = 2;
            for (const auto& item : v.get_array()) {
                if (n > cap) break;
                n += 1 + text_size(item, cap - n);
            }
            return n;
        }
        case json::kind::object: {
            std::size_t n = 2;
            for (const auto& field : v.get_object()) {
                if (n > cap) break;
                n += 1 + quoted_size(field.key(), cap - n);
                if (n > cap) break;
                n += text_size(field.value(), cap - n);
            }
            return n;
        }
    }
    return 0;
}

Error too_large(std::size_t limit, std::string_view what) {
    return Error{ErrorCode::kTooLarge,
                 fmt::format("the rendered text would be longer than {} bytes, the limit for {}",
                             limit, what)};
}

// What one expression is evaluated against: the context, and the count of bytes the values it
// builds take (each at most kMaxRenderedBytes, all at most kMaxRenderWorkBytes).
struct Scope {
    const json::object& vars;
    std::size_t built = 0;

    // Call before building a value of about `bytes` bytes.
    Result<void> build(std::size_t bytes, std::string_view what) {
        if (bytes > kMaxRenderedBytes) {
            return Error{ErrorCode::kTooLarge,
                         fmt::format("{} would be longer than {} bytes, the limit for a value "
                                     "built while rendering",
                                     what, kMaxRenderedBytes)};
        }
        if (bytes > kMaxRenderWorkBytes - built) {
            return Error{ErrorCode::kTooLarge,
                         fmt::format("the values built while rendering one template would take "
                                     "more than {} bytes",
                                     kMaxRenderWorkBytes)};
        }
        built += bytes;
        return {};
    }
};

Error undefined(std::string what) {
    return Error{ErrorCode::kNotFound, fmt::format("undefined: {}", what)};
}
Error type_error(std::string message) {
    return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

Eval eval(const Expr& e, Scope& ctx);

Eval eval_index(const Expr& e, Scope& ctx) {
    Eval base = eval(*e.kids[0], ctx);
    if (!base) return base;
    Eval key = eval(*e.kids[1], ctx);
    if (!key) return key;
    const json::value& b = base->get();
    const json::value& k = key->get();
    if (b.is_array() && (k.is_int64() || k.is_uint64())) {
        const auto& arr = b.get_array();
        auto size = static_cast<std::int64_t>(arr.size());
        std::int64_t i = k.is_int64() ? k.get_int64() : -1;
        if (k.is_uint64()) i = size;  // larger than any index
        if (i < 0) i += size;
        if (i >= 0 && i < size) return std::move(*base).member(arr[static_cast<std::size_t>(i)]);
    } else if (b.is_object() && k.is_string()) {
        if (const json::value* child = b.get_object().if_contains(k.get_string())) {
            return std::move(*base).member(*child);
        }
    }
    if (e.kids[1]->kind == NodeKind::kLiteral) return undefined(e.text);
    return undefined(fmt::format("{} (key {})", e.text, to_json_text(k)));
}

Result<int> order(const json::value& a, const json::value& b) {
    if (a.is_number() && b.is_number()) return compare_numbers(a, b);
    if (a.is_string() && b.is_string()) {
        int c = a.get_string().subview().compare(b.get_string().subview());
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.is_array() && b.is_array()) {
        const auto& x = a.get_array();
        const auto& y = b.get_array();
        for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (json_equal(x[i], y[i])) continue;
            return order(x[i], y[i]);
        }
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    return type_error(fmt::format("cannot order {} and {}", kind_name(a), kind_name(b)));
}

Result<bool> contains(const json::value& container, const json::value& item) {
    if (container.is_array()) {
        const auto& arr = container.get_array();
        return std::any_of(arr.begin(), arr.end(),
                           [&](const json::value& x) { return json_equal(x, item); });
    }
    if (container.is_string() || container.is_object()) {
        if (!item.is_string()) {
            return type_error(
                fmt::format("'in' with a {} on the right needs a string on the "
                            "left, got {}",
                            kind_name(container), kind_name(item)));
        }
        if (container.is_string()) {
            return container.get_string().subview().find(item.get_string().subview()) !=
                   json::string_view::npos;
        }
        return container.get_object().contains(item.get_string());
    }
    return type_error(fmt::format("'in' needs a list, string or object on the right, got {}",
                                  kind_name(container)));
}

Eval eval_compare(const Expr& e, Scope& ctx) {
    Eval left = eval(*e.kids[0], ctx);
    if (!left) return left;
    Eval right = eval(*e.kids[1], ctx);
    if (!right) return right;
    const json::value& a = left->get();
    const json::value& b = right->get();
    bool result = false;
    switch (e.op) {
        case CmpOp::kEq:
            result = json_equal(a, b);
            break;
        case CmpOp::kNe:
            result = !json_equal(a, b);
            break;
        case CmpOp::kIn:
        case CmpOp::kNotIn: {
            Result<bool> found = contains(b, a);
            if (!found) return found.error();
            result = (e.op == CmpOp::kIn) == *found;
            break;
        }
        default: {
            Result<int> c = order(a, b);
            if (!c) return c.error();
            result = e.op == CmpOp::kLt   ? *c < 0
                     : e.op == CmpOp::kLe ? *c <= 0
                     : e.op == CmpOp::kGt ? *c > 0
                                          : *c >= 0;
        }
    }
    return Val::owned(result);
}

std::optional<std::int64_t> whole_double_to_int(double d) {
    // 2^63 is exact as a double; anything in [-2^63, 2^63) truncates into range.
    constexpr double kLimit = 9223372036854775808.0;
    if (!std::isfinite(d) || d < -kLimit || d >= kLimit) return std::nullopt;
    return static_cast<std::int64_t>(std::trunc(d));
}

std::optional<double> parse_double(std::string_view s) {
    double d = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size() || !std::isfinite(d)) {
        return std::nullopt;
    }
    return d;
}

Result<json::value> to_int(const json::value& v) {
    switch (v.kind()) {
        case json::kind::int64:
        case json::kind::uint64:
            return v;
        case json::kind::bool_:
            return json::value(std::int64_t{v.get_bool() ? 1 : 0});
        case json::kind::double_:
            if (auto i = whole_double_to_int(v.get_double())) return json::value(*i);
            break;
        case json::kind::string: {
            std::string_view s = trim(std::string_view(v.get_string()));
            if (auto i = parse_int(s)) return json::value(std::int64_t{*i});
            if (auto d = parse_double(s)) {
                if (auto i = whole_double_to_int(*d)) return json::value(*i);
            }
            break;
        }
        default:
            break;
    }
    return type_error(fmt::format("int: cannot convert {} to an integer", to_json_text(v)));
}

Result<json::value> to_float(const json::value& v) {
    switch (v.kind()) {
        case json::kind::int64:
        case json::kind::uint64:
        case json::kind::double_:
            return json::value(v.to_number<double>());
        case json::kind::bool_:
            return json::value(v.get_bool() ? 1.0 : 0.0);
        case json::kind::string:
            if (auto d = parse_double(trim(std::string_view(v.get_string())))) {
                return json::value(*d);
            }
            break;
        default:
            break;
    }
    return type_error(fmt::format("float: cannot convert {} to a number", to_json_text(v)));
}

Eval eval_filter(const Expr& e, Scope& ctx) {
    if (e.filter == FilterId::kDefault) {
        Eval input = eval(*e.kids[0], ctx);
        bool use_default = false;
        if (!input) {
            if (input.error().code != ErrorCode::kNotFound) return input;
            use_default = true;
        } else if (e.kids.size() > 2) {  // default(x, true): falsy values too, as in Jinja
            Eval also_falsy = eval(*e.kids[2], ctx);
            if (!also_falsy) return also_falsy;
            use_default = truthy(also_falsy->get()) && !truthy(input->get());
        }
        if (!use_default) return input;
        if (e.kids.size() > 1) return eval(*e.kids[1], ctx);
        return Val::owned(json::string());
    }
    Eval input = eval(*e.kids[0], ctx);
    if (!input) return input;
    const json::value& v = input->get();
    auto wrap = [](Result<json::value> r) -> Eval {
        if (!r) return r.error();
        return Val::owned(std::move(*r));
    };
    auto build = [&](bool quoted) {
        return ctx.build(text_size(v, kMaxRenderedBytes, quoted), "the output of " + e.text);
    };
    switch (e.filter) {
        case FilterId::kToJson:
            if (auto r = build(true); !r) return r.error();
            return Val::owned(json::string(to_json_text(v)));
        case FilterId::kString:
            if (auto r = build(false); !r) return r.error();
            return Val::owned(json::string(to_text(v)));
        case FilterId::kInt:
            return wrap(to_int(v));
        case FilterId::kFloat:
            return wrap(to_float(v));
        case FilterId::kLower:
        case FilterId::kUpper: {
            if (!v.is_string()) {
                return type_error(fmt::format("{}: needs a string, got {}", e.name, kind_name(v)));
            }
            std::string_view s(v.get_string());
            if (auto r = build(false); !r) return r.error();
            return Val::owned(
                json::string(e.filter == FilterId::kLower ? to_lower(s) : to_upper(s)));
        }
        case FilterId::kLength: {
            std::size_t n = 0;
            if (v.is_string())
                n = utf8_length(std::string_view(v.get_string()));
            else if (v.is_array())
                n = v.get_array().size();
            else if (v.is_object())
                n = v.get_object().size();
            else
                return type_error(fmt::format("length: {} has no length", kind_name(v)));
            return Val::owned(static_cast<std::int64_t>(n));
        }
        case FilterId::kDefault:
            break;  // handled above
    }
    return type_error("unknown filter");
}

Eval eval(const Expr& e, Scope& ctx) {
    switch (e.kind) {
        case NodeKind::kLiteral:
            return Val::borrow(e.literal);
        case NodeKind::kName: {
            if (const json::value* v = ctx.vars.if_contains(e.name)) return Val::borrow(*v);
            return undefined(e.name);
        }
        case NodeKind::kAttr: {
            Eval base = eval(*e.kids[0], ctx);
            if (!base) return base;
            const json::value& b = base->get();
            if (b.is_object()) {
                if (const json::value* child = b.get_object().if_contains(e.name)) {
                    return std::move(*base).member(*child);
                }
            }
            return undefined(e.text);
        }
        case NodeKind::kIndex:
            return eval_index(e, ctx);
        case NodeKind::kList: {
            json::array items;
            items.reserve(e.kids.size());
            std::size_t size = 2;
            for (const auto& k : e.kids) {
                Eval item = eval(*k, ctx);
                if (!item) return item;
                size += 1 + text_size(item->get(), kMaxRenderedBytes);
                if (size > kMaxRenderedBytes) {
                    if (auto r = ctx.build(size, "the list " + e.text); !r) return r.error();
                }
                items.push_back(std::move(*item).take());
            }
            if (auto r = ctx.build(size, "the list " + e.text); !r) return r.error();
            return Val::owned(std::move(items));
        }
        case NodeKind::kNot: {
            Eval operand = eval(*e.kids[0], ctx);
            if (!operand) return operand;
            return Val::owned(!truthy(operand->get()));
        }
        case NodeKind::kAnd:
        case NodeKind::kOr: {
            // Python semantics: the result is one of the operands, evaluated lazily.
            Eval left = eval(*e.kids[0], ctx);
            if (!left) return left;
            bool decided = truthy(left->get()) == (e.kind == NodeKind::kOr);
            if (decided) return left;
            return eval(*e.kids[1], ctx);
        }
        case NodeKind::kCompare:
            return eval_compare(e, ctx);
        case NodeKind::kFilter:
            return eval_filter(e, ctx);
    }
    return type_error("bad expression");
}

// Finds the "}}" closing an expression that starts at `from`, skipping quoted strings.
std::size_t find_close(std::string_view s, std::size_t from) {
    char quote = 0;
    for (std::size_t i = from; i < s.size(); ++i) {
        char c = s[i];
        if (quote != 0) {
            if (c == '\\')
                ++i;
            else if (c == quote)
                quote = 0;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '}' && i + 1 < s.size() && s[i + 1] == '}') {
            return i;
        }
    }
    return std::string_view::npos;
}

bool all_space(std::string_view s) { return std::all_of(s.begin(), s.end(), is_space); }

// Undefined names are kNotFound only inside evaluation (for `default`); outside, like type
// errors, they are kInvalidArgument. Size limits stay kTooLarge.
Error public_error(const Error& e) {
    return Error{e.code == ErrorCode::kTooLarge ? e.code : ErrorCode::kInvalidArgument, e.message};
}

// The paths an expression reads (see Template::read_paths).
bool access_path(const Expr& e, std::string& out) {
    switch (e.kind) {
        case NodeKind::kName:
            out = e.name;
            return true;
        case NodeKind::kAttr:
            if (!access_path(*e.kids[0], out)) return false;
            out += "." + e.name;
            return true;
        case NodeKind::kIndex: {
            const Expr& key = *e.kids[1];
            if (key.kind != NodeKind::kLiteral || !access_path(*e.kids[0], out)) return false;
            out += key.literal.is_string() ? "." + std::string(key.literal.get_string())
                                           : "[" + to_json_text(key.literal) + "]";
            return true;
        }
        default:
            return false;
    }
}

void collect_reads(const Expr& e, std::vector<std::string>& out) {
    std::string path;
    if (access_path(e, path)) {
        if (std::find(out.begin(), out.end(), path) == out.end()) out.push_back(std::move(path));
        return;
    }
    for (const auto& k : e.kids) collect_reads(*k, out);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Template

struct Template::Compiled {
    struct Segment {
        std::string text;            // literal text when expr is null
        std::unique_ptr<Expr> expr;  // otherwise the expression
    };
    std::string source;
    std::vector<Segment> segments;
    bool typed = false;  // exactly one expression and only whitespace around it
    std::vector<std::string> roots;
    std::vector<std::string> reads;
};

Template::Template() : compiled_(std::make_shared<const Compiled>()) {}

Template::Template(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}

Result<Template> Template::compile(std::string_view text) {
    auto c = std::make_shared<Compiled>();
    c->source = std::string(text);
    std::size_t expressions = 0;
    bool only_space = true;
    try {
        std::size_t i = 0;
        while (i < text.size()) {
            std::size_t open = text.find("{{", i);
            std::string_view chunk =
                text.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i);
            if (std::size_t block = chunk.find("{%"); block != std::string_view::npos) {
                syntax_error(
                    fmt::format("'{{%' at offset {} starts a block; templates support "
                                "only {{{{ expression }}}}",
                                i + block));
            }
            if (!chunk.empty()) {
                only_space = only_space && all_space(chunk);
                c->segments.push_back({std::string(chunk), nullptr});
            }
            if (open == std::string_view::npos) break;
            std::size_t close = find_close(text, open + 2);
            if (close == std::string_view::npos) {
                syntax_error(fmt::format("'{{{{' at offset {} is not closed by '}}}}'", open));
            }
            std::string_view expr_text = text.substr(open + 2, close - open - 2);
            std::string shown = "'{{" + std::string(expr_text) + "}}'";
            if (expr_text.size() > kMaxExpressionLength) {
                syntax_error(fmt::format("expression at offset {} is longer than {} characters",
                                         open, kMaxExpressionLength));
            }
            if (all_space(expr_text)) {
                syntax_error(fmt::format("empty expression at offset {}", open));
            }
            try {
                Parser parser(expr_text, tokenize(expr_text));
                c->segments.push_back({std::string(), parser.parse_all()});
            } catch (const SyntaxError& e) {
                syntax_error(fmt::format("{} in {}", e.message, shown));
            }
            ++expressions;
            i = close + 2;
        }
    } catch (const SyntaxError& e) {
        return Error{ErrorCode::kInvalidArgument, e.message};
    }
    c->typed = expressions == 1 && only_space;
    for (const auto& s : c->segments) {
        if (s.expr) {
            collect_roots(*s.expr, c->roots);
            collect_reads(*s.expr, c->reads);
        }
    }
    return Template(std::move(c));
}

Result<json::value> Template::render(const json::object& context) const {
    RenderBudget budget;
    return render(context, budget);
}

Result<json::value> Template::render(const json::object& context, RenderBudget& budget) const {
    const Compiled& c = *compiled_;
    if (c.typed) {
        for (const auto& s : c.segments) {
            if (!s.expr) continue;
            Scope scope{context};
            Eval v = eval(*s.expr, scope);
            if (!v) return public_error(v.error());
            std::size_t limit = std::min(kMaxRenderedBytes, budget.left());
            std::size_t size = text_size(v->get(), limit);
            if (size > kMaxRenderedBytes) return too_large(kMaxRenderedBytes, "one template");
            if (!budget.take(size)) return too_large(budget.limit(), budget.what());
            return std::move(*v).take();
        }
    }
    Result<std::string> text = render_text(context, budget);
    if (!text) return text.error();
    return json::value(json::string(*text));
}

Result<std::string> Template::render_text(const json::object& context) const {
    RenderBudget budget;
    return render_text(context, budget);
}

Result<std::string> Template::render_text(const json::object& context, RenderBudget& budget,
                                          TextEscape escape) const {
    const Compiled& c = *compiled_;
    std::string out;
    // Counted before appending, so the text never grows past the limit.
    auto append = [&](std::string_view piece) -> Result<void> {
        if (piece.size() > kMaxRenderedBytes - out.size()) {
            return too_large(kMaxRenderedBytes, "one template");
        }
        if (!budget.take(piece.size())) return too_large(budget.limit(), budget.what());
        out += piece;
        return {};
    };
    for (const auto& s : c.segments) {
        if (!s.expr) {
            // A single expression's value stands alone: the whitespace around it is dropped.
            if (c.typed) continue;
            if (auto r = append(s.text); !r) return r.error();
            continue;
        }
        Scope scope{context};
        Eval v = eval(*s.expr, scope);
        if (!v) return public_error(v.error());
        const json::value& value = v->get();
        std::size_t size = text_size(value, std::min(kMaxRenderedBytes, budget.left()), false);
        if (size > kMaxRenderedBytes - out.size()) return too_large(kMaxRenderedBytes, "one template");
        if (size > budget.left()) return too_large(budget.limit(), budget.what());
        std::string piece = value.is_string() ? std::string(value.get_string()) : to_text(value);
        if (escape != nullptr) piece = escape(piece);
        if (auto r = append(piece); !r) return r.error();
    }
    return out;
}

const std::string& Template::source() const { return compiled_->source; }

bool Template::is_constant() const {
    return std::none_of(compiled_->segments.begin(), compiled_->segments.end(),
                        [](const auto& s) { return s.expr != nullptr; });
}

bool Template::is_single_expression() const { return compiled_->typed; }

const std::vector<std::string>& Template::root_names() const { return compiled_->roots; }

const std::vector<std::string>& Template::read_paths() const { return compiled_->reads; }

// ---------------------------------------------------------------------------------------------
// TemplateTree

struct TemplateTree::Node {
    enum class Kind { kConstant, kTemplate, kArray, kObject };
    Kind kind = Kind::kConstant;
    json::value constant;
    Template tmpl;
    std::vector<std::string> keys;  // kObject, parallel to items
    std::vector<Node> items;        // kArray and kObject
};

struct TemplateTree::Compiled {
    json::value source;
    Node root;
    std::vector<std::string> roots;
    std::vector<std::string> reads;
};

namespace {

constexpr int kMaxTreeDepth = 64;

std::string child_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

}  // namespace

TemplateTree::TemplateTree() : compiled_(std::make_shared<const Compiled>()) {}

TemplateTree::TemplateTree(std::shared_ptr<const Compiled> compiled)
    : compiled_(std::move(compiled)) {}

Result<TemplateTree> TemplateTree::compile(const json::value& tree) {
    auto c = std::make_shared<Compiled>();
    c->source = tree;
    // Returns whether the subtree holds a template; subtrees without one stay one constant.
    struct Builder {
        std::vector<std::string>& roots;
        std::vector<std::string>& reads;
        Result<bool> build(const json::value& v, const std::string& path, int depth, Node& out) {
            if (depth > kMaxTreeDepth) {
                return Error{ErrorCode::kInvalidArgument,
                             fmt::format("{}: nested deeper than {} levels",
                                         path.empty() ? "value" : path, kMaxTreeDepth)};
            }
            if (v.is_string()) {
                std::string_view s(v.get_string());
                if (s.find("{{") == std::string_view::npos &&
                    s.find("{%") == std::string_view::npos) {
                    out.constant = v;
                    return false;
                }
                Result<Template> t = Template::compile(s);
                if (!t) {
                    return Error{ErrorCode::kInvalidArgument,
                                 path.empty() ? t.error().message
                                              : fmt::format("{}: {}", path, t.error().message)};
                }
                for (const auto& r : t->root_names()) {
                    if (std::find(roots.begin(), roots.end(), r) == roots.end()) roots.push_back(r);
                }
                for (const auto& r : t->read_paths()) {
                    if (std::find(reads.begin(), reads.end(), r) == reads.end()) reads.push_back(r);
                }
                out.kind = Node::Kind::kTemplate;
                out.tmpl = std::move(*t);
                return true;
            }
            bool any = false;
            if (v.is_array()) {
                const auto& arr = v.get_array();
                out.items.resize(arr.size());
                for (std::size_t i = 0; i < arr.size(); ++i) {
                    Result<bool> r =
                        build(arr[i], fmt::format("{}[{}]", path, i), depth + 1, out.items[i]);
                    if (!r) return r;
                    any = any || *r;
                }
                out.kind = Node::Kind::kArray;
            } else if (v.is_object()) {
                const auto& obj = v.get_object();
                out.items.resize(obj.size());
                std::size_t i = 0;
                for (const auto& field : obj) {
                    out.keys.emplace_back(field.key());
                    Result<bool> r = build(field.value(), child_path(path, field.key()), depth + 1,
                                           out.items[i++]);
                    if (!r) return r;
                    any = any || *r;
                }
                out.kind = Node::Kind::kObject;
            }
            if (!any) {
                out.kind = Node::Kind::kConstant;
                out.constant = v;
                out.items.clear();
                out.keys.clear();
            }
            return any;
        }
    };
    Builder builder{c->roots, c->reads};
    Result<bool> built = builder.build(tree, "", 0, c->root);
    if (!built) return built.error();
    return TemplateTree(std::move(c));
}

Result<json::value> TemplateTree::render(const json::object& context) const {
    RenderBudget budget;
    return render(context, budget);
}

Result<json::value> TemplateTree::render(const json::object& context,
                                         RenderBudget& budget) const {
    struct Renderer {
        const json::object& ctx;
        RenderBudget& budget;
        Result<json::value> render(const Node& n) const {
            switch (n.kind) {
                case Node::Kind::kConstant:
                    return n.constant;
                case Node::Kind::kTemplate:
                    return n.tmpl.render(ctx, budget);
                case Node::Kind::kArray: {
                    json::array out;
                    out.reserve(n.items.size());
                    for (const auto& item : n.items) {
                        Result<json::value> v = render(item);
                        if (!v) return v;
                        out.push_back(std::move(*v));
                    }
                    return json::value(std::move(out));
                }
                case Node::Kind::kObject: {
                    json::object out;
                    out.reserve(n.items.size());
                    for (std::size_t i = 0; i < n.items.size(); ++i) {
                        Result<json::value> v = render(n.items[i]);
                        if (!v) return v;
                        out[n.keys[i]] = std::move(*v);
                    }
                    return json::value(std::move(out));
                }
            }
            return n.constant;
        }
    };
    return Renderer{context, budget}.render(compiled_->root);
}

const json::value& TemplateTree::source() const { return compiled_->source; }

const std::vector<std::string>& TemplateTree::root_names() const { return compiled_->roots; }

const std::vector<std::string>& TemplateTree::read_paths() const { return compiled_->reads; }

Result<json::value> render_tree(const json::value& tree, const json::object& context) {
    Result<TemplateTree> t = TemplateTree::compile(tree);
    if (!t) return t.error();
    return t->render(context);
}

// ---------------------------------------------------------------------------------------------
// Context

json::object make_context(const RenderInputs& in) {
    std::string logical = format_datetime(in.logical_date);
    std::string start = format_datetime(in.data_interval_start.value_or(in.logical_date));
    std::string end = format_datetime(in.data_interval_end.value_or(in.logical_date));
    std::string ds = format_date(in.logical_date);
    std::string ds_nodash = ds;
    ds_nodash.erase(std::remove(ds_nodash.begin(), ds_nodash.end(), '-'), ds_nodash.end());

    json::object dag_run;
    dag_run["dag_id"] = in.dag_id;
    dag_run["run_id"] = in.run_id;
    dag_run["conf"] = in.conf;
    dag_run["logical_date"] = logical;
    dag_run["data_interval_start"] = start;
    dag_run["data_interval_end"] = end;

    json::object tasks;
    for (const auto& field : in.task_outputs) {
        json::object task;
        task["output"] = field.value();
        tasks[field.key()] = std::move(task);
    }

    json::object ctx;
    ctx["params"] = in.params;
    ctx["dag_run"] = std::move(dag_run);
    ctx["run_id"] = in.run_id;
    ctx["ds"] = ds;
    ctx["ds_nodash"] = ds_nodash;
    ctx["ts"] = logical;
    ctx["logical_date"] = logical;
    ctx["data_interval_start"] = start;
    ctx["data_interval_end"] = end;
    ctx["tasks"] = std::move(tasks);
    return ctx;
}

const std::vector<std::string>& context_names() {
    static const std::vector<std::string> kNames = {"params",
                                                    "dag_run",
                                                    "run_id",
                                                    "ds",
                                                    "ds_nodash",
                                                    "ts",
                                                    "logical_date",
                                                    "data_interval_start",
                                                    "data_interval_end",
                                                    "tasks",
                                                    "var",
                                                    "conn",
                                                    "expand",
                                                    "map_index"};
    return kNames;
}

const std::vector<std::string>& connection_fields() {
    static const std::vector<std::string> kFields = {
        "conn_type", "host",  "port",         "login",      "password",
        "schema",    "extra", "extra_dejson", "description"};
    return kFields;
}

namespace {

void add_once(std::vector<std::string>& list, std::string_view item) {
    if (std::find(list.begin(), list.end(), item) == list.end()) list.emplace_back(item);
}

// The next member of a read path ("a.b[0]" -> "a", rest "b[0]"); an index is not a member.
std::optional<std::string_view> next_member(std::string_view& rest) {
    if (rest.empty() || rest.front() == '[') return std::nullopt;
    const std::size_t end = rest.find_first_of(".[");
    std::string_view member = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (!rest.empty() && rest.front() == '.') rest.remove_prefix(1);
    return member;
}

}  // namespace

Result<void> add_secret_reads(const std::vector<std::string>& read_paths, SecretReads& out) {
    for (const std::string& path : read_paths) {
        std::string_view rest = path;
        auto root = next_member(rest);
        if (!root || (*root != "var" && *root != "conn")) continue;
        if (*root == "var") {
            auto kind = next_member(rest);
            auto key = kind ? next_member(rest) : std::nullopt;
            if (!kind || (*kind != "value" && *kind != "json") || !key) {
                return Error{ErrorCode::kInvalidArgument,
                             fmt::format("'{}' does not name a variable: write var.value.<key> "
                                         "or var.json.<key> with the key written out",
                                         path)};
            }
            add_once(*kind == "value" ? out.variables : out.json_variables, *key);
            continue;
        }
        auto id = next_member(rest);
        auto field = id ? next_member(rest) : std::nullopt;
        const auto& fields = connection_fields();
        if (!id || !field || std::find(fields.begin(), fields.end(), *field) == fields.end()) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("'{}' does not name a connection's field: write "
                                     "conn.<conn_id>.<field>, the field one of conn_type, host, "
                                     "port, login, password, schema, extra, extra_dejson, "
                                     "description",
                                     path)};
        }
        add_once(out.connections, *id);
    }
    return {};
}

}  // namespace orquestra::dag
