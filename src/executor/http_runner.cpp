#include "executor/http_runner.hpp"

#include "http/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace orquestra::executor {

namespace asio = boost::asio;

namespace {

struct Target {
    std::string label;  // instance id or URL
    http::Endpoint endpoint;
    std::string target;
};

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

asio::awaitable<AttemptResult> call(http::ClientPool& clients, Attempt attempt,
                                    std::vector<Target> targets) {
    using std::chrono::milliseconds;
    const auto& spec = std::get<RenderedHttp>(attempt.work);
    AttemptResult result;
    const auto deadline = std::chrono::steady_clock::now() + attempt.timeout;
    // Each call gets its own share of the try, so that an instance that accepts and never
    // answers cannot use the whole try up: the next instance is still tried in time.
    const bool own_limit = spec.attempt_timeout.has_value();
    const milliseconds share =
        spec.attempt_timeout.value_or(std::max(
            kMinAttemptTimeout, attempt.timeout / static_cast<std::int64_t>(targets.size())));
    std::vector<std::string> failures;  // "instance X: what happened", one per instance tried
    std::size_t tried = 0;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        const auto& t = targets[i];
        const bool last = i + 1 == targets.size();
        auto remaining = std::chrono::duration_cast<milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (remaining.count() <= 0) break;
        // The last instance may use whatever the try has left, unless the DAG set a limit.
        milliseconds limit = last && !own_limit ? remaining : std::min(share, remaining);
        http::ClientRequest req;
        req.method = spec.method;
        req.target = t.target;
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
        result.log.push_back(fmt::format("request: {} http://{}:{}{} (instance {}, time limit {} ms)",
                                         spec.method, t.endpoint.host, t.endpoint.port, t.target,
                                         t.label, limit.count()));
        if (spec.body) result.log.push_back("request body: " + excerpt(*spec.body));
        auto started = std::chrono::steady_clock::now();
        auto res = co_await clients.fetch(t.endpoint, std::move(req), limit);
        ++tried;
        auto ms = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count() /
                  1000.0;
        const std::string next = last ? "" : "; trying another instance";
        if (!res) {
            std::string what = res.error().code == ErrorCode::kTimeout
                                   ? fmt::format("timed out after {} ms without an answer",
                                                 limit.count())
                                   : res.error().message;
            failures.push_back(fmt::format("instance {}: {}", t.label, what));
            result.log.push_back(
                fmt::format("instance {} failed after {:.1f} ms: {}{}", t.label, ms, what, next));
            continue;
        }
        result.log.push_back(fmt::format("response: HTTP {} in {:.1f} ms from {}: {}",
                                         res->status, ms, t.label, excerpt(res->body)));
        if (res->status >= 500 && !expected(spec, res->status)) {
            failures.push_back(fmt::format("instance {}: HTTP {}: {}", t.label, res->status,
                                           excerpt(res->body)));
            result.log.push_back(fmt::format("instance {} answered with a server error{}", t.label, next));
            continue;
        }
        result.served_by = t.label;
        result.log.push_back(fmt::format("answered by instance {}", t.label));
        if (!expected(spec, res->status)) {
            result.error = fmt::format("HTTP {} from {}: {}", res->status, t.label,
                                       excerpt(res->body));
            co_return result;
        }
        boost::system::error_code ec;
        auto parsed = boost::json::parse(res->body, ec);
        if (!ec) result.output_json = res->body;
        result.success = true;
        co_return result;
    }
    std::string tried_text;
    for (const auto& f : failures) tried_text += (tried_text.empty() ? "" : "; ") + f;
    if (tried < targets.size()) {
        std::string untried;
        for (std::size_t i = tried; i < targets.size(); ++i) {
            untried += (untried.empty() ? "" : ", ") + targets[i].label;
        }
        result.error = fmt::format("the try's timeout of {} ms ran out before {} could be tried{}{}",
                                   attempt.timeout.count(), untried, tried_text.empty() ? "" : ": ",
                                   tried_text);
    } else if (targets.size() == 1) {
        result.error = tried_text;
    } else {
        result.error = fmt::format("all {} instances failed: {}", targets.size(), tried_text);
    }
    result.log.push_back("no instance answered: " + result.error);
    co_return result;
}

}  // namespace

HttpTaskRunner::HttpTaskRunner(http::IoPool& pool, ServiceDirectory& directory)
    : pool_(pool), directory_(directory) {}

std::size_t HttpTaskRunner::next_index(const std::string& service) {
    std::lock_guard lock(mu_);
    return round_robin_[service]++;
}

void HttpTaskRunner::run(Attempt attempt, std::function<void(AttemptResult)> done) {
    const auto* spec = std::get_if<RenderedHttp>(&attempt.work);
    if (spec == nullptr) {
        done(AttemptResult{false, std::nullopt, "not an http task", "", {}});
        return;
    }
    std::vector<Target> targets;
    if (spec->url) {
        auto parsed = http::parse_http_url(*spec->url);
        if (!parsed) {
            done(AttemptResult{false, std::nullopt, parsed.error().message, "", {}});
            return;
        }
        std::string target = parsed->second;
        if (!spec->path.empty()) {
            if (!target.empty() && target.back() == '/' && spec->path.front() == '/') {
                target.pop_back();
            }
            target += spec->path;
        }
        if (auto ok = http::check_request_target(target); !ok) {
            done(AttemptResult{false, std::nullopt, "path: " + ok.error().message, "", {}});
            return;
        }
        targets.push_back(Target{*spec->url, parsed->first, target});
    } else {
        auto instances = directory_.up_instances(*spec->service);
        if (instances.empty()) {
            done(AttemptResult{false, std::nullopt,
                               fmt::format("no UP instance of service '{}' in the registry",
                                           *spec->service),
                               "",
                               {}});
            return;
        }
        std::size_t start = next_index(*spec->service) % instances.size();
        for (std::size_t i = 0; i < instances.size(); ++i) {
            const auto& inst = instances[(start + i) % instances.size()];
            targets.push_back(Target{inst.id, http::Endpoint{inst.host, inst.port},
                                     spec->path.empty() ? "/" : spec->path});
        }
    }
    asio::co_spawn(pool_.next(), call(clients_, std::move(attempt), std::move(targets)),
                   [done = std::move(done)](std::exception_ptr e, AttemptResult r) {
                       if (e) {
                           r = AttemptResult{};
                           r.error = "internal error in the HTTP runner";
                       }
                       done(std::move(r));
                   });
}

}  // namespace orquestra::executor
