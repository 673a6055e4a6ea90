#pragma once
// LoginThrottle: slows down password guessing. It counts failed logins per username and per
// source address; once a key has had `free_failures` failures in a row, each further failure
// makes it wait (first_delay, doubled at every failure, at most max_delay) before the next
// attempt is even checked. The API answers an attempt that must wait with 429 and Retry-After,
// without running argon2id, so guessing costs the server almost nothing and gains the guesser
// at most one try per delay. A successful login clears the counters of its username and
// address. Usernames get fewer free failures than addresses (one address may be many users
// behind a NAT).
//
// Memory is bounded: a key forgotten `forget_after` after its last failure, and at most
// `max_entries` keys per table (expired keys go first, then the longest quiet). Usernames are
// kept to their first kMaxKeyBytes bytes (no user has a longer name).
//
// PasswordCheckGate: admission to the argon2id checks (each takes tens of milliseconds and
// 64 MiB): at most `capacity` checks running or queued at once, and at most `per_source` of
// them from one source address; the API answers 503 with Retry-After to the ones beyond, so a
// flood of guesses can neither exhaust memory nor queue up in front of a real login, and one
// source cannot take every slot.
//
// Both are thread-safe (one mutex each, held for a map lookup) and never block.

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"

namespace orquestra::api {

struct LoginThrottleOptions {
    int free_failures_per_user = 5;
    int free_failures_per_address = 20;
    Millis first_delay = 1'000;
    Millis max_delay = 30'000;
    Millis forget_after = 15 * 60'000;  // a key quiet this long starts again from zero
    std::size_t max_entries = 10'000;   // per table (usernames, addresses)
};

class LoginThrottle {
  public:
    static constexpr std::size_t kMaxKeyBytes = 128;

    LoginThrottle(const Clock& clock, LoginThrottleOptions options = {});

    // Milliseconds the attempt must wait (the longer of the username's and the address's
    // delays); 0 when it may be checked now. An empty address is not counted.
    Millis delay_for(std::string_view username, std::string_view address);
    void failed(std::string_view username, std::string_view address);
    void succeeded(std::string_view username, std::string_view address);

    // The source a failed login is counted against, from a peer address: an IPv4 address as
    // is, an IPv6 address as its /64 network ("2001:db8:1:2::/64": one host usually holds a
    // whole /64, and could otherwise use a new address for every guess).
    static std::string address_key(std::string_view address);

    // Keys held, both tables together (for tests and metrics).
    std::size_t size() const;

  private:
    struct Entry {
        int failures = 0;
        Millis blocked_until = 0;
        Millis last_failure = 0;
    };
    using Table = std::unordered_map<std::string, Entry>;

    Millis remaining(Table& table, std::string_view key, Millis now);
    void record_failure(Table& table, std::string_view key, int free_failures, Millis now);
    void make_room(Table& table, Millis now);

    const Clock& clock_;
    const LoginThrottleOptions options_;
    mutable std::mutex mu_;
    Table users_;      // guarded by mu_
    Table addresses_;  // guarded by mu_
};

class PasswordCheckGate {
  public:
    PasswordCheckGate(int capacity, int per_source)
        : capacity_(capacity), per_source_(per_source) {}

    // True when a check for `source` may start (it must call leave(source) when done); false
    // when `capacity` checks are already running or queued, or `per_source` of them for this
    // source (an empty source counts only against the capacity).
    bool try_enter(const std::string& source);
    void leave(const std::string& source);
    int in_use() const;

  private:
    const int capacity_;
    const int per_source_;
    mutable std::mutex mu_;
    int in_use_ = 0;                                // guarded by mu_
    std::unordered_map<std::string, int> sources_;  // guarded by mu_; at most capacity_ keys
};

}  // namespace orquestra::api
