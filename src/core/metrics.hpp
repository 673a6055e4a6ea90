#pragma once
// Lock-free counters and latency histograms rendered in Prometheus text format. Updating a
// metric is a relaxed atomic add; rendering reads them without stopping writers.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace orquestra {

class LatencyHistogram {
public:
    // Upper bounds in seconds, Prometheus style (le="...").
    static constexpr std::array<double, 10> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                       0.005,  0.01,    0.05,   0.25,  1.0};
    void observe_ns(std::uint64_t ns);
    // Appends `name_bucket{labels,le=..}`, `name_sum`, `name_count` lines.
    void render(std::string& out, std::string_view name, std::string_view labels) const;
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

private:
    std::array<std::atomic<std::uint64_t>, kBounds.size()> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_ns_{0};
};

// Appends "# HELP" and "# TYPE" lines.
void metric_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help);
// Appends one sample line: name{labels} value.
void metric_sample(std::string& out, std::string_view name, std::string_view labels, double value);

}  // namespace orquestra
