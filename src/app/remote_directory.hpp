#pragma once
// RemoteDirectory: where task runners find services when the registry is another process —
// the discovery client (EurekaClient) on a thread of its own, its view refreshed by delta
// every second. Used by `scheduler`, `dags test`, `tasks test` and the C++ library's
// Orchestrator. The constructor waits (at most 3 s) for the first fetch, so that tasks started
// right away find their services; a registry that does not answer is logged and tried again.
// The destructor stops the client and joins its thread.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <string>
#include <thread>

#include "discovery/eureka_client.hpp"

namespace orquestra::app {

struct CommonFlags;

class RemoteDirectory {
  public:
    // `registry_urls`: one or more base URLs, comma-separated; `registry_auth`: user:password
    // for the registries whose URL carries none (empty: none).
    RemoteDirectory(const std::string& registry_urls, const std::string& registry_auth);
    explicit RemoteDirectory(const CommonFlags& flags);
    ~RemoteDirectory();
    RemoteDirectory(const RemoteDirectory&) = delete;
    RemoteDirectory& operator=(const RemoteDirectory&) = delete;

    discovery::EurekaClient& operator*() { return *client_; }

  private:
    boost::asio::io_context io_{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::optional<discovery::EurekaClient> client_;
    std::thread thread_;
};

}  // namespace orquestra::app
