#include "registry/health_checker.hpp"

#include "core/strings.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>

namespace orquestra::registry {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

Error refuse(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

std::string_view unbracket(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        return host.substr(1, host.size() - 2);
    }
    return host;
}

// How often a round that waits for a free probe slot looks again.
constexpr std::chrono::milliseconds kSlotPoll{2};

}  // namespace

Result<ProbePlan> plan_probe(const HealthTarget& target, std::size_t max_url_bytes) {
    const std::string_view url = target.health_check_url;
    if (url.size() > max_url_bytes) {
        return refuse(fmt::format("healthCheckUrl is longer than {} bytes", max_url_bytes));
    }
    const auto scheme_end = url.find("://");
    const std::string scheme =
        scheme_end == std::string_view::npos ? std::string() : to_lower(url.substr(0, scheme_end));
    if (scheme == "https") return refuse("https health checks are not probed");
    if (scheme != "http") return refuse("healthCheckUrl is not an http:// URL");
    const std::string_view rest = url.substr(scheme_end + 3);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos) {
        return refuse("healthCheckUrl carries credentials");
    }
    auto parsed = http::parse_http_url("http://" + std::string(rest));
    if (!parsed) return parsed.error();
    auto& [endpoint, path] = *parsed;
    const std::string_view host = unbracket(endpoint.host);
    if (!iequals(host, target.ip_addr) && !iequals(host, target.host_name)) {
        return refuse(fmt::format("healthCheckUrl names host '{}', not the instance's own",
                                  host.substr(0, 256)));
    }
    if (endpoint.port != 80 && endpoint.port < 1024) {
        return refuse(fmt::format("healthCheckUrl port {} is below 1024 (and not 80)",
                                  endpoint.port));
    }
    boost::system::error_code ec;
    asio::ip::make_address(target.ip_addr, ec);
    if (ec) return refuse("the instance's ipAddr is not an IP address");
    // The fragment never goes on the wire.
    if (auto hash = path.find('#'); hash != std::string::npos) path.resize(hash);
    if (path.empty()) path = "/";
    if (auto ok = http::check_request_target(path); !ok) {
        return refuse("healthCheckUrl path: " + ok.error().message);
    }
    return ProbePlan{http::Endpoint{target.ip_addr, endpoint.port}, std::move(path)};
}

std::chrono::milliseconds probe_offset(std::size_t index, std::size_t count,
                                       std::chrono::milliseconds interval) {
    if (count == 0) return std::chrono::milliseconds(0);
    const auto span = static_cast<unsigned long long>(std::max<std::int64_t>(interval.count(), 0));
    return std::chrono::milliseconds(
        static_cast<std::int64_t>(span * std::min(index, count - 1) / count));
}

struct HealthChecker::State {
    State(asio::io_context& context, InstanceRegistry& reg, HealthCheckOptions opts)
        : io(context), registry(reg), options(opts), timer(context) {}

    asio::io_context& io;
    InstanceRegistry& registry;
    HealthCheckOptions options;
    asio::steady_timer timer;  // the round's pacing; touched on `io` only
    std::atomic<bool> stopped{false};
    std::atomic<std::size_t> in_flight{0};
    std::atomic<std::size_t> max_in_flight{0};
    std::atomic<std::uint64_t> skipped{0};
    std::atomic<std::uint64_t> rounds{0};
    std::atomic<ReplicationSink*> sink{nullptr};
};

namespace {

using StatePtr = std::shared_ptr<HealthChecker::State>;

}  // namespace

// Free coroutines taking the state by value: it stays alive while any of them runs. The
// probe was counted in flight by launch().
static asio::awaitable<void> probe_one(StatePtr state, HealthTarget target, ProbePlan plan) {
    http::ClientRequest request;
    request.method = "GET";
    request.target = std::move(plan.target);
    request.headers = {{"User-Agent", "orquestra-health-check"}, {"Accept", "*/*"}};
    auto response = co_await http::async_fetch(std::move(plan.endpoint), std::move(request),
                                               state->options.timeout,
                                               state->options.max_body_bytes);
    state->in_flight.fetch_sub(1);
    if (state->stopped.load()) co_return;
    const bool healthy = response && response->status >= 200 && response->status < 300;
    auto change =
        state->registry.record_health(target.app, target.instance_id, healthy,
                                      state->options.failure_threshold,
                                      state->options.success_threshold);
    if (!change) co_return;  // gone meanwhile
    if (*change != HealthChange::kNone) {
        // The peers learn the verdict as a registration of the instance as it now is.
        if (ReplicationSink* sink = state->sink.load()) {
            sink->replicate(ReplicationAction::kRegister, to_upper(target.app), target.instance_id,
                            std::nullopt);
        }
    }
    if (*change == HealthChange::kMarkedDown) {
        spdlog::warn("health check: {} of {} marked DOWN after {} failed probes (last: {})",
                     target.instance_id, target.app, state->options.failure_threshold,
                     response ? fmt::format("HTTP {}", response->status) : response.error().message);
    } else if (*change == HealthChange::kMarkedUp) {
        spdlog::info("health check: {} of {} back UP after {} good probes", target.instance_id,
                     target.app, state->options.success_threshold);
    }
}

// Waits until fewer than max_in_flight probes are open; false when stopped meanwhile.
static asio::awaitable<bool> wait_for_slot(StatePtr state, asio::steady_timer& timer) {
    const std::size_t limit = std::max<std::size_t>(state->options.max_in_flight, 1);
    while (state->in_flight.load() >= limit) {
        if (state->stopped.load()) co_return false;
        timer.expires_after(kSlotPoll);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return !state->stopped.load();
}

// Counts the probe in flight at once (the coroutine starts later, from the loop's queue), so
// that the bound holds however many are launched in a row.
static void launch(const StatePtr& state, HealthTarget target) {
    auto plan = plan_probe(target, state->options.max_url_bytes);
    if (!plan) {
        state->skipped.fetch_add(1, std::memory_order_relaxed);
        spdlog::debug("health check of {} ({}) skipped: {}", target.instance_id, target.app,
                      plan.error().message);
        return;
    }
    const std::size_t now_in_flight = state->in_flight.fetch_add(1) + 1;
    std::size_t seen = state->max_in_flight.load();
    while (now_in_flight > seen &&
           !state->max_in_flight.compare_exchange_weak(seen, now_in_flight)) {
    }
    asio::co_spawn(state->io, probe_one(state, std::move(target), std::move(*plan)),
                   asio::detached);
}

static asio::awaitable<void> run_rounds(StatePtr state) {
    while (!state->stopped.load()) {
        const auto round_start = SteadyClock::now();
        std::vector<HealthTarget> targets =
            state->registry.health_targets(state->options.direct_only);
        // Instances in a stable order, so each keeps its place in the interval from round to
        // round.
        std::sort(targets.begin(), targets.end(), [](const HealthTarget& a, const HealthTarget& b) {
            return std::tie(a.app, a.instance_id) < std::tie(b.app, b.instance_id);
        });
        for (std::size_t i = 0; i < targets.size(); ++i) {
            state->timer.expires_at(round_start +
                                    probe_offset(i, targets.size(), state->options.interval));
            co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
            if (!co_await wait_for_slot(state, state->timer)) co_return;
            launch(state, std::move(targets[i]));
        }
        state->rounds.fetch_add(1, std::memory_order_relaxed);
        state->timer.expires_at(round_start + state->options.interval);
        co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

HealthChecker::HealthChecker(asio::io_context& io, InstanceRegistry& registry,
                             HealthCheckOptions options)
    : state_(std::make_shared<State>(io, registry, options)) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::set_replication(ReplicationSink* sink) { state_->sink.store(sink); }

void HealthChecker::start() {
    asio::co_spawn(state_->io, run_rounds(state_), asio::detached);
}

void HealthChecker::stop() {
    if (state_->stopped.exchange(true)) return;
    asio::post(state_->io, [state = state_] { state->timer.cancel(); });
}

asio::awaitable<void> HealthChecker::probe_all() {
    StatePtr state = state_;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (auto& target : state->registry.health_targets(state->options.direct_only)) {
        if (!co_await wait_for_slot(state, timer)) co_return;
        launch(state, std::move(target));
    }
    // Probes start from the loop's queue: let them, then wait for every one to end.
    do {
        timer.expires_after(kSlotPoll);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    } while (state->in_flight.load() > 0);
}

std::size_t HealthChecker::in_flight() const { return state_->in_flight.load(); }
std::size_t HealthChecker::max_in_flight_seen() const { return state_->max_in_flight.load(); }
std::uint64_t HealthChecker::skipped() const { return state_->skipped.load(); }
std::uint64_t HealthChecker::rounds() const { return state_->rounds.load(); }
const HealthCheckOptions& HealthChecker::options() const { return state_->options; }

}  // namespace orquestra::registry
