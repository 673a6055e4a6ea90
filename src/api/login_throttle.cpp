#include "api/login_throttle.hpp"

#include <algorithm>
#include <boost/asio/ip/address_v6.hpp>

namespace orquestra::api {

namespace {

std::string_view key_of(std::string_view text) {
    return text.substr(0, LoginThrottle::kMaxKeyBytes);
}

}  // namespace

LoginThrottle::LoginThrottle(const Clock& clock, LoginThrottleOptions options)
    : clock_(clock), options_(options) {}

Millis LoginThrottle::remaining(Table& table, std::string_view key, Millis now) {
    auto it = table.find(std::string(key_of(key)));
    if (it == table.end()) return 0;
    if (it->second.last_failure + options_.forget_after <= now) {
        table.erase(it);
        return 0;
    }
    return std::max<Millis>(0, it->second.blocked_until - now);
}

Millis LoginThrottle::delay_for(std::string_view username, std::string_view address) {
    const Millis now = clock_.now_ms();
    std::lock_guard lock(mu_);
    Millis wait = remaining(users_, username, now);
    if (!address.empty()) wait = std::max(wait, remaining(addresses_, address, now));
    return wait;
}

void LoginThrottle::make_room(Table& table, Millis now) {
    if (table.size() < options_.max_entries) return;
    std::erase_if(table, [&](const auto& kv) {
        return kv.second.last_failure + options_.forget_after <= now;
    });
    // Still full: drop the key that has been quiet longest (a scan, only while full).
    while (!table.empty() && table.size() >= options_.max_entries) {
        auto oldest =
            std::min_element(table.begin(), table.end(), [](const auto& a, const auto& b) {
                return a.second.last_failure < b.second.last_failure;
            });
        table.erase(oldest);
    }
}

void LoginThrottle::record_failure(Table& table, std::string_view key, int free_failures,
                                   Millis now) {
    std::string k(key_of(key));
    auto it = table.find(k);
    if (it != table.end() && it->second.last_failure + options_.forget_after <= now) {
        it->second = Entry{};
    }
    if (it == table.end()) {
        make_room(table, now);
        it = table.emplace(std::move(k), Entry{}).first;
    }
    Entry& e = it->second;
    e.failures = e.failures < 1'000'000 ? e.failures + 1 : e.failures;
    e.last_failure = now;
    const int over = e.failures - free_failures;
    if (over >= 0) {
        Millis delay = options_.first_delay;
        for (int i = 0; i < over && delay < options_.max_delay; ++i) delay *= 2;
        e.blocked_until = now + std::min(delay, options_.max_delay);
    }
}

void LoginThrottle::failed(std::string_view username, std::string_view address) {
    const Millis now = clock_.now_ms();
    std::lock_guard lock(mu_);
    record_failure(users_, username, options_.free_failures_per_user, now);
    if (!address.empty()) {
        record_failure(addresses_, address, options_.free_failures_per_address, now);
    }
}

void LoginThrottle::succeeded(std::string_view username, std::string_view address) {
    std::lock_guard lock(mu_);
    users_.erase(std::string(key_of(username)));
    if (!address.empty()) addresses_.erase(std::string(key_of(address)));
}

std::string LoginThrottle::address_key(std::string_view address) {
    boost::system::error_code ec;
    const auto v6 = boost::asio::ip::make_address_v6(address, ec);
    if (ec) return std::string(address);
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

std::size_t LoginThrottle::size() const {
    std::lock_guard lock(mu_);
    return users_.size() + addresses_.size();
}

bool PasswordCheckGate::try_enter(const std::string& source) {
    std::lock_guard lock(mu_);
    if (in_use_ >= capacity_) return false;
    if (!source.empty()) {
        int& mine = sources_[source];
        if (mine >= per_source_) {
            if (mine == 0) sources_.erase(source);
            return false;
        }
        ++mine;
    }
    ++in_use_;
    return true;
}

void PasswordCheckGate::leave(const std::string& source) {
    std::lock_guard lock(mu_);
    --in_use_;
    if (source.empty()) return;
    auto it = sources_.find(source);
    if (it != sources_.end() && --it->second <= 0) sources_.erase(it);
}

int PasswordCheckGate::in_use() const {
    std::lock_guard lock(mu_);
    return in_use_;
}

}  // namespace orquestra::api
