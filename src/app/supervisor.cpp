#include "app/supervisor.hpp"

#include "app/child_processes.hpp"
#include "core/strings.hpp"
#include "http/client.hpp"
#include "registry/codec.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace orquestra::app {

namespace {

// A port nobody listens on now: bound to port 0, read back, released. The child binds it a
// moment later; the same port is kept across its restarts.
Result<std::uint16_t> free_port(const std::string& host) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error{ErrorCode::kInternal, "socket() failed"};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        return Error{ErrorCode::kUnavailable, fmt::format("no free port on {}", host)};
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::string label(const SupervisedInstance& i) { return fmt::format("{} #{}", i.service, i.index); }

}  // namespace

struct Supervisor::Children {
    ChildProcesses processes;
};

Supervisor::Supervisor(std::vector<ServiceDecl> services, SupervisorOptions options,
                       const Clock& clock, GoneHook on_gone)
    : services_(std::move(services)),
      options_(std::move(options)),
      clock_(clock),
      on_gone_(std::move(on_gone)) {
    for (std::size_t s = 0; s < services_.size(); ++s) {
        for (int i = 1; i <= services_[s].instances; ++i) {
            SupervisedInstance instance;
            instance.service = services_[s].name;
            instance.index = i;
            instance.instance_id = fmt::format("{}:{}:{}", options_.host, services_[s].name, i);
            instances_.push_back(std::move(instance));
            service_of_.push_back(s);
        }
    }
}

Supervisor::~Supervisor() { stop(); }

Result<void> Supervisor::start() {
    if (thread_.joinable()) return Error{ErrorCode::kInternal, "the supervisor already started"};
    std::promise<Result<void>> started;
    auto result = started.get_future();
    thread_ = std::jthread([this, p = std::move(started)](std::stop_token stop) mutable {
        run(stop, std::move(p));
    });
    auto r = result.get();
    if (!r) stop();
    return r;
}

void Supervisor::stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    wake_.notify_all();
    thread_.join();
}

std::vector<SupervisedInstance> Supervisor::instances() const {
    std::lock_guard lock(mu_);
    return instances_;
}

void Supervisor::run(std::stop_token stop, std::promise<Result<void>> started) {
    children_ = std::make_unique<Children>();
    auto r = start_all();
    const bool ok = r.has_value();
    started.set_value(std::move(r));
    if (ok) {
        std::mutex sleep_mu;
        std::unique_lock sleep_lock(sleep_mu);
        while (!stop.stop_requested()) {
            wake_.wait_for(sleep_lock, stop, options_.tick, [] { return false; });
            if (stop.stop_requested()) break;
            handle_exits();
            restart_due();
        }
    }
    stop_all();
    children_.reset();
}

Result<pid_t> Supervisor::spawn(SupervisedInstance& instance) {
    const ServiceDecl& service = services_[service_of_[static_cast<std::size_t>(&instance - instances_.data())]];
    if (service.port && instance.port == 0) {
        auto port = free_port(options_.host);
        if (!port) return port.error();
        std::lock_guard lock(mu_);
        instance.port = *port;
    }
    const InstanceValues values{service.name, instance.index, instance.instance_id, instance.port,
                                options_.registry_url};
    executor::SpawnRequest request;
    for (const auto& arg : service.argv) {
        request.argv.push_back(service.shell ? arg : expand_templates(arg, values));
    }
    if (service.shell) {
        request.program = "/bin/sh";
    } else if (request.argv.front().find('/') != std::string::npos &&
               request.argv.front().front() != '/') {
        request.argv.front() = (service.folder / request.argv.front()).lexically_normal().string();
    }
    for (const auto& [name, value] : service.environment) {
        request.env.emplace_back(name, expand_templates(value, values));
    }
    if (instance.port != 0) request.env.emplace_back("PORT", std::to_string(instance.port));
    request.env.emplace_back("ORQUESTRA_SERVICE", service.name);
    request.env.emplace_back("ORQUESTRA_INSTANCE_ID", instance.instance_id);
    request.env.emplace_back("ORQUESTRA_REGISTRY_URL", options_.registry_url);
    if (options_.registry_auth) {
        request.env.emplace_back("ORQUESTRA_REGISTRY_AUTH", *options_.registry_auth);
    }
    auto pid = children_->processes.start(label(instance), std::move(request));
    if (!pid) return pid.error();
    std::lock_guard lock(mu_);
    instance.pid = *pid;
    instance.started_at = clock_.now_ms();
    instance.restart_at = 0;
    return pid;
}

Result<void> Supervisor::wait_until_healthy(std::size_t i) {
    const ServiceDecl& service = services_[service_of_[i]];
    SupervisedInstance& instance = instances_[i];
    if (service.health_path.empty() || instance.port == 0) return {};
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(service.start_timeout_ms);
    std::string last = "no answer";
    for (;;) {
        http::ClientRequest request;
        request.target = service.health_path;
        auto answer = http::fetch({options_.host, instance.port}, request,
                                  std::chrono::milliseconds(1000), 64u << 10);
        if (answer && answer->status >= 200 && answer->status < 300) return {};
        last = answer ? fmt::format("HTTP {}", answer->status) : answer.error().message;
        for (const auto& e : children_->processes.reap()) {
            return Error{ErrorCode::kUnavailable,
                         fmt::format("{} (pid {}) {} at start", e.name, e.pid, e.how)};
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return Error{ErrorCode::kTimeout,
                         fmt::format("{} did not answer 2xx on {} within {} ms ({})",
                                     label(instance), service.health_path,
                                     service.start_timeout_ms, last)};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
}

Result<void> Supervisor::start_all() {
    for (std::size_t i = 0; i < instances_.size(); ++i) {
        auto pid = spawn(instances_[i]);
        if (!pid) return pid.error();
        spdlog::info("started {} (pid {}){}", label(instances_[i]), *pid,
                     instances_[i].port != 0 ? fmt::format(" on port {}", instances_[i].port) : "");
        if (auto healthy = wait_until_healthy(i); !healthy) return healthy.error();
    }
    return {};
}

void Supervisor::handle_exits() {
    for (const auto& exit : children_->processes.reap()) {
        for (std::size_t i = 0; i < instances_.size(); ++i) {
            SupervisedInstance& instance = instances_[i];
            if (instance.pid != exit.pid) continue;
            const ServiceDecl& service = services_[service_of_[i]];
            const Millis now = clock_.now_ms();
            SupervisedInstance gone;
            {
                std::lock_guard lock(mu_);
                if (now - instance.started_at >= service.restart.reset_after_ms) {
                    instance.failures_in_row = 0;
                }
                ++instance.failures_in_row;
                instance.last_exit = exit.how;
                gone = instance;
                instance.pid = 0;
                instance.restart_at =
                    now + restart_delay(service.restart, instance.failures_in_row);
            }
            if (on_gone_) on_gone_(service, gone);
            spdlog::warn("{} (pid {}) {}; its instance {} is cancelled; restarting in {} ms",
                         exit.name, exit.pid, exit.how, instance.instance_id,
                         instance.restart_at - now);
        }
    }
}

void Supervisor::restart_due() {
    const Millis now = clock_.now_ms();
    for (std::size_t i = 0; i < instances_.size(); ++i) {
        SupervisedInstance& instance = instances_[i];
        if (instance.pid != 0 || instance.restart_at > now) continue;
        auto pid = spawn(instance);
        std::lock_guard lock(mu_);
        if (pid) {
            ++instance.restarts;
            spdlog::info("restarted {} (pid {}, restart {})", label(instance), *pid,
                         instance.restarts);
        } else {
            const ServiceDecl& service = services_[service_of_[i]];
            ++instance.failures_in_row;
            instance.last_exit = pid.error().message;
            instance.restart_at = now + restart_delay(service.restart, instance.failures_in_row);
            spdlog::warn("{}; trying again in {} ms", pid.error().message,
                         instance.restart_at - now);
        }
    }
}

void Supervisor::stop_all() {
    for (std::size_t i = instances_.size(); i-- > 0;) {
        SupervisedInstance& instance = instances_[i];
        if (instance.pid == 0) continue;
        const ServiceDecl& service = services_[service_of_[i]];
        auto exit = children_->processes.stop(instance.pid,
                                              std::chrono::milliseconds(service.stop_grace_ms));
        SupervisedInstance gone;
        {
            std::lock_guard lock(mu_);
            if (exit) instance.last_exit = exit->how;
            gone = instance;
            instance.pid = 0;
        }
        if (exit) spdlog::info("{} (pid {}) {}", exit->name, exit->pid, exit->how);
        if (on_gone_) on_gone_(service, gone);
    }
}

namespace registry_hooks {

Supervisor::GoneHook cancel_in(registry::InstanceRegistry& registry, std::string host) {
    return [&registry, host](const ServiceDecl& service, const SupervisedInstance& instance) {
        const std::string app = to_upper(service.name);
        std::vector<std::pair<std::string, std::string>> doomed{{app, instance.instance_id}};
        if (instance.port != 0) {
            for (const auto& a : registry.all_applications().applications) {
                for (const auto& i : a.instances) {
                    if (i.port.port == instance.port && (i.ip_addr == host || i.host_name == host)) {
                        doomed.emplace_back(a.name, i.instance_id);
                    }
                }
            }
        }
        for (const auto& [a, id] : doomed) {
            if (registry.cancel(a, id)) spdlog::info("cancelled instance {} of {}", id, a);
        }
    };
}

Supervisor::GoneHook cancel_over_http(std::string registry_url, std::optional<std::string> auth,
                                      std::string host) {
    return [registry_url, auth, host](const ServiceDecl& service,
                                      const SupervisedInstance& instance) {
        // The first URL of a fail-over list.
        const std::string base = registry_url.substr(0, registry_url.find(','));
        auto parsed = http::parse_http_url(base);
        if (!parsed) {
            spdlog::warn("cannot cancel {}: {}", instance.instance_id, parsed.error().message);
            return;
        }
        auto& [endpoint, prefix] = *parsed;
        while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
        std::vector<std::pair<std::string, std::string>> headers{{"Accept", "application/json"}};
        if (auth) headers.emplace_back("Authorization", "Basic " + base64_encode(*auth));
        const std::string app = to_upper(service.name);
        std::vector<std::string> doomed{instance.instance_id};
        if (instance.port != 0) {
            http::ClientRequest get;
            get.target = prefix + "/apps/" + app;
            get.headers = headers;
            auto answer = http::fetch(endpoint, get, std::chrono::milliseconds(2000), 4u << 20);
            if (answer && answer->status == 200) {
                auto decoded = registry::parse_application_json(answer->body);
                if (decoded) {
                    for (const auto& i : decoded->instances) {
                        if (i.port.port == instance.port &&
                            (i.ip_addr == host || i.host_name == host)) {
                            doomed.push_back(i.instance_id);
                        }
                    }
                }
            }
        }
        for (const auto& id : doomed) {
            http::ClientRequest del;
            del.method = "DELETE";
            del.target = prefix + "/apps/" + app + "/" + percent_encode(id);
            del.headers = headers;
            auto answer = http::fetch(endpoint, del, std::chrono::milliseconds(2000), 64u << 10);
            if (answer && answer->status == 200) {
                spdlog::info("cancelled instance {} of {}", id, app);
            }
        }
    };
}

}  // namespace registry_hooks

}  // namespace orquestra::app
