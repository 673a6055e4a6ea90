// HttpTaskRunner against real loopback sockets: failover within a try, per-call time limits.
#include "executor/http_runner.hpp"

#include <gtest/gtest.h>

#include "http/io_pool.hpp"
#include "http/server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

namespace orquestra::executor {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using discovery::ServiceInstance;

// The instances of every service, in a fixed order.
class FixedDirectory final : public discovery::ServiceDirectory {
public:
    explicit FixedDirectory(std::vector<ServiceInstance> instances)
        : instances_(std::move(instances)) {}
    std::vector<ServiceInstance> up_instances(const std::string&) override { return instances_; }
    void subscribe(std::function<void(const std::string&)>) override {}

private:
    std::vector<ServiceInstance> instances_;
};

// A socket that listens and never accepts: the kernel completes the connection, the request is
// sent, and no answer ever comes, as with a hung service.
class SilentListener {
public:
    SilentListener() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

private:
    asio::io_context io_;
    tcp::acceptor acceptor_;
};

// A healthy service on its own thread that records the targets it was asked for.
class HealthyService {
public:
    HealthyService()
        : guard_(io_.get_executor()),
          server_(io_, http::ServerOptions{},
                  http::SyncHandler([this](http::Request& req, http::Response& res) {
                      {
                          std::lock_guard lock(mu_);
                          targets_.emplace_back(req.target());
                      }
                      res.set(200, "application/json", R"({"ok":true})");
                  })) {
        auto port = server_.start();
        EXPECT_TRUE(port) << port.error().message;
        thread_ = std::thread([this] { io_.run(); });
    }
    ~HealthyService() {
        server_.stop();
        guard_.reset();
        io_.stop();
        thread_.join();
    }
    std::uint16_t port() const { return server_.port(); }
    std::vector<std::string> targets() {
        std::lock_guard lock(mu_);
        return targets_;
    }

private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_;
    http::HttpServer server_;
    std::mutex mu_;
    std::vector<std::string> targets_;
    std::thread thread_;
};

Attempt http_attempt(std::chrono::milliseconds timeout,
                     std::optional<std::chrono::milliseconds> attempt_timeout = std::nullopt) {
    Attempt a;
    a.dag_id = "d";
    a.run_id = "r";
    a.task_id = "t";
    a.timeout = timeout;
    RenderedHttp h;
    h.service = "svc";
    h.path = "/x";
    h.attempt_timeout = attempt_timeout;
    a.work = std::move(h);
    return a;
}

AttemptResult run(HttpTaskRunner& runner, Attempt attempt) {
    std::promise<AttemptResult> done;
    runner.run(std::move(attempt), [&done](AttemptResult r) { done.set_value(std::move(r)); });
    auto future = done.get_future();
    EXPECT_EQ(future.wait_for(30s), std::future_status::ready);
    return future.get();
}

bool has_line(const AttemptResult& r, std::string_view text) {
    return std::any_of(r.log.begin(), r.log.end(), [&](const std::string& line) {
        return line.find(text) != std::string::npos;
    });
}

std::string joined(const AttemptResult& r) {
    std::string out;
    for (const auto& line : r.log) out += line + "\n";
    return out;
}

class HttpRunnerTest : public ::testing::Test {
protected:
    void SetUp() override { pool_.start(); }
    void TearDown() override { pool_.stop(); }
    http::IoPool pool_{1};
    FakeClock clock_;
    discovery::InstanceChoice choice_{[this] {
        discovery::ChoiceOptions o;
        o.clock = &clock_;
        return o;
    }()};
};

// A hung instance used to take the whole try's timeout, so the healthy one was never tried.
TEST_F(HttpRunnerTest, AHungInstanceGetsItsShareAndTheHealthyOneAnswers) {
    SilentListener hung;
    HealthyService healthy;
    FixedDirectory directory({{"hung", "127.0.0.1", hung.port(), ""},
                              {"healthy", "127.0.0.1", healthy.port(), ""}});
    HttpTaskRunner runner(pool_, directory, choice_);
    auto started = std::chrono::steady_clock::now();
    AttemptResult r = run(runner, http_attempt(3'000ms));
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(r.success) << r.error << "\n" << joined(r);
    EXPECT_EQ(r.served_by, "healthy");
    EXPECT_EQ(healthy.targets(), std::vector<std::string>{"/x"});
    // Half the try for each of the two instances.
    EXPECT_TRUE(has_line(r, "request: GET http://127.0.0.1:" + std::to_string(hung.port()) +
                                "/x (instance hung, time limit 1500 ms)"))
        << joined(r);
    EXPECT_TRUE(has_line(r, "instance hung failed after")) << joined(r);
    EXPECT_TRUE(has_line(r, "timed out after 1500 ms without an answer; trying another instance"))
        << joined(r);
    EXPECT_TRUE(has_line(r, "answered by instance healthy")) << joined(r);
    EXPECT_GE(took, 1'400ms);
    EXPECT_LT(took, 3'000ms);
}

TEST_F(HttpRunnerTest, AttemptTimeoutSetsEachCallsLimit) {
    SilentListener hung;
    HealthyService healthy;
    FixedDirectory directory({{"hung", "127.0.0.1", hung.port(), ""},
                              {"healthy", "127.0.0.1", healthy.port(), ""}});
    HttpTaskRunner runner(pool_, directory, choice_);
    auto started = std::chrono::steady_clock::now();
    AttemptResult r = run(runner, http_attempt(20'000ms, 200ms));
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(r.success) << r.error << "\n" << joined(r);
    EXPECT_EQ(r.served_by, "healthy");
    EXPECT_TRUE(has_line(r, "timed out after 200 ms without an answer")) << joined(r);
    EXPECT_LT(took, 5'000ms);
}

// When every instance fails, the error says what happened at each of them.
TEST_F(HttpRunnerTest, TheErrorSaysWhatHappenedAtEachInstance) {
    SilentListener hung;
    std::uint16_t closed_port = 0;
    {
        SilentListener gone;  // bound, then closed: connecting is refused
        closed_port = gone.port();
    }
    FixedDirectory directory({{"hung", "127.0.0.1", hung.port(), ""},
                              {"gone", "127.0.0.1", closed_port, ""}});
    HttpTaskRunner runner(pool_, directory, choice_);
    AttemptResult r = run(runner, http_attempt(10'000ms, 300ms));
    ASSERT_FALSE(r.success);
    EXPECT_NE(r.error.find("all 2 instances failed: instance hung: timed out after 300 ms without "
                           "an answer; instance gone: "),
              std::string::npos)
        << r.error;
    EXPECT_NE(r.error.find("refused"), std::string::npos) << r.error;
    // The last instance is not followed by "trying another instance".
    EXPECT_TRUE(has_line(r, "instance gone failed after")) << joined(r);
    EXPECT_EQ(joined(r).find("refused; trying another"), std::string::npos) << joined(r);
}

// A target with a control character never reaches the wire, whatever built it.
TEST_F(HttpRunnerTest, ATargetWithControlCharactersIsNotSent) {
    HealthyService healthy;
    FixedDirectory directory({{"healthy", "127.0.0.1", healthy.port(), ""}});
    HttpTaskRunner runner(pool_, directory, choice_);
    Attempt a = http_attempt(5'000ms);
    std::get<RenderedHttp>(a.work).path = "/x HTTP/1.1\r\nHost: y\r\n\r\nGET /admin";
    AttemptResult r = run(runner, std::move(a));
    EXPECT_FALSE(r.success);
    EXPECT_NE(r.error.find("values must be percent-encoded"), std::string::npos) << r.error;
    EXPECT_TRUE(healthy.targets().empty());
}

}  // namespace
}  // namespace orquestra::executor
