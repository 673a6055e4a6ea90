#pragma once
// Time comes from an injected Clock so that leases, schedules and retries are tested with a
// FakeClock instead of sleeps. All times are milliseconds since the Unix epoch.

#include <atomic>
#include <cstdint>

namespace orquestra {

using Millis = std::int64_t;

class Clock {
public:
    virtual ~Clock() = default;
    // Wall-clock time, milliseconds since the epoch. Thread-safe.
    virtual Millis now_ms() const = 0;
};

class SystemClock final : public Clock {
public:
    Millis now_ms() const override;
    static SystemClock& instance();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
public:
    explicit FakeClock(Millis start = 1'700'000'000'000) : now_(start) {}
    Millis now_ms() const override { return now_.load(std::memory_order_relaxed); }
    void advance(Millis by) { now_.fetch_add(by, std::memory_order_relaxed); }
    void set(Millis to) { now_.store(to, std::memory_order_relaxed); }

private:
    std::atomic<Millis> now_;
};

}  // namespace orquestra
