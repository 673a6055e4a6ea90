#include "core/masker.hpp"

#include "core/strings.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace orquestra {

namespace {

// The text of `s` inside a JSON string, as a serializer writes it.
std::string json_escaped(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (u < 0x20) {
                    out += fmt::format("\\u{:04x}", u);
                } else {
                    out += c;
                }
        }
    }
    return out;
}

}  // namespace

void Masker::add_form(std::string form) {
    if (form.size() < kMinMaskedLength) return;
    if (std::find(secrets_.begin(), secrets_.end(), form) != secrets_.end()) return;
    auto at = std::find_if(secrets_.begin(), secrets_.end(),
                           [&](const std::string& s) { return s.size() < form.size(); });
    secrets_.insert(at, std::move(form));
}

void Masker::add(std::string_view secret) {
    if (secret.size() < kMinMaskedLength) return;
    add_form(std::string(secret));
    add_form(json_escaped(secret));
    add_form(percent_encode(secret));
}

void Masker::add_all(const Masker& other) {
    for (const auto& s : other.secrets_) add_form(s);
}

void Masker::apply_in_place(std::string& text) const {
    for (const auto& secret : secrets_) {
        std::size_t at = 0;
        while ((at = text.find(secret, at)) != std::string::npos) {
            text.replace(at, secret.size(), kMaskText);
            at += kMaskText.size();
        }
    }
}

std::string Masker::apply(std::string_view text) const {
    std::string out(text);
    apply_in_place(out);
    return out;
}

}  // namespace orquestra
