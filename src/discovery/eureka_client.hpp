#pragma once
// EurekaClient: the discovery client library. It owns this process's registration in a Eureka
// registry (register, heartbeat, re-register when the registry forgot it, deregister on stop),
// a cached view of the registry kept current with deltas (full fetch first and whenever the
// delta's reconcile hashcode disagrees with the local view or the delta cannot be read), and
// call(), which sends a request to a service with failover, choosing instances through an
// InstanceChoice (UP only, same zone first, round robin, a circuit breaker per instance and a
// retry budget per service: instance_choice.hpp), its own or one shared with other callers.
// See shared/design/EUREKA.md §2, §4 and §6.
//
// Threads: the background work (registration, heartbeats, refreshes) runs on a strand of the
// executor given to the constructor; the executor must be run by some thread for the client to
// do anything. choose(), up_instances(), stats() and call() may be called from any thread; they
// never wait on the network except call(), which is an awaitable run on the caller's executor.
// start() returns at once. stop() and call_blocking() block the calling thread and must not be
// called from a thread that runs the client's executor.
//
// Failures: nothing throws. Registry outages are retried (`retries`, with backoff, rotating
// through `registry_urls`: a refused connection, a timeout or a 5xx moves to the next URL;
// heartbeats and deltas try each URL once, registrations and full fetches `retries` times) and
// counted in stats(); the cached view stays as it was meanwhile.
// call() returns a Result: kNotFound when the service has no UP instance, kUnavailable when
// every instance failed or had an open circuit (or the last 5xx response itself).
//
// Usage:
//
//     discovery::EurekaClientOptions options;
//     options.registry_urls = {"http://127.0.0.1:8761/eureka"};
//     options.instance.app = "BILLING";            // leave empty to only discover
//     options.instance.host_name = options.instance.ip_addr = "127.0.0.1";
//     options.instance.port = {8080, true};
//     options.zone = "eu-1";
//     discovery::EurekaClient client(io.get_executor(), options);
//     client.start();
//     client.wait_until_fetched(std::chrono::seconds(5));
//     http::ClientRequest req;
//     req.target = "/invoices/42";
//     auto res = co_await client.call("USERS", req, std::chrono::seconds(2));
//     // … or, from a thread that is not running `io`: client.call_blocking("USERS", req, 2s);
//     client.stop();                               // deregisters

#include "core/clock.hpp"
#include "core/error.hpp"
#include "discovery/instance_choice.hpp"
#include "discovery/service_directory.hpp"
#include "http/client.hpp"
#include "registry/instance_change.hpp"
#include "registry/model.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace orquestra::discovery {

struct EurekaClientOptions {
    // Base URLs such as "http://127.0.0.1:8761/eureka"; the client moves to the next one when a
    // registry cannot be reached or answers 5xx. Credentials in a URL
    // ("http://user:password@host:8761/eureka", percent-encoded) are sent as HTTP Basic auth
    // to that registry.
    std::vector<std::string> registry_urls;
    // "user:password" sent as HTTP Basic auth to the registries whose URL carries none;
    // empty: none.
    std::string registry_auth;
    // What to register. An empty `app` registers nothing (discovery only). An empty
    // instance_id becomes "host:app:port"; lease durations come from the fields below, and
    // metadata.zone from `zone` when the instance has none.
    registry::InstanceInfo instance;
    std::string zone;  // preferred zone when choosing instances
    std::chrono::milliseconds heartbeat_interval{30'000};
    std::chrono::seconds lease_duration{90};
    bool fetch_registry = true;
    std::chrono::milliseconds refresh_interval{30'000};
    std::chrono::milliseconds request_timeout{5'000};  // each registry request
    int retries = 3;                                  // further attempts after a failure
    std::chrono::milliseconds retry_backoff{100};     // doubled after each failed attempt
    std::chrono::milliseconds stop_timeout{2'000};    // bound on stop()'s wait
    // Circuit breaker per instance: open after `breaker_failures` consecutive failures, skip
    // the instance for `breaker_open_duration`, then let one probe through (half-open); a
    // failed probe doubles the period, up to `breaker_max_open_duration`.
    int breaker_failures = 3;
    std::chrono::milliseconds breaker_open_duration{5'000};
    std::chrono::milliseconds breaker_max_open_duration{60'000};
    const Clock* clock = nullptr;  // for the breaker; null: SystemClock
    // An InstanceChoice shared with other callers in the process (it must outlive the client);
    // null: the client's own, made from the fields above and `zone`.
    InstanceChoice* choice = nullptr;
};

// Counters, for metrics and tests.
struct EurekaClientStats {
    std::uint64_t registrations = 0;         // successful registrations
    std::uint64_t registration_failures = 0;
    std::uint64_t heartbeats = 0;            // answered 200
    std::uint64_t heartbeats_not_found = 0;  // answered 404 (followed by a registration)
    std::uint64_t heartbeat_failures = 0;
    std::uint64_t full_fetches = 0;          // successful full fetches
    std::uint64_t delta_fetches = 0;         // deltas applied with a matching hashcode
    std::uint64_t hash_mismatches = 0;
    std::uint64_t fetch_failures = 0;
};

class EurekaClient final : public ServiceDirectory {
public:
    EurekaClient(boost::asio::any_io_executor executor, EurekaClientOptions options);
    // Stops (bounded) if still running.
    ~EurekaClient() override;
    EurekaClient(const EurekaClient&) = delete;
    EurekaClient& operator=(const EurekaClient&) = delete;

    // Starts registration/heartbeats (when an instance is given) and refreshes (when
    // fetch_registry). Idempotent.
    void start();
    // Cancels the timers, waits (at most stop_timeout) for in-flight work, then deregisters.
    // Idempotent.
    void stop();
    // Blocks until the first full fetch succeeded; false on timeout.
    bool wait_until_fetched(std::chrono::milliseconds timeout);

    // An UP instance of `service`, round robin, same zone first; instances whose circuit is
    // open are skipped. nullopt when there is none.
    std::optional<ServiceInstance> choose(const std::string& service);

    // Sends `request` (target = path and query) to an instance of `service`. On a transport
    // failure, timeout or 5xx it tries the next instance, each at most once; 4xx is returned
    // as is.
    boost::asio::awaitable<Result<http::ClientResponse>> call(std::string service,
                                                              http::ClientRequest request,
                                                              std::chrono::milliseconds timeout);
    // call() on the client's executor, waited for by the calling thread.
    Result<http::ClientResponse> call_blocking(const std::string& service,
                                               http::ClientRequest request,
                                               std::chrono::milliseconds timeout);

    // ServiceDirectory, from the cached view (service names are case-insensitive).
    std::vector<ServiceInstance> up_instances(const std::string& service) override;
    // `on_change(SERVICE)` (upper-case) runs on the client's strand after a refresh changed
    // that service's UP instances.
    void subscribe(std::function<void(const std::string& service)> on_change) override;
    // `on_change(change)` runs on the client's strand for each instance that appeared,
    // changed status or left, as the deltas (or, after a mismatch, two full fetches) show it:
    // a registry event at most one refresh_interval after the registry made it. The first
    // full fetch reports nothing (it is where the client starts from).
    void subscribe_changes(std::function<void(const registry::InstanceChange& change)> on_change);

    EurekaClientStats stats() const;
    BreakerState breaker_state(const std::string& service, const std::string& instance_id) const;
    // The instance choice its calls go through.
    InstanceChoice& choice();
    // The registered instance's id ("" when discovery only).
    const std::string& instance_id() const;

private:
    struct Core;
    std::shared_ptr<Core> core_;
};

}  // namespace orquestra::discovery
