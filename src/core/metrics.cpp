#include "core/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

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

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size())) {}

void Histogram::observe(double value) {
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        if (value <= bounds_[i]) {
            buckets_[i].fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
    std::string sep = labels.empty() ? "" : ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds_[i],
                           cumulative);
    }
    // Read after the buckets: +Inf is never below the last bucket while writers go on.
    std::uint64_t total = std::max(cumulative, count_.load(std::memory_order_relaxed));
    out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, total);
    std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
    out += fmt::format("{}_sum{} {}\n", name, braces, sum_.load(std::memory_order_relaxed));
    out += fmt::format("{}_count{} {}\n", name, braces, total);
}

std::vector<double> duration_bounds() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string label_pairs(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
    std::string out;
    for (const auto& [name, value] : pairs) {
        if (!out.empty()) out += ',';
        out += name;
        out += "=\"";
        out += escape_label_value(value);
        out += '"';
    }
    return out;
}

namespace {
constexpr std::string_view kOverflow = "overflow=\"true\"";
}

void CounterFamily::add(const std::string& labels, std::uint64_t n) {
    {
        std::shared_lock lock(mu_);
        auto it = series_.find(labels);
        if (it != series_.end()) {
            it->second->fetch_add(n, std::memory_order_relaxed);
            return;
        }
    }
    std::unique_lock lock(mu_);
    auto it = series_.find(labels);
    if (it == series_.end()) {
        const bool full = series_.size() >= max_series_;
        std::string key = full ? std::string(kOverflow) : labels;
        it = series_.find(key);
        if (it == series_.end()) {
            it = series_.emplace(std::move(key), std::make_unique<std::atomic<std::uint64_t>>(0))
                     .first;
        }
    }
    it->second->fetch_add(n, std::memory_order_relaxed);
}

std::uint64_t CounterFamily::value(const std::string& labels) const {
    std::shared_lock lock(mu_);
    auto it = series_.find(labels);
    return it == series_.end() ? 0 : it->second->load(std::memory_order_relaxed);
}

void CounterFamily::render(std::string& out, std::string_view name) const {
    std::shared_lock lock(mu_);
    for (const auto& [labels, v] : series_) {
        metric_sample(out, name, labels, static_cast<double>(v->load(std::memory_order_relaxed)));
    }
}

void HistogramFamily::observe(const std::string& labels, double value) {
    {
        std::shared_lock lock(mu_);
        auto it = series_.find(labels);
        if (it != series_.end()) {
            it->second->observe(value);
            return;
        }
    }
    std::unique_lock lock(mu_);
    auto it = series_.find(labels);
    if (it == series_.end()) {
        const bool full = series_.size() >= max_series_;
        std::string key = full ? std::string(kOverflow) : labels;
        it = series_.find(key);
        if (it == series_.end()) {
            it = series_.emplace(std::move(key), std::make_unique<Histogram>(bounds_)).first;
        }
    }
    it->second->observe(value);
}

void HistogramFamily::render(std::string& out, std::string_view name) const {
    std::shared_lock lock(mu_);
    for (const auto& [labels, h] : series_) h->render(out, name, labels);
}

}  // namespace orquestra
