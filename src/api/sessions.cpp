#include "api/sessions.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/strings.hpp"

namespace orquestra::api {

std::string random_token() {
    if (::sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
    std::array<unsigned char, 32> bytes{};
    ::randombytes_buf(bytes.data(), bytes.size());
    std::string text(sodium_base64_ENCODED_LEN(bytes.size(),
                                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     '\0');
    ::sodium_bin2base64(text.data(), text.size(), bytes.data(), bytes.size(),
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    text.resize(std::strlen(text.c_str()));
    return text;
}

SessionStore::SessionStore(const Clock& clock, SessionOptions options)
    : clock_(clock), options_(options) {
    if (::sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
    ::randombytes_buf(key_.data(), key_.size());
}

std::size_t SessionStore::DigestHash::operator()(const Digest& d) const noexcept {
    std::size_t h = 0;
    std::memcpy(&h, d.data(), sizeof(h));
    return h;
}

SessionStore::Digest SessionStore::digest(std::string_view token) const {
    Digest out{};
    ::crypto_generichash(out.data(), out.size(),
                         reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                         key_.data(), key_.size());
    return out;
}

bool SessionStore::expired(const Session& s, Millis now) const {
    return now - s.last_used > options_.idle_timeout || now - s.created_at > options_.max_age;
}

void SessionStore::drop_least_recent() {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
        return a.second.last_used < b.second.last_used;
    });
    if (oldest != sessions_.end()) sessions_.erase(oldest);
}

SessionStore::Created SessionStore::create(std::string username, Role role) {
    const Millis now = clock_.now_ms();
    Created out;
    out.token = random_token();
    out.session.username = std::move(username);
    out.session.role = role;
    out.session.csrf_token = random_token();
    out.session.created_at = now;
    out.session.last_used = now;
    out.session.checked_at = now;
    const Digest key = digest(out.token);
    std::lock_guard lock(mu_);
    if (sessions_.size() >= options_.max_sessions) {
        std::erase_if(sessions_, [&](const auto& e) { return expired(e.second, now); });
        while (!sessions_.empty() && sessions_.size() >= options_.max_sessions) drop_least_recent();
    }
    sessions_[key] = out.session;
    return out;
}

std::optional<Session> SessionStore::find(std::string_view token) {
    if (token.empty() || token.size() > 128) return std::nullopt;
    const Millis now = clock_.now_ms();
    const Digest key = digest(token);
    std::lock_guard lock(mu_);
    auto it = sessions_.find(key);
    if (it == sessions_.end()) return std::nullopt;
    if (expired(it->second, now)) {
        sessions_.erase(it);
        return std::nullopt;
    }
    it->second.last_used = now;
    return it->second;
}

void SessionStore::recheck(std::string_view token, std::optional<Role> role) {
    const Digest key = digest(token);
    std::lock_guard lock(mu_);
    auto it = sessions_.find(key);
    if (it == sessions_.end()) return;
    if (!role) {
        sessions_.erase(it);
        return;
    }
    it->second.role = *role;
    it->second.checked_at = clock_.now_ms();
}

void SessionStore::end(std::string_view token) {
    const Digest key = digest(token);
    std::lock_guard lock(mu_);
    sessions_.erase(key);
}

void SessionStore::end_user(std::string_view username) {
    std::lock_guard lock(mu_);
    std::erase_if(sessions_, [&](const auto& e) { return e.second.username == username; });
}

std::size_t SessionStore::size() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
}

std::optional<std::string_view> SessionStore::token_in(std::string_view cookie_header) {
    for (auto part : split(cookie_header, ';')) {
        part = trim(part);
        auto eq = part.find('=');
        if (eq == std::string_view::npos) continue;
        if (trim(part.substr(0, eq)) != kCookieName) continue;
        std::string_view value = trim(part.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
            value = value.substr(1, value.size() - 2);
        }
        return value;
    }
    return std::nullopt;
}

bool SessionStore::same_token(std::string_view expected, std::string_view given) {
    if (expected.empty() || given.size() != expected.size()) return false;
    return ::sodium_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

}  // namespace orquestra::api
