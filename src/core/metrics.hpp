#pragma once
// Lock-free counters and latency histograms rendered in Prometheus text format. Updating a
// metric is a relaxed atomic add; rendering reads them without stopping writers.

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// A histogram with its own upper bounds (seconds, counts...), for values outside
// LatencyHistogram's range. Observing is relaxed atomic adds.
class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    // Appends `name_bucket{labels,le=..}`, `name_sum`, `name_count` lines.
    void render(std::string& out, std::string_view name, std::string_view labels) const;
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
    std::atomic<std::uint64_t> count_{0};
    std::atomic<double> sum_{0};
};

// Bounds for durations from a millisecond to ten minutes (tasks, calls).
std::vector<double> duration_bounds();

// A label value in Prometheus text: backslash, double quote and line feed escaped.
std::string escape_label_value(std::string_view value);
// `a="x",b="y"` from name/value pairs; values escaped.
std::string label_pairs(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);

// Counters or histograms of one metric by label set, created on first use. A series is looked
// up under a shared lock and updated with atomics; at most `max_series` label sets are kept
// (values come from DAG files and the registry), later ones are added up in one series
// labelled overflow="true". Any thread.
class CounterFamily {
public:
    explicit CounterFamily(std::size_t max_series = 2000) : max_series_(max_series) {}
    // `labels` as label_pairs() makes them.
    void add(const std::string& labels, std::uint64_t n = 1);
    std::uint64_t value(const std::string& labels) const;
    // Appends one sample line per label set (no header).
    void render(std::string& out, std::string_view name) const;

private:
    std::size_t max_series_;
    mutable std::shared_mutex mu_;
    std::map<std::string, std::unique_ptr<std::atomic<std::uint64_t>>, std::less<>> series_;
};

class HistogramFamily {
public:
    explicit HistogramFamily(std::vector<double> bounds, std::size_t max_series = 2000)
        : bounds_(std::move(bounds)), max_series_(max_series) {}
    void observe(const std::string& labels, double value);
    void render(std::string& out, std::string_view name) const;

private:
    std::vector<double> bounds_;
    std::size_t max_series_;
    mutable std::shared_mutex mu_;
    std::map<std::string, std::unique_ptr<Histogram>, std::less<>> series_;
};

}  // namespace orquestra
