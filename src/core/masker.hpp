#pragma once
// Masker: replaces every occurrence of a set of secret values in text with "***", for what a
// task's try shows (its log lines, its error, its rendered request). Values shorter than
// kMinMaskedLength are not masked: replacing every "a" or "12" would garble the text and
// protect nothing. Each secret is also masked in the forms it takes where it is pasted: inside
// a JSON string (escaped) and inside a URL (percent-encoded).
//
// Not thread-safe while secrets are added; apply() may run on several threads once they are.

#include <string>
#include <string_view>
#include <vector>

namespace orquestra {

inline constexpr std::size_t kMinMaskedLength = 4;
inline constexpr std::string_view kMaskText = "***";

class Masker {
public:
    // Adds `secret` (and its escaped forms); short or repeated values are ignored.
    void add(std::string_view secret);
    void add_all(const Masker& other);
    bool empty() const { return secrets_.empty(); }
    // `text` with every secret replaced by "***" (longest secrets first).
    std::string apply(std::string_view text) const;
    void apply_in_place(std::string& text) const;
    const std::vector<std::string>& secrets() const { return secrets_; }

private:
    void add_form(std::string form);
    std::vector<std::string> secrets_;  // longest first
};

}  // namespace orquestra
