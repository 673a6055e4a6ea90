// A database that vanishes under a running node: nothing is acknowledged that was not stored.
// Triggers answer 503 with the reason and health turns unhealthy, instead of 200 for runs
// that a restart would not find.

#include "api/api.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "api/users.hpp"
#include "app/registry_directory.hpp"
#include "app/registry_node.hpp"
#include "app/workflow_node.hpp"
#include "core/strings.hpp"
#include "test_http.hpp"
#include "wait.hpp"

namespace orquestra::api {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class DatabaseFaultTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() /
                ("orquestra-dbfault-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
        fs::create_directories(home_ / "dags");
        std::ofstream(home_ / "dags" / "quick.yaml")
            << "dag_id: quick\nis_paused_upon_creation: false\ntasks:\n  a: {command: \"true\"}\n";
        registry_ = std::make_unique<app::RegistryNode>(registry_io_.io(), SystemClock::instance(),
                                                        app::RegistryNodeOptions{});
        ASSERT_TRUE(registry_->start());
        directory_ = std::make_unique<app::RegistryDirectory>(registry_->registry());
        pool_.start();
        app::HomePaths paths{home_, home_ / "dags", home_ / "orquestra.db", home_ / "logs"};
        node_ = std::make_unique<app::WorkflowNode>(paths, *directory_, pool_,
                                                    SystemClock::instance(),
                                                    scheduler::EngineOptions{});
        auto started = node_->start();
        ASSERT_TRUE(started) << started.error().message;
        ASSERT_TRUE(create_user(node_->store(),
                                UserSpec{"admin", "admin-secret", "Admin", "a@example.com", "", ""}));
        ApiOptions options;
        options.heartbeat_interval = 50ms;
        api_ = std::make_unique<ApiServer>(node_->engine(), node_->store(), node_->loop(), options);
        server_ = std::make_unique<http::HttpServer>(api_io_.io(), http::ServerOptions{},
                                                     api_->handler());
        auto port = server_->start();
        ASSERT_TRUE(port) << port.error().message;
        port_ = *port;
    }
    void TearDown() override {
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
    testing::Reply call(const std::string& method, const std::string& target,
                        const std::string& body = "") {
        std::vector<std::pair<std::string, std::string>> headers = {
            {"Authorization", "Basic " + base64_encode("admin:admin-secret")}};
        if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
        return testing::request(port_, method, "/api/v1" + target, body, headers);
    }
    bool healthy() {
        auto r = testing::request(port_, "GET", "/api/v1/health", "", {});
        return r.body.find(R"("metadatabase":{"status":"healthy"})") != std::string::npos;
    }

    fs::path home_;
    testing::IoThreads registry_io_{1};
    testing::IoThreads api_io_{1};
    std::unique_ptr<app::RegistryNode> registry_;
    std::unique_ptr<app::RegistryDirectory> directory_;
    http::IoPool pool_{1};
    std::unique_ptr<app::WorkflowNode> node_;
    std::unique_ptr<ApiServer> api_;
    std::unique_ptr<http::HttpServer> server_;
    std::uint16_t port_ = 0;
};

TEST_F(DatabaseFaultTest, DeletedDatabaseFailsWritesWith503AndTurnsHealthUnhealthy) {
    ASSERT_TRUE(testing::eventually([&] { return healthy(); }));
    auto before = call("POST", "/dags/quick/dagRuns", R"({"dag_run_id":"before"})");
    ASSERT_EQ(before.status, 200) << before.body;

    for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::remove(home_ / (std::string("orquestra.db") + suffix));
    }
    auto after = call("POST", "/dags/quick/dagRuns", R"({"dag_run_id":"after"})");
    EXPECT_EQ(after.status, 503) << after.body;
    EXPECT_NE(after.body.find("deleted or replaced"), std::string::npos) << after.body;
    EXPECT_TRUE(testing::eventually([&] { return !healthy(); }));
}

}  // namespace
}  // namespace orquestra::api
