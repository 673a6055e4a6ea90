// ServiceRegistration: discovery::EurekaClient (registration, heartbeats, re-registration,
// cancel on stop) with no registry fetch, on an io_context and a thread of its own.

#include "orquestra/service_registration.hpp"

#include <fmt/format.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <stdexcept>
#include <thread>

#include "core/strings.hpp"
#include "discovery/eureka_client.hpp"
#include "registry/model.hpp"

namespace orquestra {

struct ServiceRegistration::State {
    explicit State(RegistrationOptions o) : guard(boost::asio::make_work_guard(io)) {
        if (o.app_name.empty())
            throw std::invalid_argument("ServiceRegistration: app_name is empty");
        if (o.port == 0) throw std::invalid_argument("ServiceRegistration: port is 0");
        if (o.host.empty()) throw std::invalid_argument("ServiceRegistration: host is empty");
        if (!o.health_path.empty() && o.health_path.front() != '/') {
            throw std::invalid_argument("ServiceRegistration: health_path must start with '/'");
        }
        discovery::EurekaClientOptions options;
        for (auto url : split(o.registry_url, ',')) {
            if (!url.empty()) options.registry_urls.emplace_back(url);
        }
        if (options.registry_urls.empty()) {
            throw std::invalid_argument("ServiceRegistration: registry_url is empty");
        }
        options.registry_auth = o.registry_auth;
        options.fetch_registry = false;
        options.heartbeat_interval = o.heartbeat_interval;
        options.lease_duration = o.lease_duration;
        options.zone = o.zone;
        registry::InstanceInfo& i = options.instance;
        i.app = to_upper(o.app_name);
        i.instance_id = o.instance_id;
        i.host_name = o.host;
        i.ip_addr = o.host;
        i.port = {o.port, true};
        i.status = registry::InstanceStatus::kUp;
        i.vip_address = o.app_name;
        const std::string base = fmt::format("http://{}:{}", o.host, o.port);
        i.home_page_url = base + "/";
        if (!o.health_path.empty()) {
            i.status_page_url = base + o.health_path;
            i.health_check_url = base + o.health_path;
        }
        for (const auto& [k, v] : o.metadata) i.set_metadata(k, v);
        client.emplace(io.get_executor(), std::move(options));
        thread = std::thread([this] { io.run(); });
    }
    ~State() {
        client->stop();
        client.reset();
        guard.reset();
        io.stop();
        thread.join();
    }

    boost::asio::io_context io{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard;
    std::optional<discovery::EurekaClient> client;
    std::thread thread;
};

ServiceRegistration::ServiceRegistration(RegistrationOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}

ServiceRegistration::~ServiceRegistration() = default;

void ServiceRegistration::start() { state_->client->start(); }

void ServiceRegistration::stop() { state_->client->stop(); }

bool ServiceRegistration::wait_registered(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (state_->client->stats().registrations == 0) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

const std::string& ServiceRegistration::instance_id() const {
    return state_->client->instance_id();
}

}  // namespace orquestra
