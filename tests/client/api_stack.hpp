#pragma once
// ApiStack: Orquestra's REST API booted in process, as a server would run it — a RegistryNode,
// a WorkflowNode (temporary home, SQLite, the DAG files given) that finds services through
// that registry, and ApiServer on an HttpServer on 127.0.0.1:0 — with one Admin user.
// The registry starts first, so that services can register before the DAGs load; the
// destructor stops everything in reverse order and removes the home directory.

#include "api/api.hpp"
#include "app/registry_directory.hpp"
#include "app/registry_node.hpp"
#include "app/workflow_node.hpp"
#include "core/error.hpp"
#include "http/io_pool.hpp"
#include "http/server.hpp"
#include "test_http.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace orquestra::testing {

class ApiStack {
  public:
    static constexpr const char* kUser = "admin";
    static constexpr const char* kPassword = "admin-secret";

    ApiStack();
    ~ApiStack();
    ApiStack(const ApiStack&) = delete;
    ApiStack& operator=(const ApiStack&) = delete;

    Result<void> start_registry();
    // Writes `dag_files` (file name, YAML text) to the DAG folder, then starts the workflow
    // node, creates the user and starts the API server.
    Result<void> start_api(const std::vector<std::pair<std::string, std::string>>& dag_files,
                           api::ApiOptions options = {});

    // Another user of the API, with `role` (after start_api).
    Result<void> create_user(const std::string& username, const std::string& password,
                             const std::string& role);
    // The API server (after start_api), e.g. to forget a deleted user's credentials.
    api::ApiServer& api() { return *api_; }
    app::WorkflowNode& node() { return *node_; }

    std::uint16_t registry_port() const { return registry_port_; }
    std::string registry_url() const;  // http://127.0.0.1:<port>/eureka
    std::uint16_t api_port() const { return api_port_; }
    std::string url() const;  // http://127.0.0.1:<port>, the base an ApiClient takes
    registry::InstanceRegistry& registry() { return registry_->registry(); }
    const std::filesystem::path& home() const { return home_; }

  private:
    std::filesystem::path home_;
    IoThreads registry_io_{1};
    IoThreads api_io_{2};
    std::unique_ptr<app::RegistryNode> registry_;
    std::unique_ptr<app::RegistryDirectory> directory_;
    http::IoPool pool_{1};
    std::unique_ptr<app::WorkflowNode> node_;
    std::unique_ptr<api::ApiServer> api_;
    std::unique_ptr<http::HttpServer> server_;
    std::uint16_t registry_port_ = 0;
    std::uint16_t api_port_ = 0;
};

}  // namespace orquestra::testing
