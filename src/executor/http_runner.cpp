#include "executor/http_runner.hpp"

#include "discovery/service_call.hpp"
#include "http/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace orquestra::executor {

namespace asio = boost::asio;

namespace {

using discovery::ServiceInstance;

std::string excerpt(std::string_view body) {
    constexpr std::size_t kMax = 512;
    std::string out(body.substr(0, kMax));
    for (char& c : out) {
        if (c == '\n' || c == '\r') c = ' ';
    }
    if (body.size() > kMax) out += "…";
    return out;
}

bool expected(const RenderedHttp& spec, int status) {
    if (spec.expected_status.empty()) return status >= 200 && status < 300;
    return std::find(spec.expected_status.begin(), spec.expected_status.end(), status) !=
           spec.expected_status.end();
}

std::string joined(const std::vector<std::string>& items, std::string_view sep) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : std::string(sep)) + s;
    return out;
}

// What a try's log and error say about one call; filled by call_service()'s observer.
struct TryLog {
    AttemptResult result;
    std::vector<std::string> failures;  // "instance X: what happened"
};

asio::awaitable<AttemptResult> call(http::ClientPool& clients, discovery::InstanceChoice* choice,
                                    std::string service, Attempt attempt,
                                    discovery::InstanceChoice::Plan plan, std::string target) {
    using std::chrono::milliseconds;
    const auto& spec = std::get<RenderedHttp>(attempt.work);
    TryLog tlog;
    TryLog* log = &tlog;  // the observer's lambdas hold a pointer: it outlives the call
    AttemptResult& result = log->result;
    for (const auto& s : plan.skipped) {
        result.log.push_back(fmt::format(
            "instance {} skipped: its circuit is open after {} failure(s) (last: {}); it gets a "
            "probe once its back-off of {} ms has passed",
            s.instance_id, s.consecutive_failures, s.last_error, s.back_off.count()));
    }
    if (plan.last_resort && !plan.order.empty()) {
        result.log.push_back(fmt::format(
            "every UP instance of service '{}' has an open circuit: calling {} anyway, the one "
            "whose back-off ends first",
            service, plan.order.front().id));
    }
    http::ClientRequest req;
    req.method = spec.method;
    req.target = target;
    req.headers = spec.headers;
    req.headers.emplace_back("Accept", "application/json");
    req.headers.emplace_back("X-Orquestra-Dag-Id", attempt.dag_id);
    req.headers.emplace_back("X-Orquestra-Run-Id", attempt.run_id);
    req.headers.emplace_back("X-Orquestra-Task-Id", attempt.task_id);
    req.headers.emplace_back("X-Orquestra-Try-Number", std::to_string(attempt.try_number));
    if (spec.body) {
        req.body = *spec.body;
        if (!spec.content_type.empty()) req.headers.emplace_back("Content-Type", spec.content_type);
    }
    discovery::CallObserver observer;
    observer.on_send = [log, &spec, &target](const ServiceInstance& t, milliseconds limit,
                                             bool probe) {
        log->result.log.push_back(fmt::format(
            "request: {} http://{}:{}{} (instance {}, time limit {} ms{})", spec.method, t.host,
            t.port, target, t.id, limit.count(),
            probe ? "; probe of its half-open circuit" : ""));
        if (spec.body) log->result.log.push_back("request body: " + excerpt(*spec.body));
    };
    observer.on_answer = [log](const ServiceInstance& t, const Result<http::ClientResponse>& res,
                               milliseconds limit, double ms, bool failed, bool last) {
        const std::string next = last ? "" : "; trying another instance";
        if (!res) {
            std::string what = discovery::describe_failure(res.error(), limit);
            log->failures.push_back(fmt::format("instance {}: {}", t.id, what));
            log->result.log.push_back(
                fmt::format("instance {} failed after {:.1f} ms: {}{}", t.id, ms, what, next));
            return;
        }
        log->result.log.push_back(fmt::format("response: HTTP {} in {:.1f} ms from {}: {}",
                                              res->status, ms, t.id, excerpt(res->body)));
        if (failed) {
            log->failures.push_back(
                fmt::format("instance {}: HTTP {}: {}", t.id, res->status, excerpt(res->body)));
            log->result.log.push_back(
                fmt::format("instance {} answered with a server error{}", t.id, next));
        }
    };
    discovery::CallLimits limits;
    limits.total = attempt.timeout;
    limits.each = spec.attempt_timeout;
    limits.min_each = kMinAttemptTimeout;
    discovery::FailureStatus is_failure = [&spec](int status) {
        return status >= 500 && !expected(spec, status);
    };
    const std::size_t planned = plan.order.size();
    const std::size_t skipped = plan.skipped.size();
    auto outcome = co_await discovery::call_service(clients, choice, service, std::move(plan),
                                                    std::move(req), limits, is_failure, &observer);
    if (outcome.succeeded) {
        const auto& res = *outcome.response;
        const std::string& by = outcome.answered_by->id;
        result.served_by = by;
        result.log.push_back(fmt::format("answered by instance {}", by));
        if (!expected(spec, res.status)) {
            result.error = fmt::format("HTTP {} from {}: {}", res.status, by, excerpt(res.body));
            co_return std::move(result);
        }
        boost::system::error_code ec;
        auto parsed = boost::json::parse(res.body, ec);
        if (!ec) result.output_json = res.body;
        result.success = true;
        co_return std::move(result);
    }
    const std::string tried_text = joined(log->failures, "; ");
    if (planned == 0) {
        std::vector<std::string> open;
        for (const auto& s : outcome.skipped) open.push_back(s.instance_id);
        result.error = fmt::format(
            "every UP instance of service '{}' has an open circuit ({}); none was called",
            service, joined(open, ", "));
    } else if (outcome.time_ran_out) {
        result.error = fmt::format("the try's timeout of {} ms ran out before {} could be tried{}{}",
                                   attempt.timeout.count(), joined(outcome.untried, ", "),
                                   tried_text.empty() ? "" : ": ", tried_text);
    } else if (outcome.budget_spent) {
        result.error = fmt::format(
            "the retry budget of service '{}' is spent (too many failovers in the last "
            "seconds), so {} was not tried: {}",
            service, joined(outcome.untried, ", "), tried_text);
    } else if (outcome.tried == 1 && planned + skipped == 1) {
        result.error = tried_text;
    } else if (outcome.tried == 0) {
        result.error = fmt::format(
            "every instance of service '{}' has an open circuit or a probe in flight", service);
    } else {
        result.error = fmt::format("all {} instances failed: {}", outcome.tried, tried_text);
    }
    result.log.push_back("no instance answered: " + result.error);
    co_return std::move(result);
}

}  // namespace

HttpTaskRunner::HttpTaskRunner(http::IoPool& pool, discovery::ServiceDirectory& directory,
                               discovery::InstanceChoice& choice)
    : pool_(pool), directory_(directory), choice_(choice) {}

void HttpTaskRunner::run(Attempt attempt, std::function<void(AttemptResult)> done) {
    const auto* spec = std::get_if<RenderedHttp>(&attempt.work);
    if (spec == nullptr) {
        done(AttemptResult{false, std::nullopt, "not an http task", "", {}});
        return;
    }
    discovery::InstanceChoice::Plan plan;
    discovery::InstanceChoice* choice = nullptr;
    std::string service;
    std::string target;
    if (spec->url) {
        // A fixed URL: one "instance", no breaker.
        auto parsed = http::parse_http_url(*spec->url);
        if (!parsed) {
            done(AttemptResult{false, std::nullopt, parsed.error().message, "", {}});
            return;
        }
        target = parsed->second;
        if (!spec->path.empty()) {
            if (!target.empty() && target.back() == '/' && spec->path.front() == '/') {
                target.pop_back();
            }
            target += spec->path;
        }
        service = *spec->url;
        plan.order.push_back(ServiceInstance{*spec->url, parsed->first.host, parsed->first.port, ""});
    } else {
        service = *spec->service;
        auto instances = directory_.up_instances(service);
        if (instances.empty()) {
            done(AttemptResult{false, std::nullopt,
                               fmt::format("no UP instance of service '{}' in the registry",
                                           service),
                               "",
                               {}});
            return;
        }
        choice = &choice_;
        plan = choice_.plan(service, std::move(instances));
        target = spec->path.empty() ? "/" : spec->path;
    }
    if (auto ok = http::check_request_target(target); !ok) {
        done(AttemptResult{false, std::nullopt, "path: " + ok.error().message, "", {}});
        return;
    }
    asio::co_spawn(pool_.next(),
                   call(clients_, choice, std::move(service), std::move(attempt), std::move(plan),
                        std::move(target)),
                   [done = std::move(done)](std::exception_ptr e, AttemptResult r) {
                       if (e) {
                           r = AttemptResult{};
                           r.error = "internal error in the HTTP runner";
                       }
                       done(std::move(r));
                   });
}

}  // namespace orquestra::executor
