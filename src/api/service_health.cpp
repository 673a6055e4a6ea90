// The workflow side's view of the services it calls: the instance choice's breakers
// (/api/v1/services/{name}/breakers) and the Prometheus metrics at /metrics.
#include <fmt/format.h>

#include "api/api_detail.hpp"
#include "api/users.hpp"
#include "core/metrics.hpp"
#include "core/strings.hpp"

namespace orquestra::api {

namespace {

json::object instance_json(const discovery::InstanceHealth& i) {
    json::object o;
    o["instance_id"] = i.instance_id;
    o["state"] = discovery::to_string(i.state);
    o["consecutive_failures"] = i.consecutive_failures;
    o["open_until"] = datetime_json(i.open_until);
    o["back_off_ms"] = i.back_off.count();
    o["calls"] = i.calls;
    o["failures"] = i.failures;
    o["opened"] = i.opened;
    o["last_failure"] = datetime_json(i.last_failure_at);
    o["last_error"] = i.last_error;
    return o;
}

json::object service_json(const discovery::ServiceHealth& s) {
    json::array instances;
    for (const auto& i : s.instances) instances.push_back(instance_json(i));
    return json::object{{"service", s.service},
                        {"requests", s.requests},
                        {"failovers", s.failovers},
                        {"failovers_denied", s.failovers_denied},
                        {"retry_budget_tokens", s.retry_tokens},
                        {"instances", std::move(instances)}};
}

}  // namespace

void ApiServer::service_breakers(Call& call, const std::string& service) {
    const auto* choice = options_.choice;
    if (choice == nullptr) {
        send_problem(call.res, 503, "this process runs no tasks: it has no breakers to show",
                     call.instance);
        return;
    }
    json::object out;
    out["zone"] = choice->options().zone;
    const auto& o = choice->options();
    out["breaker"] = json::object{{"failures_to_open", o.breaker_failures},
                                  {"open_ms", o.breaker_open.count()},
                                  {"max_open_ms", o.breaker_max_open.count()}};
    out["retry_budget"] = json::object{{"ratio", o.retry_ratio},
                                       {"min_per_second", o.retry_min_per_second},
                                       {"burst", o.retry_burst}};
    if (service == "~") {
        json::array services;
        for (const auto& s : choice->health()) services.push_back(service_json(s));
        out["services"] = std::move(services);
        send_json(call.res, out);
        return;
    }
    auto one = choice->health(service);
    if (!one) {
        // Known to the registry or not, no task of this process has called it yet.
        discovery::ServiceHealth empty;
        empty.service = to_upper(service);
        one = std::move(empty);
    }
    for (auto& [k, v] : service_json(*one)) out[k] = v;
    send_json(call.res, out);
}

std::string ApiServer::render_metrics() const {
    std::string out;
    engine_.metrics().render(out);
    if (options_.choice != nullptr) options_.choice->render_metrics(out);
    return out;
}

asio::awaitable<void> ApiServer::metrics(http::Request& req, http::Response& res) {
    Call call{req, res, {}, std::string(req.path()), {}, false, {}};
    if (req.method() != http::beast_http::verb::get && req.method() != http::beast_http::verb::head) {
        send_problem(res, 405, fmt::format("{} is not allowed on /metrics (allowed: GET)",
                                           req.method_string()),
                     call.instance);
        res.add_header("Allow", "GET");
        co_return;
    }
    auto role = co_await authenticate(call);
    if (!role) co_return;  // answered
    if (!*role || !allows(**role, Permission::kRead)) {
        send_problem(res, 403, "this user has no role that allows API access", call.instance);
        co_return;
    }
    res.set(200, "text/plain; version=0.0.4; charset=utf-8", render_metrics());
}

}  // namespace orquestra::api
