// Several processes on one PostgreSQL database: a webserver takes 1,000 seed-workflow triggers,
// two schedulers run them, one of them is killed with SIGKILL midway. Every run ends, none is
// lost, and no try calls a service twice: the example services count the calls of every
// (run, task, try) they receive.
#include "child_process.hpp"
#include "core/strings.hpp"
#include "example_processes.hpp"
#include "test_http.hpp"
#include "wait.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <tuple>

namespace orquestra {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::eventually;

constexpr int kRuns = 1000;
constexpr const char* kDag = "servico_usuarios_mensagens";

std::optional<std::string> postgres_url() {
    const char* file = std::getenv("ORQUESTRA_TEST_POSTGRES_URL_FILE");
    if (file == nullptr) return std::nullopt;
    auto url = testing::read_file(file);
    while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
    return url.empty() ? std::nullopt : std::optional(url);
}

std::vector<std::uint16_t> free_ports(std::size_t n) {
    boost::asio::io_context io;
    std::vector<boost::asio::ip::tcp::acceptor> held;
    std::vector<std::uint16_t> ports;
    for (std::size_t i = 0; i < n; ++i) {
        held.emplace_back(io, boost::asio::ip::tcp::endpoint(
                                  boost::asio::ip::make_address("127.0.0.1"), 0));
        ports.push_back(held.back().local_endpoint().port());
    }
    return ports;
}

using TryKey = std::tuple<std::string, std::string, int>;  // run, task, try

class ScaleOutTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto base = postgres_url();
        ASSERT_TRUE(base) << "no test PostgreSQL server (the CTest fixture `postgres`)";
        base_url_ = *base;
        std::random_device random;
        schema_ = fmt::format("scale_{}_{:08x}", ::getpid(), random());
        {
            pqxx::connection conn(base_url_);
            pqxx::nontransaction tx(conn);
            tx.exec("CREATE SCHEMA " + tx.quote_name(schema_));
        }
        db_ = base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") +
              "options=-csearch_path%3D" + schema_;
        home_ = fs::temp_directory_path() / schema_;
        fs::create_directories(home_ / "dags");
        // The seed workflow, with a retry: a try lost with its scheduler is retried by the
        // survivor, so every run can end well.
        std::ifstream in(testing::kSeedDagFile);
        std::stringstream text;
        text << in.rdbuf();
        std::string dag = text.str();
        const std::string retries = "retries: 0, retry_delay: 1m";
        const auto at = dag.find(retries);
        ASSERT_NE(at, std::string::npos) << "the seed DAG's default_args changed";
        dag.replace(at, retries.size(), "retries: 2, retry_delay: 1s");
        std::ofstream(home_ / "dags" / "seed.yaml") << dag;
    }
    void TearDown() override {
        for (auto* p : {&scheduler_a_, &scheduler_b_, &webserver_, &registry_}) p->reset();
        usuarios_.process.reset();
        mensagens_.process.reset();
        try {
            pqxx::connection conn(base_url_);
            pqxx::nontransaction tx(conn);
            tx.exec("DROP SCHEMA " + tx.quote_name(schema_) + " CASCADE");
        } catch (const std::exception& e) {
            ADD_FAILURE() << "cannot drop schema " << schema_ << ": " << e.what();
        }
        fs::remove_all(home_);
    }

    std::vector<std::string> cli(std::vector<std::string> args) const {
        args.insert(args.begin(), ORQUESTRA_BINARY);
        args.push_back("--home");
        args.push_back(home_.string());
        args.push_back("--db");
        args.push_back(db_);
        return args;
    }
    std::unique_ptr<ChildProcess> start_scheduler() {
        auto args = cli({"scheduler", "--scheduler-timeout", "3"});
        args.push_back("--registry");
        args.push_back(registry_url_);
        return std::make_unique<ChildProcess>(args, std::vector<std::string>{}, true);
    }
    std::int64_t count(const std::string& sql) {
        pqxx::connection conn(db_);
        pqxx::nontransaction tx(conn);
        return tx.exec(sql).at(0).at(0).as<std::int64_t>();
    }
    // The runs by state and owner, and the scheduler rows, for a failure message.
    std::string summary() {
        pqxx::connection conn(db_);
        pqxx::nontransaction tx(conn);
        std::string out;
        for (const auto& row : tx.exec("SELECT state, owner, count(*) FROM dag_runs GROUP BY 1, 2")) {
            out += fmt::format("\n  {} {} {}", row[0].c_str(), row[1].c_str(), row[2].c_str());
        }
        for (const auto& row : tx.exec("SELECT id, kind, heartbeat_at FROM scheduler_processes")) {
            out += fmt::format("\n  process {} {} {}", row[0].c_str(), row[1].c_str(),
                               row[2].c_str());
        }
        return out;
    }
    // Every call the service received, per try; fails the test on a try that called twice.
    std::map<TryKey, int> calls(std::uint16_t port) {
        auto reply = testing::request(port, "GET", "/_orquestra/calls");
        EXPECT_EQ(reply.status, 200) << reply.body;
        std::map<TryKey, int> out;
        auto doc = json::parse(reply.body).as_object();
        EXPECT_EQ(doc.at("untracked").as_int64(), 0);
        for (const auto& c : doc.at("calls").as_array()) {
            const auto& o = c.as_object();
            TryKey key{std::string(o.at("run_id").as_string()),
                       std::string(o.at("task_id").as_string()),
                       std::stoi(std::string(o.at("try_number").as_string()))};
            out[key] = static_cast<int>(o.at("count").as_int64());
        }
        return out;
    }

    std::string base_url_;
    std::string schema_;
    std::string db_;
    fs::path home_;
    std::string registry_url_;
    std::unique_ptr<ChildProcess> registry_, webserver_, scheduler_a_, scheduler_b_;
    testing::ExampleService usuarios_, mensagens_;
};

TEST_F(ScaleOutTest, TwoSchedulersRunAThousandWebserverRunsOnceEachThroughAKill) {
    const auto ports = free_ports(2);
    registry_url_ = fmt::format("http://127.0.0.1:{}/eureka", ports[0]);
    registry_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{ORQUESTRA_BINARY, "registry", "--port",
                                 std::to_string(ports[0]), "--threads", "1"},
        std::vector<std::string>{}, true);
    ASSERT_TRUE(eventually([&] {
        return testing::try_request(ports[0], "GET", "/eureka/apps/").status == 200;
    })) << registry_->stderr_text();
    usuarios_ = testing::start_example(testing::kUsuariosBin, "servico_usuarios", registry_url_);
    mensagens_ = testing::start_example(testing::kMensagensBin, "servico_mensagens", registry_url_);
    ASSERT_NE(usuarios_.port, 0);
    ASSERT_NE(mensagens_.port, 0);

    ChildProcess user(cli({"users", "create", "-u", "ops", "-p", "ops-secret-1", "-r", "Op", "-e",
                           "ops@example.com", "-f", "O", "-l", "P"}));
    ASSERT_EQ(user.wait(60s), 0) << user.stderr_text();
    webserver_ = std::make_unique<ChildProcess>(
        cli({"webserver", "--port", std::to_string(ports[1]), "--threads", "1"}),
        std::vector<std::string>{}, true);
    const std::vector<std::pair<std::string, std::string>> auth = {
        {"Authorization", "Basic " + base64_encode("ops:ops-secret-1")},
        {"Content-Type", "application/json"}};
    ASSERT_TRUE(eventually([&] {
        return testing::try_request(ports[1], "GET", "/api/v1/dags/" + std::string(kDag), "", auth)
                   .status == 200;
    })) << webserver_->stderr_text();

    scheduler_a_ = start_scheduler();
    scheduler_b_ = start_scheduler();
    // Both schedulers beat before any run exists, so that each claims a share.
    ASSERT_TRUE(eventually([&] {
        return count("SELECT count(*) FROM scheduler_processes WHERE kind = 'scheduler'") == 2;
    })) << scheduler_a_->stderr_text() << scheduler_b_->stderr_text();

    const auto trigger = [&](int i) {
        const std::string body = fmt::format(
            R"({{"dag_run_id": "r{}", "conf": {{"usuario_id": {}}}}})", i, 1 + i % 3);
        auto created = testing::request(ports[1], "POST",
                                        fmt::format("/api/v1/dags/{}/dagRuns", kDag), body, auth);
        EXPECT_EQ(created.status, 200) << created.body;
    };
    const auto pause = [&](bool paused) {
        auto r = testing::request(ports[1], "PATCH", fmt::format("/api/v1/dags/{}", kDag),
                                  fmt::format(R"({{"is_paused": {}}})", paused), auth);
        ASSERT_EQ(r.status, 200) << r.body;
    };
    const std::string a_unfinished =
        fmt::format("SELECT count(*) FROM dag_runs WHERE owner LIKE '{}-%' AND state IN "
                    "('queued', 'running')",
                    scheduler_a_->pid());
    int i = 0;
    for (; i < kRuns / 2; ++i) trigger(i);
    ASSERT_TRUE(eventually([&] {
        return count("SELECT count(DISTINCT owner) FROM dag_runs WHERE run_id LIKE 'r%' AND "
                     "owner <> '' AND state = 'success'") == 2;
    })) << "the runs are not shared by both schedulers" << summary();
    // Paused (the schedulers see it within a housekeeping), runs pile up queued: the first
    // scheduler is killed while it holds some.
    pause(true);
    for (; i < kRuns && count(a_unfinished) == 0; ++i) trigger(i);
    ASSERT_GT(count(a_unfinished), 0) << summary();
    scheduler_a_->signal(SIGKILL);
    ASSERT_TRUE(scheduler_a_->wait(10s).has_value());
    pause(false);
    for (; i < kRuns; ++i) trigger(i);

    const std::string manual = "FROM dag_runs WHERE run_id LIKE 'r%'";
    ASSERT_TRUE(eventually(
        [&] { return count("SELECT count(*) " + manual + " AND state IN ('success', 'failed')") ==
                     kRuns; },
        120s))
        << count("SELECT count(*) " + manual + " AND state IN ('success', 'failed')")
        << " runs ended; " << summary() << "\nscheduler b:\n"
        << scheduler_b_->stderr_text();
    EXPECT_EQ(count("SELECT count(*) " + manual), kRuns);  // none lost, none added
    EXPECT_EQ(count("SELECT count(*) " + manual + " AND state = 'success'"), kRuns);
    // The survivor found the dead scheduler's heartbeat stopped, removed its row and took its
    // unfinished runs over.
    EXPECT_EQ(count("SELECT count(*) FROM scheduler_processes WHERE kind = 'scheduler'"), 1);
    EXPECT_EQ(count(fmt::format("SELECT count(*) FROM scheduler_processes WHERE id LIKE '{}-%'",
                                scheduler_b_->pid())),
              1);

    // No try called a service twice; every successful try called its service once.
    auto usuarios = calls(usuarios_.port);
    auto mensagens = calls(mensagens_.port);
    for (const auto* ledger : {&usuarios, &mensagens}) {
        for (const auto& [key, n] : *ledger) {
            EXPECT_EQ(n, 1) << std::get<0>(key) << " / " << std::get<1>(key) << " try "
                            << std::get<2>(key) << " called " << n << " times";
        }
    }
    pqxx::connection conn(db_);
    pqxx::nontransaction tx(conn);
    int checked = 0;
    for (const auto& row : tx.exec("SELECT run_id, task_id, try_number FROM task_instances "
                                   "WHERE run_id LIKE 'r%' AND state = 'success'")) {
        TryKey key{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int>()};
        const auto& ledger = std::get<1>(key) == "obter_usuario" ? usuarios : mensagens;
        EXPECT_TRUE(ledger.contains(key)) << std::get<0>(key) << " / " << std::get<1>(key)
                                          << " succeeded without calling its service";
        ++checked;
    }
    // usuario 1 and 2 are in the admin group (two tasks), usuario 3 is not (one task).
    const int admins = kRuns - kRuns / 3;
    EXPECT_EQ(checked, kRuns + admins);
    std::set<std::string> runs_called;
    for (const auto& [key, n] : usuarios) {
        if (std::get<0>(key).starts_with("r")) runs_called.insert(std::get<0>(key));
    }
    EXPECT_EQ(static_cast<int>(runs_called.size()), kRuns);
}

}  // namespace
}  // namespace orquestra
