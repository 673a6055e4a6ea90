#pragma once
// Supervisor: keeps declared services (service_file.hpp) running as child processes — of
// `standalone --services DIR` (and `--examples`) or of `orquestra services DIR`.
//
// start() starts every instance of every service, in declaration order, each on a free port of
// its own when the service takes one (kept across restarts), and waits for its health path to
// answer 2xx (bounded by the service's start_timeout) before the next: what starts after the
// supervisor (the scheduler) finds them running. When a child ends, its registry instances are
// cancelled at once through `on_gone` (the supervisor knows them: it handed the child its
// instance id and port), and it is started again after a backoff: the service's
// restart.initial, doubled at each exit in a row up to restart.max, from `initial` again once
// it has stayed up for restart.reset_after. stop() stops the children one at a time, the last
// started first: SIGTERM to its process group, SIGKILL after the service's stop_grace.
//
// Every child gets, on top of the service's environment: PORT (when it has one),
// ORQUESTRA_SERVICE, ORQUESTRA_INSTANCE_ID, ORQUESTRA_REGISTRY_URL and, when the registry asks
// for credentials, ORQUESTRA_REGISTRY_AUTH (never in argv).
//
// Threads: the children are owned by the supervisor's own thread (the kernel's parent-death
// signal follows the thread that spawned them), which also reaps and restarts them; start(),
// stop() and instances() from any one other thread. Restart times come from the injected Clock,
// so a test moves a FakeClock to let a restart happen. on_gone runs on the supervisor's thread.

#include "app/service_file.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "registry/instance_registry.hpp"

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace orquestra::app {

struct SupervisorOptions {
    std::string registry_url;                  // {{ registry }}, $ORQUESTRA_REGISTRY_URL
    std::optional<std::string> registry_auth;  // user:password, $ORQUESTRA_REGISTRY_AUTH
    std::string host = "127.0.0.1";            // where the children listen
    std::chrono::milliseconds tick{10};        // how often the thread looks for ended children
};

struct SupervisedInstance {
    std::string service;
    int index = 1;
    std::string instance_id;  // "<host>:<service>:<index>"
    std::uint16_t port = 0;   // 0: none
    pid_t pid = 0;            // 0 while it waits to be started again
    int restarts = 0;
    int failures_in_row = 0;
    Millis started_at = 0;
    Millis restart_at = 0;  // when waiting
    std::string last_exit;  // "killed by signal 9"
};

class Supervisor {
public:
    // Called once a child is gone (it ended, or was stopped), with the service and the
    // instance as they were; it should cancel the instance in the registry.
    using GoneHook = std::function<void(const ServiceDecl&, const SupervisedInstance&)>;

    Supervisor(std::vector<ServiceDecl> services, SupervisorOptions options, const Clock& clock,
               GoneHook on_gone);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Blocks until every instance started (and answered on its health path), or the first
    // failure, after which the ones started are stopped again.
    Result<void> start();
    void stop();

    std::vector<SupervisedInstance> instances() const;
    const std::vector<ServiceDecl>& services() const { return services_; }

private:
    void run(std::stop_token stop, std::promise<Result<void>> started);
    Result<void> start_all();
    Result<pid_t> spawn(SupervisedInstance& instance);
    Result<void> wait_until_healthy(std::size_t i);
    void handle_exits();
    void restart_due();
    void stop_all();

    std::vector<ServiceDecl> services_;
    SupervisorOptions options_;
    const Clock& clock_;
    GoneHook on_gone_;
    mutable std::mutex mu_;  // guards instances_ against instances()
    std::vector<SupervisedInstance> instances_;
    std::vector<std::size_t> service_of_;  // instances_[i]'s service
    std::condition_variable_any wake_;
    std::jthread thread_;
    struct Children;
    std::unique_ptr<Children> children_;  // touched by the thread only
};

// on_gone for a supervisor next to an in-process registry: cancels the instance id the child
// was given in its service's app and, when it had a port, every instance registered at that
// port on `host` (a child that chose its own id).
namespace registry_hooks {
Supervisor::GoneHook cancel_in(registry::InstanceRegistry& registry, std::string host);
// The same through a registry's REST API (`orquestra services`): DELETE
// <registry_url>/apps/<APP>/<id>, and a look at the app for instances at the child's port.
Supervisor::GoneHook cancel_over_http(std::string registry_url, std::optional<std::string> auth,
                                      std::string host);
}  // namespace registry_hooks

}  // namespace orquestra::app
