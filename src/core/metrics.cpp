#include "core/metrics.hpp"

#include <fmt/format.h>

namespace orquestra {

void LatencyHistogram::observe_ns(std::uint64_t ns) {
    double seconds = static_cast<double>(ns) / 1e9;
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
        if (seconds <= kBounds[i]) {
            buckets_[i].fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
}

void LatencyHistogram::render(std::string& out, std::string_view name,
                              std::string_view labels) const {
    std::string sep = labels.empty() ? "" : ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kBounds.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, kBounds[i],
                           cumulative);
    }
    std::uint64_t total = count_.load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, total);
    std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
    out += fmt::format("{}_sum{} {}\n", name, braces,
                       static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
    out += fmt::format("{}_count{} {}\n", name, braces, total);
}

void metric_header(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void metric_sample(std::string& out, std::string_view name, std::string_view labels,
                   double value) {
    if (labels.empty()) {
        out += fmt::format("{} {}\n", name, value);
    } else {
        out += fmt::format("{}{{{}}} {}\n", name, labels, value);
    }
}

}  // namespace orquestra
