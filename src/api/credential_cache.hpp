#pragma once
// CredentialCache: remembers Basic-auth credentials that were verified recently, so that a
// client sending the same username and password on every request pays for the argon2id check
// once a minute instead of every time. It keeps, per username, a keyed BLAKE2b digest of
// "username:password" (the key is random per process, so the digests are useless outside it),
// the role and an expiry. A deleted user or a changed role is noticed when the entry expires.
//
// Thread-safe: one mutex, held for a map lookup or insert. Never blocks otherwise.

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/users.hpp"
#include "core/clock.hpp"

namespace orquestra::api {

class CredentialCache {
  public:
    static constexpr std::size_t kDigestBytes = 32;

    CredentialCache(const Clock& clock, Millis ttl = 60'000, std::size_t max_entries = 10'000);

    // The role remembered for exactly these credentials, if they were verified less than
    // `ttl` ago.
    std::optional<Role> lookup(std::string_view username, std::string_view password);
    // Records credentials that were just verified. When the cache is full it is emptied first
    // (simple and bounded; entries are cheap to rebuild).
    void remember(std::string_view username, std::string_view password, Role role);
    void forget(std::string_view username);
    std::size_t size() const;

  private:
    using Digest = std::array<std::uint8_t, kDigestBytes>;
    struct Entry {
        Digest digest{};
        Role role = Role::kViewer;
        Millis expires_at = 0;
    };
    Digest digest(std::string_view username, std::string_view password) const;

    const Clock& clock_;
    const Millis ttl_;
    const std::size_t max_entries_;
    std::array<std::uint8_t, 32> key_{};
    mutable std::mutex mu_;
    std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
};

}  // namespace orquestra::api
