#include "api_stack.hpp"

#include "api/users.hpp"

#include <boost/asio/post.hpp>
#include <unistd.h>

#include <fstream>
#include <future>
#include <random>

namespace orquestra::testing {

namespace fs = std::filesystem;

ApiStack::ApiStack() {
    std::random_device rd;
    home_ = fs::temp_directory_path() /
            ("orquestra-client-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
}

ApiStack::~ApiStack() {
    // The HTTP server stops before the API, the API before the engine, the engine before the
    // registry it reads services from.
    if (server_) {
        server_->stop();
        std::promise<void> closed;
        boost::asio::post(api_io_.io(), [&closed] { closed.set_value(); });
        closed.get_future().wait();
    }
    api_io_.stop();
    server_.reset();
    api_.reset();
    pool_.stop();
    node_.reset();
    if (registry_) registry_->stop();
    registry_io_.stop();
    std::error_code ec;
    fs::remove_all(home_, ec);
}

Result<void> ApiStack::start_registry() {
    registry_ = std::make_unique<app::RegistryNode>(registry_io_.io(), SystemClock::instance(),
                                                    app::RegistryNodeOptions{});
    auto port = registry_->start();
    if (!port) return port.error();
    registry_port_ = *port;
    directory_ = std::make_unique<app::RegistryDirectory>(registry_->registry());
    return {};
}

Result<void> ApiStack::start_api(
    const std::vector<std::pair<std::string, std::string>>& dag_files, api::ApiOptions options) {
    if (!registry_) return Error{ErrorCode::kInternal, "start_registry() first"};
    const fs::path dags = home_ / "dags";
    fs::create_directories(dags);
    for (const auto& [name, text] : dag_files) std::ofstream(dags / name) << text;

    pool_.start();
    app::HomePaths paths{home_, dags, home_ / "orquestra.db", home_ / "logs"};
    node_ = std::make_unique<app::WorkflowNode>(paths, *directory_, pool_, SystemClock::instance(),
                                                scheduler::EngineOptions{});
    if (auto started = node_->start(); !started) return started.error();
    // The store belongs to the engine's loop thread.
    auto created = node_->call([this] {
        return api::create_user(
            node_->store(), api::UserSpec{kUser, kPassword, "Admin", "admin@example.com", "", ""});
    });
    if (!created) return created.error();

    if (options.choice == nullptr) options.choice = &node_->choice();
    if (options.secret_keys == nullptr) options.secret_keys = &node_->secret_keys();
    if (options.readers.empty()) {
        // As standalone runs it: reads on read-only connections of their own.
        auto readers = node_->open_readers(2);
        if (!readers) return readers.error();
        options.readers = *readers;
    }
    api_ = std::make_unique<api::ApiServer>(node_->engine(), node_->store(), node_->loop(),
                                            options);
    server_ =
        std::make_unique<http::HttpServer>(api_io_.io(), http::ServerOptions{}, api_->handler());
    auto port = server_->start();
    if (!port) return port.error();
    api_port_ = *port;
    return {};
}

std::string ApiStack::registry_url() const {
    return "http://127.0.0.1:" + std::to_string(registry_port_) + "/eureka";
}

std::string ApiStack::url() const { return "http://127.0.0.1:" + std::to_string(api_port_); }

Result<void> ApiStack::create_user(const std::string& username, const std::string& password,
                                   const std::string& role) {
    return node_->call([&] {
        return api::create_user(node_->store(), api::UserSpec{username, password, role,
                                                              username + "@example.com", "", ""});
    });
}

}  // namespace orquestra::testing
