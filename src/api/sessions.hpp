#pragma once
// SessionStore: the console's logins. A session is created by a successful password check and
// named by a random 256-bit token that travels only in an HttpOnly cookie; it carries its own
// random CSRF token, which every state-changing request made with the cookie must repeat in a
// header (a page of another site can make the browser send the cookie, never read the token).
//
// The table is keyed by a keyed BLAKE2b digest of the token (the key is random per process), so
// it never holds a token that could be replayed. Sessions end on logout, after `idle_timeout`
// without a request, after `max_age` in any case, and when their user is deleted (the API
// re-reads the user every `recheck_interval`). At most `max_sessions` live at once: beyond
// that the least recently used ends. Sessions live in this process's memory: a restart logs
// everyone out.
//
// Thread-safe: one mutex, held for a map operation. Never blocks otherwise.

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

struct SessionOptions {
    Millis idle_timeout = 8LL * 3600 * 1000;
    Millis max_age = 7LL * 24 * 3600 * 1000;
    Millis recheck_interval = 60'000;  // how often the user's record is read again
    std::size_t max_sessions = 10'000;
};

struct Session {
    std::string username;
    Role role = Role::kViewer;
    std::string csrf_token;
    Millis created_at = 0;
    Millis last_used = 0;
    Millis checked_at = 0;  // when the user's record was last read
};

class SessionStore {
  public:
    static constexpr std::string_view kCookieName = "orquestra_session";

    explicit SessionStore(const Clock& clock, SessionOptions options = {});

    struct Created {
        std::string token;  // the cookie's value
        Session session;
    };
    Created create(std::string username, Role role);
    // The live session a token names (its last use set to now); nullopt when unknown or over.
    std::optional<Session> find(std::string_view token);
    // After the user's record was read again: its role now, or nullopt when it is gone (the
    // session then ends).
    void recheck(std::string_view token, std::optional<Role> role);
    void end(std::string_view token);
    void end_user(std::string_view username);
    std::size_t size() const;

    // The session token in a Cookie header value, if any ("a=1; orquestra_session=T; b=2").
    static std::optional<std::string_view> token_in(std::string_view cookie_header);
    // Constant time in the length of `expected`.
    static bool same_token(std::string_view expected, std::string_view given);

  private:
    using Digest = std::array<std::uint8_t, 32>;
    struct DigestHash {
        std::size_t operator()(const Digest& d) const noexcept;
    };
    Digest digest(std::string_view token) const;
    bool expired(const Session& s, Millis now) const;
    void drop_least_recent();

    const Clock& clock_;
    const SessionOptions options_;
    std::array<std::uint8_t, 32> key_{};
    mutable std::mutex mu_;
    std::unordered_map<Digest, Session, DigestHash> sessions_;  // guarded by mu_
};

// A random token of 32 bytes in URL-safe base64 without padding (43 characters).
std::string random_token();

}  // namespace orquestra::api
