#include "discovery/eureka_client.hpp"

#include "core/strings.hpp"
#include "discovery/service_call.hpp"
#include "discovery/view_changes.hpp"
#include "http/client_pool.hpp"
#include "registry/codec.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>

namespace orquestra::discovery {

namespace asio = boost::asio;
using registry::InstanceInfo;
using std::chrono::milliseconds;

namespace {

bool same_instances(const std::vector<ServiceInstance>& a, const std::vector<ServiceInstance>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const ServiceInstance& x, const ServiceInstance& y) {
                          return x.id == y.id && x.host == y.host && x.port == y.port &&
                                 x.zone == y.zone;
                      });
}

ServiceInstance to_service_instance(const InstanceInfo& info) {
    ServiceInstance s;
    s.id = info.id();
    s.host = info.ip_addr.empty() ? info.host_name : info.ip_addr;
    s.port = static_cast<std::uint16_t>(info.port.port);
    if (const auto* zone = info.find_metadata("zone")) s.zone = *zone;
    return s;
}

// The Authorization header for a registry URL: its own credentials ("http://user:pw@host/"),
// else `fallback` ("user:password"); empty when there are none.
std::string authorization_for(std::string_view url, std::string_view fallback) {
    constexpr std::string_view kScheme = "http://";
    const bool has_scheme = url.substr(0, kScheme.size()) == kScheme;
    const std::string_view rest = url.substr(has_scheme ? kScheme.size() : 0);
    const std::string_view authority = rest.substr(0, rest.find('/'));
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        const auto colon = userinfo.find(':');
        const auto user = percent_decode(userinfo.substr(0, colon));
        const auto password = colon == std::string_view::npos
                                  ? std::optional<std::string>("")
                                  : percent_decode(userinfo.substr(colon + 1));
        if (user && password) return "Basic " + base64_encode(*user + ":" + *password);
    }
    if (fallback.empty()) return {};
    return "Basic " + base64_encode(fallback);
}

asio::awaitable<void> sleep_for(milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

struct EurekaClient::Core : std::enable_shared_from_this<Core> {
    using Strand = asio::strand<asio::any_io_executor>;

    Core(asio::any_io_executor ex, EurekaClientOptions opts)
        : options(std::move(opts)),
          clock(options.clock != nullptr ? *options.clock : SystemClock::instance()),
          strand(asio::make_strand(ex)),
          heartbeat_timer(strand),
          refresh_timer(strand) {
        if (options.choice == nullptr) {
            ChoiceOptions c;
            c.zone = options.zone;
            c.breaker_failures = options.breaker_failures;
            c.breaker_open = options.breaker_open_duration;
            c.breaker_max_open = options.breaker_max_open_duration;
            c.clock = &clock;
            own_choice = std::make_unique<InstanceChoice>(std::move(c));
            choice = own_choice.get();
        } else {
            choice = options.choice;
        }
        for (auto& url : options.registry_urls) {
            while (!url.empty() && url.back() == '/') url.pop_back();
            registry_authorization.push_back(authorization_for(url, options.registry_auth));
        }
        auto& inst = options.instance;
        if (!inst.app.empty()) {
            inst.app = to_upper(inst.app);
            if (inst.instance_id.empty()) {
                inst.instance_id = fmt::format("{}:{}:{}", inst.host_name, to_lower(inst.app),
                                               inst.port.port);
            }
            if (inst.vip_address.empty()) inst.vip_address = to_lower(inst.app);
            inst.lease.duration_secs = static_cast<int>(options.lease_duration.count());
            inst.lease.renewal_interval_secs = static_cast<int>(
                std::max<std::int64_t>(1, options.heartbeat_interval.count() / 1000));
            if (!options.zone.empty() && inst.find_metadata("zone") == nullptr) {
                inst.set_metadata("zone", options.zone);
            }
            if (inst.last_dirty_timestamp == 0) inst.last_dirty_timestamp = clock.now_ms();
            if (inst.last_updated_timestamp == 0) {
                inst.last_updated_timestamp = inst.last_dirty_timestamp;
            }
            registered_id = inst.id();
        }
    }

    // --- registry requests -------------------------------------------------------------------

    // Sends to the current registry URL; on a transport failure or 5xx moves to the next URL
    // and tries again after a backoff, up to `attempts` times in all.
    asio::awaitable<Result<http::ClientResponse>> registry_request(std::string method,
                                                                   std::string path,
                                                                   std::string body,
                                                                   int attempts) {
        if (options.registry_urls.empty()) {
            co_return Error{ErrorCode::kInvalidArgument, "no registry URL configured"};
        }
        Result<http::ClientResponse> last = Error{ErrorCode::kUnavailable, "not attempted"};
        milliseconds backoff = options.retry_backoff;
        for (int attempt = 0; attempt < attempts; ++attempt) {
            if (attempt > 0) {
                if (stopping.load() && method != "DELETE") break;
                co_await sleep_for(backoff);
                backoff *= 2;
            }
            std::size_t index = url_index.load() % options.registry_urls.size();
            auto url = http::parse_http_url(options.registry_urls[index] + path);
            if (!url) co_return url.error();
            http::ClientRequest req;
            req.method = method;
            req.target = url->second;
            req.headers.emplace_back("Accept", "application/json");
            if (!registry_authorization[index].empty()) {
                req.headers.emplace_back("Authorization", registry_authorization[index]);
            }
            if (!body.empty()) {
                req.headers.emplace_back("Content-Type", "application/json");
                req.body = body;
            }
            req.keep_alive = true;
            last = co_await pool.fetch(url->first, std::move(req), options.request_timeout);
            if (last && last->status < 500) co_return last;
            url_index.compare_exchange_strong(index, index + 1);
        }
        co_return last;
    }

    int attempts() const { return 1 + std::max(0, options.retries); }
    // Heartbeats and deltas are repeated on their own schedule: one try at each registry.
    int once_each() const {
        return static_cast<int>(std::max<std::size_t>(1, options.registry_urls.size()));
    }

    std::string instance_path() const {
        return "/apps/" + options.instance.app + "/" + registered_id;
    }

    asio::awaitable<bool> register_once() {
        std::string body;
        write_instance_json(options.instance, body);
        auto res = co_await registry_request("POST", "/apps/" + options.instance.app,
                                             std::move(body), attempts());
        if (res && res->status >= 200 && res->status < 300) {
            ++counters.registrations;
            co_return true;
        }
        ++counters.registration_failures;
        spdlog::warn("eureka client: registration of {} failed: {}", registered_id,
                     res ? fmt::format("HTTP {}", res->status) : res.error().message);
        co_return false;
    }

    static asio::awaitable<void> heartbeat_loop(std::shared_ptr<Core> self) {
        bool registered = false;
        while (!self->stopping.load()) {
            if (!registered) {
                registered = co_await self->register_once();
            } else {
                auto res =
                    co_await self->registry_request("PUT", self->instance_path(), "",
                                                    self->once_each());
                if (res && res->status == 200) {
                    ++self->counters.heartbeats;
                } else if (res && res->status == 404) {
                    ++self->counters.heartbeats_not_found;
                    if (self->stopping.load()) break;
                    registered = co_await self->register_once();
                } else {
                    ++self->counters.heartbeat_failures;
                }
            }
            if (self->stopping.load()) break;
            self->heartbeat_timer.expires_after(registered ? self->options.heartbeat_interval
                                                           : self->options.retry_backoff * 10);
            boost::system::error_code ec;
            co_await self->heartbeat_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        --self->loops_running;
    }

    // --- the cached view ---------------------------------------------------------------------

    asio::awaitable<bool> full_fetch() {
        auto res = co_await registry_request("GET", "/apps/", "", attempts());
        if (!res || res->status != 200) {
            ++counters.fetch_failures;
            co_return false;
        }
        auto apps = registry::parse_applications_json(res->body);
        if (!apps) {
            ++counters.fetch_failures;
            spdlog::warn("eureka client: unreadable registry: {}", apps.error().message);
            co_return false;
        }
        std::map<std::string, std::map<std::string, InstanceInfo>> fresh;
        for (auto& app : apps->applications) {
            auto& ids = fresh[to_upper(app.name)];
            for (auto& info : app.instances) {
                auto id = info.id();
                ids.insert_or_assign(std::move(id), std::move(info));
            }
        }
        std::vector<registry::InstanceChange> changes;
        if (have_view && tracks_changes()) changes = view_changes(view, fresh, clock.now_ms());
        view = std::move(fresh);
        have_view = true;
        emit_changes(changes);
        ++counters.full_fetches;
        publish();
        co_return true;
    }

    // true when the delta was applied and the hashcodes agree.
    asio::awaitable<bool> delta_fetch() {
        auto res = co_await registry_request("GET", "/apps/delta", "", once_each());
        if (!res || res->status != 200) co_return false;
        auto delta = registry::parse_applications_json(res->body);
        if (!delta) co_return false;
        const bool tracking = tracks_changes();
        std::vector<registry::InstanceChange> changes;
        for (auto& app : delta->applications) {
            auto name = to_upper(app.name);
            for (auto& info : app.instances) {
                if (tracking) {
                    if (auto change = delta_change(view, name, info)) {
                        changes.push_back(std::move(*change));
                    }
                }
                auto id = info.id();
                if (info.action_type == registry::ActionType::kDeleted) {
                    auto it = view.find(name);
                    if (it != view.end()) {
                        it->second.erase(id);
                        if (it->second.empty()) view.erase(it);
                    }
                } else {
                    view[name].insert_or_assign(std::move(id), std::move(info));
                }
            }
        }
        emit_changes(changes);
        std::vector<const InstanceInfo*> all;
        for (const auto& [name, ids] : view) {
            for (const auto& [id, info] : ids) all.push_back(&info);
        }
        if (registry::reconcile_hashcode(all) != delta->apps_hashcode) {
            ++counters.hash_mismatches;
            co_return false;
        }
        ++counters.delta_fetches;
        publish();
        co_return true;
    }

    bool tracks_changes() const {
        std::lock_guard lock(mu);
        return !change_listeners.empty();
    }
    void emit_changes(const std::vector<registry::InstanceChange>& changes) {
        if (changes.empty()) return;
        std::vector<std::function<void(const registry::InstanceChange&)>> to_call;
        {
            std::lock_guard lock(mu);
            to_call = change_listeners;
        }
        for (const auto& change : changes) {
            for (const auto& listener : to_call) listener(change);
        }
    }

    // Recomputes the UP lists from `view` and tells subscribers which services changed.
    void publish() {
        std::map<std::string, std::vector<ServiceInstance>> up;
        for (const auto& [name, ids] : view) {
            std::vector<ServiceInstance> list;
            for (const auto& [id, info] : ids) {
                if (info.status == registry::InstanceStatus::kUp) {
                    list.push_back(to_service_instance(info));
                }
            }
            if (!list.empty()) up.emplace(name, std::move(list));
        }
        std::vector<std::string> changed;
        std::vector<std::function<void(const std::string&)>> to_call;
        {
            std::lock_guard lock(mu);
            for (const auto& [name, list] : up) {
                auto it = up_view.find(name);
                if (it == up_view.end() || !same_instances(it->second, list)) {
                    changed.push_back(name);
                }
            }
            for (const auto& [name, list] : up_view) {
                if (!up.contains(name)) changed.push_back(name);
            }
            up_view = std::move(up);
            fetched = true;
            to_call = listeners;
        }
        fetched_cv.notify_all();
        for (const auto& name : changed) {
            for (const auto& listener : to_call) listener(name);
        }
    }

    static asio::awaitable<void> refresh_loop(std::shared_ptr<Core> self) {
        bool have_full = false;
        while (!self->stopping.load()) {
            if (have_full) {
                have_full = co_await self->delta_fetch();
                if (!have_full && !self->stopping.load()) have_full = co_await self->full_fetch();
            } else {
                have_full = co_await self->full_fetch();
            }
            if (self->stopping.load()) break;
            self->refresh_timer.expires_after(self->options.refresh_interval);
            boost::system::error_code ec;
            co_await self->refresh_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        --self->loops_running;
    }

    // --- stop --------------------------------------------------------------------------------

    static asio::awaitable<void> stop_work(std::shared_ptr<Core> self) {
        self->stopping = true;
        self->heartbeat_timer.cancel();
        self->refresh_timer.cancel();
        auto deadline = std::chrono::steady_clock::now() + self->options.stop_timeout;
        while (self->loops_running > 0 && std::chrono::steady_clock::now() < deadline) {
            co_await sleep_for(milliseconds(5));
        }
        // Deregister when registration was started, even if its outcome is unknown.
        if (!self->options.instance.app.empty() && self->started_registration) {
            auto res = co_await self->registry_request("DELETE", self->instance_path(), "", 1);
            if (!res || (res->status != 200 && res->status != 404)) {
                spdlog::warn("eureka client: deregistration of {} failed: {}",
                             self->registered_id,
                             res ? fmt::format("HTTP {}", res->status) : res.error().message);
            }
        }
    }

    std::vector<ServiceInstance> up(const std::string& service) const {
        std::lock_guard lock(mu);
        auto it = up_view.find(service);
        return it == up_view.end() ? std::vector<ServiceInstance>{} : it->second;
    }

    EurekaClientOptions options;
    const Clock& clock;
    Strand strand;
    asio::steady_timer heartbeat_timer;
    asio::steady_timer refresh_timer;
    http::ClientPool pool;
    std::unique_ptr<InstanceChoice> own_choice;
    InstanceChoice* choice = nullptr;
    std::string registered_id;
    std::vector<std::string> registry_authorization;  // per URL; empty: no credentials
    std::atomic<std::size_t> url_index{0};
    std::atomic<bool> stopping{false};
    bool started = false;               // guarded by start_mu
    bool stopped = false;               // guarded by start_mu
    bool started_registration = false;  // set before the loops are spawned
    int loops_running = 0;              // strand only (set before spawning)
    std::mutex start_mu;

    // Strand only: the whole registry as last fetched, by upper-case app then instance id.
    std::map<std::string, std::map<std::string, InstanceInfo>> view;
    bool have_view = false;  // strand only: a full fetch has filled `view`

    struct Counters {
        std::atomic<std::uint64_t> registrations{0}, registration_failures{0}, heartbeats{0},
            heartbeats_not_found{0}, heartbeat_failures{0}, full_fetches{0}, delta_fetches{0},
            hash_mismatches{0}, fetch_failures{0};
    } counters;

    mutable std::mutex mu;  // guards everything below
    std::condition_variable fetched_cv;
    bool fetched = false;
    std::map<std::string, std::vector<ServiceInstance>> up_view;
    std::vector<std::function<void(const std::string&)>> listeners;
    std::vector<std::function<void(const registry::InstanceChange&)>> change_listeners;
};

EurekaClient::EurekaClient(asio::any_io_executor executor, EurekaClientOptions options)
    : core_(std::make_shared<Core>(std::move(executor), std::move(options))) {}

EurekaClient::~EurekaClient() { stop(); }

void EurekaClient::start() {
    std::lock_guard lock(core_->start_mu);
    if (core_->started) return;
    core_->started = true;
    auto self = core_;
    bool registers = !core_->options.instance.app.empty();
    bool fetches = core_->options.fetch_registry;
    core_->started_registration = registers;
    core_->loops_running = (registers ? 1 : 0) + (fetches ? 1 : 0);
    if (registers) asio::co_spawn(core_->strand, Core::heartbeat_loop(self), asio::detached);
    if (fetches) asio::co_spawn(core_->strand, Core::refresh_loop(self), asio::detached);
}

void EurekaClient::stop() {
    {
        std::lock_guard lock(core_->start_mu);
        if (!core_->started || core_->stopped) return;
        core_->stopped = true;
    }
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    auto self = core_;
    asio::co_spawn(
        core_->strand,
        [](std::shared_ptr<Core> core, std::shared_ptr<std::promise<void>> finished)
            -> asio::awaitable<void> {
            co_await Core::stop_work(core);
            finished->set_value();
        }(self, done),
        asio::detached);
    future.wait_for(core_->options.stop_timeout + core_->options.request_timeout +
                    milliseconds(100));
}

bool EurekaClient::wait_until_fetched(milliseconds timeout) {
    std::unique_lock lock(core_->mu);
    return core_->fetched_cv.wait_for(lock, timeout, [this] { return core_->fetched; });
}

std::optional<ServiceInstance> EurekaClient::choose(const std::string& service) {
    auto name = to_upper(service);
    // A request is about to go to what it returns: the round robin moves on.
    auto plan = core_->choice->plan(name, core_->up(name));
    if (plan.order.empty()) return std::nullopt;
    return std::move(plan.order.front());
}

asio::awaitable<Result<http::ClientResponse>> EurekaClient::call(std::string service,
                                                                 http::ClientRequest request,
                                                                 milliseconds timeout) {
    auto self = core_;  // the client may go away while this runs
    auto name = to_upper(service);
    auto up = self->up(name);
    if (up.empty()) {
        co_return Error{ErrorCode::kNotFound, fmt::format("no UP instance of {}", name)};
    }
    auto plan = self->choice->plan(name, std::move(up));
    if (plan.order.empty()) {
        co_return Error{ErrorCode::kUnavailable,
                        fmt::format("every instance of {} has an open circuit", name)};
    }
    CallLimits limits;
    limits.each = timeout;
    limits.total = timeout * static_cast<std::int64_t>(plan.order.size());
    FailureStatus is_failure = [](int status) { return status >= 500; };
    auto outcome = co_await call_service(self->pool, self->choice, name, std::move(plan),
                                         std::move(request), limits, is_failure, nullptr);
    if (outcome.response) co_return std::move(*outcome.response);  // maybe the last 5xx
    if (outcome.tried == 0) {
        co_return Error{ErrorCode::kUnavailable,
                        fmt::format("every instance of {} has an open circuit", name)};
    }
    std::string what = outcome.failures.empty() ? std::string("no answer")
                                                : outcome.failures.back();
    co_return Error{ErrorCode::kUnavailable,
                    fmt::format("no instance of {} answered: {}", name, what)};
}

Result<http::ClientResponse> EurekaClient::call_blocking(const std::string& service,
                                                         http::ClientRequest request,
                                                         milliseconds timeout) {
    auto done = std::make_shared<std::promise<Result<http::ClientResponse>>>();
    auto future = done->get_future();
    asio::co_spawn(
        core_->strand,
        [](EurekaClient* client, std::string name, http::ClientRequest req,
           milliseconds limit,
           std::shared_ptr<std::promise<Result<http::ClientResponse>>> result)
            -> asio::awaitable<void> {
            result->set_value(co_await client->call(std::move(name), std::move(req), limit));
        }(this, service, std::move(request), timeout, done),
        asio::detached);
    return future.get();
}

std::vector<ServiceInstance> EurekaClient::up_instances(const std::string& service) {
    std::lock_guard lock(core_->mu);
    auto it = core_->up_view.find(to_upper(service));
    return it == core_->up_view.end() ? std::vector<ServiceInstance>{} : it->second;
}

void EurekaClient::subscribe(std::function<void(const std::string& service)> on_change) {
    std::lock_guard lock(core_->mu);
    core_->listeners.push_back(std::move(on_change));
}

void EurekaClient::subscribe_changes(
    std::function<void(const registry::InstanceChange& change)> on_change) {
    std::lock_guard lock(core_->mu);
    core_->change_listeners.push_back(std::move(on_change));
}

EurekaClientStats EurekaClient::stats() const {
    const auto& c = core_->counters;
    EurekaClientStats s;
    s.registrations = c.registrations.load();
    s.registration_failures = c.registration_failures.load();
    s.heartbeats = c.heartbeats.load();
    s.heartbeats_not_found = c.heartbeats_not_found.load();
    s.heartbeat_failures = c.heartbeat_failures.load();
    s.full_fetches = c.full_fetches.load();
    s.delta_fetches = c.delta_fetches.load();
    s.hash_mismatches = c.hash_mismatches.load();
    s.fetch_failures = c.fetch_failures.load();
    return s;
}

BreakerState EurekaClient::breaker_state(const std::string& service,
                                         const std::string& instance_id) const {
    return core_->choice->state(service, instance_id);
}

InstanceChoice& EurekaClient::choice() { return *core_->choice; }

const std::string& EurekaClient::instance_id() const { return core_->registered_id; }

}  // namespace orquestra::discovery
