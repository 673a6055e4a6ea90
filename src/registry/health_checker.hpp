#pragma once
// HealthChecker: active health checks. The registry probes the healthCheckUrl of every instance
// that registered one, with a GET and a timeout, and reports each outcome to
// InstanceRegistry::record_health(), which turns an instance DOWN after `failure_threshold`
// failures in a row and back UP after `success_threshold` successes (see there).
//
// Cost: each round (one per `interval`) spreads its probes evenly over the interval, so 10,000
// instances probed every 10 s make a probe every millisecond, not a burst; at most
// `max_in_flight` probes are open at once (a round waits for a free slot rather than open
// more). A probe is a coroutine on the given io_context: it never blocks the loop, its body is
// read up to `max_body_bytes` and dropped, and it ends at `timeout` whatever the peer does.
//
// A healthCheckUrl is hostile input: only http:// URLs to the instance's own address (its
// ipAddr, or its hostName, connecting to the ipAddr: no name lookup) on port 80 or 1024 and
// above, without credentials, within `max_url_bytes`, are probed, and only with GET. Other
// instances are left alone (counted in skipped()): https is not probed (no TLS client).
//
// In a cluster (set_replication()): only the instances whose client talks to this node are
// probed (`direct_only`, see InstanceRegistry::health_targets), so each instance is probed
// once, by the node it registered and renews with, not by every node; and each verdict (DOWN
// or back UP) is handed to the ReplicationSink as a registration of the instance, which the
// peers apply as they apply any replicated registration (Java Eureka peers too), holding a
// DOWN until their own probes or the verdict UP release it.
//
// Threads: start(), stop() and the counters from any thread; the work runs on `io`, which must
// be run by one thread. stop() drops the results of probes still in flight.

#include "core/error.hpp"
#include "http/client.hpp"
#include "registry/instance_registry.hpp"
#include "registry/replication_batch.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace orquestra::registry {

struct HealthCheckOptions {
    std::chrono::milliseconds interval{10'000};
    std::chrono::milliseconds timeout{2'000};
    int failure_threshold = 3;
    int success_threshold = 2;
    std::size_t max_in_flight = 64;
    std::size_t max_body_bytes = 16u << 10;
    std::size_t max_url_bytes = 2048;
    // Probe only the instances whose own client registered or renewed here (in a cluster).
    bool direct_only = false;
};

// Where and what to send for one target, or why it is not probed (kInvalidArgument).
struct ProbePlan {
    http::Endpoint endpoint;
    std::string target;
};
Result<ProbePlan> plan_probe(const HealthTarget& target, std::size_t max_url_bytes = 2048);

// When, from the start of a round, the `index`-th of `count` probes starts: evenly spread.
std::chrono::milliseconds probe_offset(std::size_t index, std::size_t count,
                                       std::chrono::milliseconds interval);

class HealthChecker {
public:
    HealthChecker(boost::asio::io_context& io, InstanceRegistry& registry,
                  HealthCheckOptions options);
    ~HealthChecker();
    HealthChecker(const HealthChecker&) = delete;
    HealthChecker& operator=(const HealthChecker&) = delete;

    // Where verdicts go to reach the peers (null: nowhere). Call before start(); the sink
    // must outlive the checker's probes (stop() the checker first).
    void set_replication(ReplicationSink* sink);

    // Rounds, one per interval, until stop().
    void start();
    void stop();

    // One round with every target probed as soon as a slot is free (not spread); completes
    // when all its probes have ended. Run it on the checker's io_context.
    boost::asio::awaitable<void> probe_all();

    std::size_t in_flight() const;
    std::size_t max_in_flight_seen() const;
    std::uint64_t skipped() const;
    std::uint64_t rounds() const;
    const HealthCheckOptions& options() const;

    struct State;  // shared with the probes, which may outlive the checker

private:
    std::shared_ptr<State> state_;
};

}  // namespace orquestra::registry
