// Registry event to triggered run start (README "Runs triggered by the registry"); not a test.
// The standalone wiring in one process: an InstanceRegistry (system clock) whose changes feed a
// scheduler Engine with a DAG on `on_service: [{service: bench, events: [down]}]`, the store a
// SQLite file (WAL) in a temporary home. Each sample sets an UP instance DOWN through the
// registry (what `PUT /eureka/apps/BENCH/<id>/status?value=DOWN` does) and measures until the
// run's first task is handed to the task runner — the run created, committed and started. One
// event at a time; the runner ends each try at once and the instance is set UP again (no run).
// Usage: build/bench/registry_trigger [events=1000]
#include "app/registry_events.hpp"
#include "dag/dag_folder.hpp"
#include "registry/instance_registry.hpp"
#include "scheduler/engine.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <random>
#include <thread>

using namespace orquestra;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

namespace {

// Notes when each run's first try arrives, and ends it at once.
class TimingRunner final : public executor::TaskRunner {
public:
    explicit TimingRunner(boost::asio::io_context& io) : io_(io) {}
    void run(executor::Attempt, std::function<void(executor::AttemptResult)> done) override {
        {
            std::lock_guard lock(mu_);
            if (waiting_) {
                waiting_->set_value(Steady::now());
                waiting_.reset();
            }
        }
        boost::asio::post(io_, [done = std::move(done)] {
            executor::AttemptResult r;
            r.success = true;
            done(std::move(r));
        });
    }
    std::future<Steady::time_point> expect() {
        std::lock_guard lock(mu_);
        waiting_.emplace();
        return waiting_->get_future();
    }

private:
    boost::asio::io_context& io_;
    std::mutex mu_;
    std::optional<std::promise<Steady::time_point>> waiting_;
};

registry::InstanceInfo bench_instance() {
    registry::InstanceInfo i;
    i.instance_id = "127.0.0.1:bench:9000";
    i.host_name = i.ip_addr = "127.0.0.1";
    i.app = "BENCH";
    return i;
}

}  // namespace

int main(int argc, char** argv) {
    const int events = argc > 1 ? std::max(10, std::atoi(argv[1])) : 1000;
    spdlog::set_level(spdlog::level::warn);
    std::random_device rd;
    const fs::path home = fs::temp_directory_path() / fmt::format("orquestra-bench-{}", rd());
    fs::create_directories(home / "dags");
    std::ofstream(home / "dags" / "vigia.yaml") << R"(
dag_id: vigia
max_active_runs: 1000
on_service: [{service: bench, events: [down]}]
tasks:
  a: {command: ["true"]}
)";
    auto store = store::SqliteStore::open(home / "orquestra.db");
    if (!store || !(*store)->migrate()) {
        fmt::print(stderr, "cannot open the store\n");
        return 1;
    }
    boost::asio::io_context loop{1};
    auto guard = boost::asio::make_work_guard(loop);
    dag::DagFolder folder(home / "dags", SystemClock::instance());
    TimingRunner runner(loop);
    scheduler::EngineOptions options;
    options.log_dir = home / "logs";
    options.unpause_new_dags = true;
    scheduler::Engine engine(loop, **store, folder, runner, SystemClock::instance(), options);
    std::thread thread([&] { loop.run(); });
    std::promise<Result<void>> started;
    boost::asio::post(loop, [&] { started.set_value(engine.start()); });
    if (auto r = started.get_future().get(); !r) {
        fmt::print(stderr, "engine: {}\n", r.error().message);
        return 1;
    }
    registry::InstanceRegistry registry(SystemClock::instance());
    app::feed_registry_events(registry, engine);
    auto info = bench_instance();
    (void)registry.register_instance("BENCH", info);

    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(events));
    for (int i = 0; i < events; ++i) {
        auto arrived = runner.expect();
        const auto t0 = Steady::now();
        (void)registry.set_status_override("BENCH", info.instance_id,
                                           registry::InstanceStatus::kDown, std::nullopt);
        if (arrived.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
            fmt::print(stderr, "event {} started no run within 10 s\n", i);
            return 1;
        }
        ms.push_back(std::chrono::duration<double, std::milli>(arrived.get() - t0).count());
        (void)registry.set_status_override("BENCH", info.instance_id,
                                           registry::InstanceStatus::kUp, std::nullopt);
        // Distinct event times (the run id holds the time in ms).
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {
        return ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))];
    };
    fmt::print("registry event to run start, {} events: p50 {:.2f} ms, p90 {:.2f} ms, "
               "p99 {:.2f} ms, max {:.2f} ms\n",
               ms.size(), pct(0.5), pct(0.9), pct(0.99), ms.back());
    std::promise<void> stopped;
    boost::asio::post(loop, [&] {
        engine.stop();
        stopped.set_value();
    });
    stopped.get_future().wait();
    guard.reset();
    loop.stop();
    thread.join();
    std::error_code ec;
    fs::remove_all(home, ec);
    return 0;
}
