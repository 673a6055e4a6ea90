#pragma once
// call_service(): one request to a service with failover — the one implementation of it,
// used by EurekaClient::call() and by the workflow's http tasks. It tries the instances of an
// InstanceChoice plan in order: each call has its own time limit within the request's, a
// refused connection, a timeout or a failure status moves on to the next instance (when the
// retry budget allows), and any other answer ends the request. Every outcome goes to the
// InstanceChoice's breakers. An observer sees each step (the task runner writes them to the
// try's log).
//
// Runs on the caller's executor; never throws.

#include "core/error.hpp"
#include "discovery/instance_choice.hpp"
#include "http/client.hpp"
#include "http/client_pool.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace orquestra::discovery {

struct CallLimits {
    // The whole request, over every instance it tries.
    std::chrono::milliseconds total{30'000};
    // Each instance's call; unset: `total` shared among the instances to try, at least
    // `min_each`, and the last one gets whatever is left.
    std::optional<std::chrono::milliseconds> each;
    std::chrono::milliseconds min_each{1'000};
};

struct CallObserver {
    // Before a request goes to `instance`; `probe`: it is a half-open circuit's one probe.
    std::function<void(const ServiceInstance& instance, std::chrono::milliseconds limit,
                       bool probe)>
        on_send;
    // After it: the answer or the transport error, how long it took, and whether it counted
    // as the instance's failure; `last`: no other instance follows it.
    std::function<void(const ServiceInstance& instance, const Result<http::ClientResponse>& res,
                       std::chrono::milliseconds limit, double ms, bool failed, bool last)>
        on_answer;
};

struct CallOutcome {
    // The answer that ended the request: one that is not a failure status, or the last
    // failure status when every instance failed. Unset when no instance answered.
    std::optional<http::ClientResponse> response;
    std::optional<ServiceInstance> answered_by;  // who sent `response`
    bool succeeded = false;                      // `response` is not a failure status
    // "instance X: what happened", one per instance tried that failed.
    std::vector<std::string> failures;
    // Instances of the plan not tried: the time ran out, or the retry budget was spent.
    std::vector<std::string> untried;
    bool budget_spent = false;
    bool time_ran_out = false;
    std::size_t tried = 0;
    std::size_t planned = 0;                    // instances the plan had
    std::vector<InstanceHealth> skipped;        // left out: their circuit is open
};

// Whether an HTTP status counts as the instance's failure (default: 5xx).
using FailureStatus = std::function<bool(int status)>;

// Sends `request` (target set) to the instances of `plan` in order. `choice` may be null
// (a fixed URL: no breakers, no budget) with `service` naming what is called.
boost::asio::awaitable<CallOutcome> call_service(http::ClientPool& pool, InstanceChoice* choice,
                                                 std::string service, InstanceChoice::Plan plan,
                                                 http::ClientRequest request, CallLimits limits,
                                                 FailureStatus is_failure,
                                                 const CallObserver* observer);

// "timed out after N ms without an answer", or the transport error's message.
std::string describe_failure(const Error& error, std::chrono::milliseconds limit);

}  // namespace orquestra::discovery
