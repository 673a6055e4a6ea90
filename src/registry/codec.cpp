// Helpers shared by the JSON and XML codecs (codec_detail.hpp). The codecs themselves live in
// codec_json.cpp and codec_xml.cpp.

#include "registry/codec_detail.hpp"

#include "core/strings.hpp"

#include <charconv>
#include <limits>
#include <utility>

namespace orquestra::registry::codec_detail {

namespace {

using namespace std::string_view_literals;

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence starting at s[i] (whose first byte is >= 0x80), or
// 0 if it is malformed (bad lead byte, truncated, overlong, surrogate, beyond U+10FFFF). With
// `xml_chars`, U+FFFE and U+FFFF, which XML 1.0 forbids, also count as malformed.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i, bool xml_chars) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = byte(0);
    const std::size_t left = s.size() - i;
    if (c >= 0xC2 && c <= 0xDF) {
        return (left >= 2 && is_continuation(byte(1))) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || !is_continuation(byte(1)) || !is_continuation(byte(2))) return 0;
        if (c == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
        if (c == 0xED && byte(1) > 0x9F) return 0;  // UTF-16 surrogate
        if (xml_chars && c == 0xEF && byte(1) == 0xBF && byte(2) >= 0xBE) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || !is_continuation(byte(1)) || !is_continuation(byte(2)) ||
            !is_continuation(byte(3))) {
            return 0;
        }
        if (c == 0xF0 && byte(1) < 0x90) return 0;  // overlong
        if (c == 0xF4 && byte(1) > 0x8F) return 0;  // beyond U+10FFFF
        return 4;
    }
    return 0;
}

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

template <class T>
Result<void> integer_in_range(std::string_view text, std::string_view field, T& out) {
    std::string_view t = trim(text);
    if (t.empty()) return {};
    auto value = parse_int(t);
    if (!value) return invalid_value(field, "an integer", text);
    if (*value < static_cast<long long>(std::numeric_limits<T>::min()) ||
        *value > static_cast<long long>(std::numeric_limits<T>::max())) {
        return invalid_value(field, "an integer in range", text);
    }
    out = static_cast<T>(*value);
    return {};
}

}  // namespace

InstanceInfo blank_instance() {
    InstanceInfo info;
    info.data_center_class.clear();
    info.data_center_name.clear();
    return info;
}

bool is_amazon(const InstanceInfo& info) {
    return info.data_center_name == kAmazonName || info.data_center_class == kAmazonDataCenterClass;
}

bool sid_is_written(std::string_view sid) {
    return !sid.empty() && sid != "na" && sid != "unknown";
}

void append_number(std::string& out, long long value) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, res.ptr);
}

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t start = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c >= 0x20 && c != '"' && c != '\\') {
                ++i;
                continue;
            }
            out.append(s.data() + start, i - start);
            if (c == '"') {
                out.append("\\\""sv);
            } else if (c == '\\') {
                out.append("\\\\"sv);
            } else {
                const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
                out.append(esc, sizeof esc);
            }
            start = ++i;
            continue;
        }
        const std::size_t len = utf8_sequence_length(s, i, false);
        if (len != 0) {
            i += len;
            continue;
        }
        out.append(s.data() + start, i - start);
        out.append(kReplacementChar);
        start = ++i;
    }
    out.append(s.data() + start, s.size() - start);
    out.push_back('"');
}

void append_xml_text(std::string& out, std::string_view s) {
    std::size_t start = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            std::string_view replacement;
            switch (c) {
                case '&':
                    replacement = "&amp;"sv;
                    break;
                case '<':
                    replacement = "&lt;"sv;
                    break;
                case '>':
                    replacement = "&gt;"sv;
                    break;
                case '"':
                    replacement = "&quot;"sv;
                    break;
                case '\'':
                    replacement = "&apos;"sv;
                    break;
                case '\r':
                    replacement = "&#13;"sv;
                    break;  // a raw CR would be normalised away
                case '\t':
                case '\n':
                    break;
                default:
                    // XML 1.0 cannot carry other control characters, even as references.
                    if (c < 0x20) replacement = kReplacementChar;
                    break;
            }
            if (replacement.empty()) {
                ++i;
                continue;
            }
            out.append(s.data() + start, i - start);
            out.append(replacement);
            start = ++i;
            continue;
        }
        const std::size_t len = utf8_sequence_length(s, i, true);
        if (len != 0) {
            i += len;
            continue;
        }
        out.append(s.data() + start, i - start);
        out.append(kReplacementChar);
        start = ++i;
    }
    out.append(s.data() + start, s.size() - start);
}

bool xml_key_writable(std::string_view key) {
    if (key.empty()) return false;
    // '$' and '_' are fine: XStream coding turns them into "_-" and "__".
    const char first = key.front();
    if (!is_ascii_letter(first) && first != '_' && first != '$') return false;
    for (char c : key.substr(1)) {
        if (!is_ascii_letter(c) && !is_ascii_digit(c) && c != '_' && c != '$' && c != '-' &&
            c != '.') {
            return false;
        }
    }
    return true;
}

void append_xml_key(std::string& out, std::string_view key) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < key.size(); ++i) {
        if (key[i] != '_' && key[i] != '$') continue;
        out.append(key.data() + start, i - start);
        out.append(key[i] == '_' ? "__"sv : "_-"sv);
        start = i + 1;
    }
    out.append(key.data() + start, key.size() - start);
}

std::string decode_xml_key(std::string_view name) {
    if (name.find('_') == std::string_view::npos) return std::string(name);
    std::string out;
    out.reserve(name.size());
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '_' && i + 1 < name.size() && (name[i + 1] == '_' || name[i + 1] == '-')) {
            out.push_back(name[i + 1] == '_' ? '_' : '$');
            ++i;
        } else {
            out.push_back(name[i]);
        }
    }
    return out;
}

Result<void> integer_from_text(std::string_view text, std::string_view field, int& out) {
    return integer_in_range(text, field, out);
}

Result<void> integer_from_text(std::string_view text, std::string_view field, Millis& out) {
    return integer_in_range(text, field, out);
}

Result<void> port_in_range(long long value, std::string_view field, int& out) {
    if (value < 0 || value > 65535) {
        char buf[24];
        auto res = std::to_chars(buf, buf + sizeof buf, value);
        return invalid_value(field, "a port number (0-65535)",
                             std::string_view(buf, res.ptr - buf));
    }
    out = static_cast<int>(value);
    return {};
}

Result<void> port_from_text(std::string_view text, std::string_view field, int& out) {
    std::string_view t = trim(text);
    if (t.empty()) return {};
    auto value = parse_int(t);
    if (!value) return invalid_value(field, "a port number", text);
    return port_in_range(*value, field, out);
}

Result<void> bool_from_text(std::string_view text, std::string_view field, bool& out) {
    std::string_view t = trim(text);
    if (t.empty()) return {};
    if (iequals(t, "true")) {
        out = true;
    } else if (iequals(t, "false")) {
        out = false;
    } else {
        return invalid_value(field, "true or false", text);
    }
    return {};
}

void action_from_text(std::string_view text, ActionType& out) {
    std::string_view t = trim(text);
    for (ActionType a : {ActionType::kAdded, ActionType::kModified, ActionType::kDeleted}) {
        if (iequals(t, to_string(a))) {
            out = a;
            return;
        }
    }
}

Error invalid(std::string_view field, std::string_view reason) {
    std::string message;
    message.reserve(field.size() + reason.size() + 2);
    message.append(field);
    message.append(": "sv);
    message.append(reason);
    return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

Error invalid_value(std::string_view field, std::string_view expected, std::string_view got) {
    constexpr std::size_t kMaxQuoted = 40;
    std::string message;
    message.append(field);
    message.append(": expected "sv);
    message.append(expected);
    message.append(", got \""sv);
    for (std::size_t i = 0; i < got.size() && i < kMaxQuoted; ++i) {
        const char c = got[i];
        message.push_back((c >= 0x20 && c < 0x7F) ? c : '?');
    }
    if (got.size() > kMaxQuoted) message.append("..."sv);
    message.push_back('"');
    return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

Error prefixed(Error e, std::string_view prefix) {
    e.message.insert(0, prefix);
    return e;
}

}  // namespace orquestra::registry::codec_detail
