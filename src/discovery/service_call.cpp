#include "discovery/service_call.hpp"

#include <fmt/format.h>

namespace orquestra::discovery {

using std::chrono::milliseconds;

std::string describe_failure(const Error& error, milliseconds limit) {
    if (error.code == ErrorCode::kTimeout) {
        return fmt::format("timed out after {} ms without an answer", limit.count());
    }
    return error.message;
}

boost::asio::awaitable<CallOutcome> call_service(http::ClientPool& pool, InstanceChoice* choice,
                                                 std::string service, InstanceChoice::Plan plan,
                                                 http::ClientRequest request, CallLimits limits,
                                                 FailureStatus is_failure,
                                                 const CallObserver* observer) {
    CallOutcome out;
    out.planned = plan.order.size();
    out.skipped = std::move(plan.skipped);
    const auto& targets = plan.order;
    if (targets.empty()) co_return out;
    const auto deadline = std::chrono::steady_clock::now() + limits.total;
    const bool own_limit = limits.each.has_value();
    const milliseconds share = limits.each.value_or(std::max(
        limits.min_each, limits.total / static_cast<std::int64_t>(targets.size())));
    std::size_t i = 0;
    for (; i < targets.size(); ++i) {
        const ServiceInstance& t = targets[i];
        if (i > 0 && choice != nullptr && !choice->take_failover(service)) {
            out.budget_spent = true;
            break;
        }
        bool probe = false;
        if (choice != nullptr && !plan.last_resort && !choice->admit(service, t.id, &probe)) {
            // Its circuit opened since the plan was made, or another request is its probe.
            continue;
        }
        const bool last = i + 1 == targets.size();
        auto remaining = std::chrono::duration_cast<milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (remaining.count() <= 0) {
            out.time_ran_out = true;
            break;
        }
        // The last instance may use whatever the request has left, unless a limit was set.
        const milliseconds limit = last && !own_limit ? remaining : std::min(share, remaining);
        if (observer != nullptr && observer->on_send) observer->on_send(t, limit, probe);
        http::ClientRequest req = request;
        req.keep_alive = true;
        // A named endpoint: g++ 12 mis-destroys a braced temporary passed to a coroutine.
        http::Endpoint endpoint{t.host, t.port};
        const auto started = std::chrono::steady_clock::now();
        auto res = co_await pool.fetch(endpoint, std::move(req), limit);
        const auto took = std::chrono::steady_clock::now() - started;
        ++out.tried;
        const double ms =
            static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()) /
            1000.0;
        const bool failed = !res || is_failure(res->status);
        std::string what;
        if (!res) {
            what = describe_failure(res.error(), limit);
        } else if (failed) {
            what = fmt::format("HTTP {}", res->status);
        }
        if (choice != nullptr) choice->record(service, t.id, failed, took, what);
        if (observer != nullptr && observer->on_answer) {
            observer->on_answer(t, res, limit, ms, failed, last);
        }
        if (!failed) {
            out.response = std::move(*res);
            out.answered_by = t;
            out.succeeded = true;
            co_return out;
        }
        if (res) {
            out.response = std::move(*res);
            out.answered_by = t;
        }
        out.failures.push_back(fmt::format("instance {}: {}", t.id, what));
    }
    for (; i < targets.size(); ++i) out.untried.push_back(targets[i].id);
    co_return out;
}

}  // namespace orquestra::discovery
