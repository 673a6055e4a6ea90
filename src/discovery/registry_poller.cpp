#include "discovery/registry_poller.hpp"

#include "core/strings.hpp"
#include "registry/codec.hpp"

#include <spdlog/spdlog.h>

namespace orquestra::discovery {

RegistryPoller::RegistryPoller(std::string base_url, std::chrono::milliseconds interval)
    : base_url_(std::move(base_url)), interval_(interval) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

RegistryPoller::~RegistryPoller() { stop(); }

Result<void> RegistryPoller::refresh() {
    auto url = http::parse_http_url(base_url_ + "/apps/");
    if (!url) return url.error();
    http::ClientRequest req;
    req.target = url->second;
    req.headers.emplace_back("Accept", "application/json");
    auto res = http::fetch(url->first, std::move(req), std::chrono::milliseconds(5000));
    if (!res) return Error{ErrorCode::kUnavailable, "registry: " + res.error().message};
    if (res->status != 200) {
        return Error{ErrorCode::kUnavailable,
                     "registry answered HTTP " + std::to_string(res->status)};
    }
    auto apps = registry::parse_applications_json(res->body);
    if (!apps) return Error{ErrorCode::kUnavailable, "registry: " + apps.error().message};
    std::map<std::string, std::vector<executor::ServiceInstance>> fresh;
    for (const auto& app : apps->applications) {
        auto& list = fresh[to_upper(app.name)];
        for (const auto& info : app.instances) {
            if (info.status != registry::InstanceStatus::kUp) continue;
            executor::ServiceInstance s;
            s.id = info.id();
            s.host = info.ip_addr.empty() ? info.host_name : info.ip_addr;
            s.port = static_cast<std::uint16_t>(info.port.port);
            if (const auto* zone = info.find_metadata("zone")) s.zone = *zone;
            list.push_back(std::move(s));
        }
    }
    std::vector<std::string> changed;
    std::vector<std::function<void(const std::string&)>> listeners;
    {
        std::lock_guard lock(mu_);
        for (const auto& [name, list] : fresh) {
            auto it = view_.find(name);
            if (it == view_.end() || it->second.size() != list.size()) changed.push_back(name);
        }
        for (const auto& [name, list] : view_) {
            if (!fresh.contains(name)) changed.push_back(name);
        }
        view_ = std::move(fresh);
        listeners = listeners_;
    }
    for (const auto& name : changed) {
        for (const auto& l : listeners) l(name);
    }
    return {};
}

void RegistryPoller::start() {
    thread_ = std::thread([this] { loop(); });
}

void RegistryPoller::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void RegistryPoller::loop() {
    for (;;) {
        {
            std::unique_lock lock(mu_);
            if (cv_.wait_for(lock, interval_, [this] { return stopping_; })) return;
        }
        if (auto r = refresh(); !r) spdlog::warn("{}", r.error().message);
    }
}

std::vector<executor::ServiceInstance> RegistryPoller::up_instances(const std::string& service) {
    std::lock_guard lock(mu_);
    auto it = view_.find(to_upper(service));
    return it == view_.end() ? std::vector<executor::ServiceInstance>{} : it->second;
}

void RegistryPoller::subscribe(std::function<void(const std::string& service)> on_change) {
    std::lock_guard lock(mu_);
    listeners_.push_back(std::move(on_change));
}

}  // namespace orquestra::discovery
