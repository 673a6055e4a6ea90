#include "api/credential_cache.hpp"

#include <sodium.h>

namespace orquestra::api {

CredentialCache::CredentialCache(const Clock& clock, Millis ttl, std::size_t max_entries)
    : clock_(clock), ttl_(ttl), max_entries_(max_entries) {
    if (::sodium_init() < 0) {
        // Without a random key the digests still work; they are only less private.
        key_.fill(0x5a);
        return;
    }
    ::randombytes_buf(key_.data(), key_.size());
}

CredentialCache::Digest CredentialCache::digest(std::string_view username,
                                                std::string_view password) const {
    Digest out{};
    crypto_generichash_state state;
    ::crypto_generichash_init(&state, key_.data(), key_.size(), out.size());
    // The username's length first, so "a:b" + "c" and "a" + "b:c" never collide.
    const std::uint64_t n = username.size();
    ::crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&n), sizeof(n));
    ::crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(username.data()),
                                username.size());
    ::crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(":"), 1);
    ::crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(password.data()),
                                password.size());
    ::crypto_generichash_final(&state, out.data(), out.size());
    return out;
}

std::optional<Role> CredentialCache::lookup(std::string_view username, std::string_view password) {
    const Digest d = digest(username, password);
    const Millis now = clock_.now_ms();
    std::lock_guard lock(mu_);
    auto it = entries_.find(std::string(username));
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires_at <= now) {
        entries_.erase(it);
        return std::nullopt;
    }
    if (::sodium_memcmp(it->second.digest.data(), d.data(), d.size()) != 0) return std::nullopt;
    return it->second.role;
}

void CredentialCache::remember(std::string_view username, std::string_view password, Role role) {
    Entry entry{digest(username, password), role, clock_.now_ms() + ttl_};
    std::lock_guard lock(mu_);
    if (entries_.size() >= max_entries_ && !entries_.contains(std::string(username))) {
        entries_.clear();
    }
    entries_[std::string(username)] = entry;
}

void CredentialCache::forget(std::string_view username) {
    std::lock_guard lock(mu_);
    entries_.erase(std::string(username));
}

std::size_t CredentialCache::size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

}  // namespace orquestra::api
