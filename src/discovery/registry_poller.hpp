#pragma once
// RegistryPoller: a cached view of a remote registry's UP instances for processes that do not
// hold the registry themselves (`orquestra scheduler`, `dags test`). A background thread
// fetches the full registry every `interval` and tells subscribers which services changed;
// up_instances() answers from the cache and never blocks on the network.

#include "executor/task_runner.hpp"
#include "http/client.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace orquestra::discovery {

class RegistryPoller final : public executor::ServiceDirectory {
public:
    // `base_url` like "http://127.0.0.1:8761/eureka" (…/v2 also works).
    RegistryPoller(std::string base_url, std::chrono::milliseconds interval);
    ~RegistryPoller() override;

    // Fetches once now; kUnavailable when the registry cannot be read.
    Result<void> refresh();
    void start();
    void stop();

    std::vector<executor::ServiceInstance> up_instances(const std::string& service) override;
    void subscribe(std::function<void(const std::string& service)> on_change) override;

private:
    void loop();

    std::string base_url_;
    std::chrono::milliseconds interval_;
    std::mutex mu_;
    std::map<std::string, std::vector<executor::ServiceInstance>> view_;  // upper-case app
    std::vector<std::function<void(const std::string&)>> listeners_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace orquestra::discovery
