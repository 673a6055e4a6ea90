#include "app/remote_directory.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "app/commands.hpp"
#include "core/strings.hpp"

namespace orquestra::app {

RemoteDirectory::RemoteDirectory(const std::string& registry_urls, const std::string& registry_auth)
    : guard_(boost::asio::make_work_guard(io_)) {
    discovery::EurekaClientOptions options;
    for (auto url : split(registry_urls, ',')) {
        if (!url.empty()) options.registry_urls.emplace_back(url);
    }
    options.registry_auth = registry_auth;
    options.refresh_interval = std::chrono::milliseconds(1000);
    options.retries = 1;
    client_.emplace(io_.get_executor(), std::move(options));
    thread_ = std::thread([this] { io_.run(); });
    client_->start();
    // Until the first fetch answered one way or the other (bounded), so that tasks started
    // right away find their services.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    for (;;) {
        const auto stats = client_->stats();
        if (stats.full_fetches > 0) break;
        if (stats.fetch_failures > 0 || std::chrono::steady_clock::now() > deadline) {
            spdlog::warn("cannot read the registry at {} yet (trying again every second)",
                         http::url_without_credentials(registry_urls));
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

RemoteDirectory::RemoteDirectory(const CommonFlags& flags)
    : RemoteDirectory(flags.registry_url, flags.registry_auth) {}

RemoteDirectory::~RemoteDirectory() {
    client_->stop();
    client_.reset();
    guard_.reset();
    io_.stop();
    thread_.join();
}

}  // namespace orquestra::app
