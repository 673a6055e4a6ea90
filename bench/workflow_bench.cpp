// Workflow engine benchmark (not a test). With durability on (SQLite in WAL mode, or PostgreSQL
// with --db):
//  (a) a 1,000-task chain and a 1,000-task fan-out of no-op tasks: wall time, per-task overhead;
//  (b) the store alone: runs created and small scheduler-like commits per second, from 1 and 4
//      threads, with their latency p50/p99;
//  (c) the seed workflow — two HTTP tasks against fast loopback services registered in the
//      registry: runs/s at saturation and trigger-to-finish latency p50/p99; RSS.
//  (d) with --dead-instance: the seed workflow with 3 instances of servico_usuarios, one of
//      which dies (its port closes; the registry keeps it UP) halfway through the runs: failed
//      calls to the dead instance, and the runs' latency p50/p99 before and after it died, with
//      the breaker as configured and with a fixed 1 ms breaker period (about what round robin
//      alone did: the dead instance tried in run after run).
// Usage: build/bench/workflow_bench [runs=2000] [--db postgresql://user:password@host/db]
//        build/bench/workflow_bench --dead-instance [runs=1000] [--in-flight 8]
// With --db, each benchmark works in a fresh schema of that database, dropped afterwards.
#include "app/registry_directory.hpp"
#include "app/registry_node.hpp"
#include "app/workflow_node.hpp"
#include "http/server.hpp"
#include "store/db_url.hpp"
#include "store/open.hpp"

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <random>

using namespace orquestra;
namespace fs = std::filesystem;
using Clock_ = std::chrono::steady_clock;

namespace {

// Completes every try at once, as a no-op task would, from another thread.
class NoopRunner final : public executor::TaskRunner {
public:
    explicit NoopRunner(boost::asio::io_context& io) : io_(io) {}
    void run(executor::Attempt, std::function<void(executor::AttemptResult)> done) override {
        boost::asio::post(io_, [done = std::move(done)] {
            executor::AttemptResult r;
            r.success = true;
            done(std::move(r));
        });
    }

private:
    boost::asio::io_context& io_;
};

double rss_mb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    }
    return 0;
}

fs::path temp_home(const std::string& name) {
    std::random_device rd;
    auto p = fs::temp_directory_path() / fmt::format("orquestra-bench-{}-{}", name, rd());
    fs::create_directories(p / "dags");
    return p;
}

// Where one benchmark keeps its state: <home>/orquestra.db, or a fresh schema of the --db
// PostgreSQL database (on the search_path of every connection through the URL's options).
class BenchDatabase {
public:
    BenchDatabase(const std::string& url, const fs::path& home) {
        if (url.empty()) {
            target_ = (home / "orquestra.db").string();
            return;
        }
        std::random_device rd;
        schema_ = fmt::format("bench_{:08x}", rd());
        pqxx::connection conn(url);
        pqxx::nontransaction tx(conn);
        tx.exec("CREATE SCHEMA " + tx.quote_name(schema_));
        url_ = url;
        target_ = url + (url.find('?') == std::string::npos ? "?" : "&") +
                  "options=-csearch_path%3D" + schema_;
    }
    ~BenchDatabase() {
        if (schema_.empty()) return;
        try {
            pqxx::connection conn(url_);
            pqxx::nontransaction tx(conn);
            tx.exec("DROP SCHEMA " + tx.quote_name(schema_) + " CASCADE");
        } catch (const std::exception& e) {
            fmt::print("cannot drop schema {}: {}\n", schema_, e.what());
        }
    }
    BenchDatabase(const BenchDatabase&) = delete;
    BenchDatabase& operator=(const BenchDatabase&) = delete;

    const std::string& target() const { return target_; }

private:
    std::string url_;
    std::string schema_;
    std::string target_;
};

void bench_shape(const std::string& db_url, const std::string& name, bool chain, bool logs) {
    auto home = temp_home(name);
    BenchDatabase db(db_url, home);
    std::string yaml = fmt::format("dag_id: {}\nmax_active_tasks: 1000\ntasks:\n", name);
    for (int i = 0; i < 1000; ++i) {
        yaml += fmt::format("  t{}: {{command: [\"true\"]", i);
        if (chain && i > 0) yaml += fmt::format(", upstream: [t{}]", i - 1);
        yaml += "}\n";
    }
    std::ofstream(home / "dags" / (name + ".yaml")) << yaml;
    auto store = store::open_store(db.target());
    if (!store) {
        fmt::print("cannot open the store: {}\n", store.error().message);
        return;
    }
    if (auto migrated = (*store)->migrate(); !migrated) {
        fmt::print("cannot migrate the store: {}\n", migrated.error().message);
        return;
    }
    dag::DagFolder folder(home / "dags", SystemClock::instance());
    boost::asio::io_context loop(1);
    boost::asio::io_context workers(1);
    auto guard = boost::asio::make_work_guard(workers);
    std::thread worker([&] { workers.run(); });
    NoopRunner runner(workers);
    scheduler::EngineOptions opts;
    if (logs) opts.log_dir = home / "logs";
    opts.unpause_new_dags = true;
    opts.default_pool_slots = 1'000'000;  // pools are not what this measures
    scheduler::Engine engine(loop, **store, folder, runner, SystemClock::instance(), opts);
    (void)engine.start();
    bool done = false;
    engine.add_run_listener([&](const store::DagRun& r) {
        done = true;
        if (r.state != store::RunState::kSuccess) fmt::print("run failed!\n");
        loop.stop();
    });
    auto t0 = Clock_::now();
    scheduler::TriggerRequest req;
    req.dag_id = name;
    req.run_id = "bench";
    auto run = engine.trigger(req);
    if (!run) {
        fmt::print("trigger failed: {}\n", run.error().message);
        return;
    }
    loop.run();
    auto ms = std::chrono::duration<double, std::milli>(Clock_::now() - t0).count();
    fmt::print("{:<8} 1,000 no-op tasks{}: {:8.1f} ms wall, {:6.1f} us per task{}\n", name,
               logs ? ", with logs" : ", no logs  ", ms, ms * 1000.0 / 1000.0,
               done ? "" : " (did not finish)");
    guard.reset();
    workers.stop();
    worker.join();
    engine.stop();
    engine.flush_logs();
    fs::remove_all(home);
}

// The store alone: what the scheduler asks of it per task. Runs of two tasks created one by
// one, then small commits (a task instance and its try, as when a try starts or ends) from
// `threads` threads at once: per second, and the latency of each commit.
void bench_store(const std::string& db_url, int threads) {
    auto home = temp_home("store");
    BenchDatabase db(db_url, home);
    auto opened = store::open_store(db.target());
    if (!opened || !(*opened)->migrate()) {
        fmt::print("cannot open the store\n");
        return;
    }
    store::Store& s = **opened;
    constexpr int kRunsPerThread = 500;
    std::vector<std::vector<double>> create_ms(static_cast<std::size_t>(threads));
    std::vector<std::vector<double>> commit_ms(static_cast<std::size_t>(threads));
    std::atomic<int> failures{0};
    auto time_ms = [](auto&& f) {
        auto t0 = Clock_::now();
        bool ok = f();
        const auto elapsed = std::chrono::duration<double, std::milli>(Clock_::now() - t0);
        return std::make_pair(ok, elapsed.count());
    };
    auto worker = [&](int w, bool commits) {
        for (int i = 0; i < kRunsPerThread; ++i) {
            store::DagRun run;
            run.dag_id = "seed";
            run.run_id = fmt::format("w{}_{}", w, i);
            std::vector<store::TaskInstance> tis(2);
            tis[0].task_id = "obter_usuario";
            tis[1].task_id = "enviar_mensagem";
            if (!commits) {
                auto [ok, ms] =
                    time_ms([&] { return static_cast<bool>(s.create_run(run, tis)); });
                if (!ok) ++failures;
                create_ms[static_cast<std::size_t>(w)].push_back(ms);
                continue;
            }
            for (int step = 0; step < 2; ++step) {
                store::TaskInstance ti = tis[0];
                ti.dag_id = run.dag_id;
                ti.run_id = run.run_id;
                ti.state = step == 0 ? store::TaskState::kRunning : store::TaskState::kSuccess;
                ti.try_number = 1;
                store::TaskTry attempt;
                attempt.dag_id = ti.dag_id;
                attempt.run_id = ti.run_id;
                attempt.task_id = ti.task_id;
                attempt.state = ti.state;
                store::Changes changes;
                changes.tasks = {ti};
                changes.tries = {attempt};
                auto [ok, ms] = time_ms([&] { return static_cast<bool>(s.commit(changes)); });
                if (!ok) ++failures;
                commit_ms[static_cast<std::size_t>(w)].push_back(ms);
            }
        }
    };
    auto phase = [&](bool commits) {
        auto t0 = Clock_::now();
        std::vector<std::thread> pool;
        for (int w = 0; w < threads; ++w) pool.emplace_back(worker, w, commits);
        for (auto& t : pool) t.join();
        double secs = std::chrono::duration<double>(Clock_::now() - t0).count();
        std::vector<double> all;
        for (const auto& v : commits ? commit_ms : create_ms) {
            all.insert(all.end(), v.begin(), v.end());
        }
        std::sort(all.begin(), all.end());
        fmt::print("store    {} thread{}: {:>6.0f} {}/s, p50 {:.3f} ms, p99 {:.3f} ms\n", threads,
                   threads == 1 ? " " : "s", static_cast<double>(all.size()) / secs,
                   commits ? "small commits" : "2-task runs  ", all[all.size() / 2],
                   all[all.size() * 99 / 100]);
    };
    phase(false);
    phase(true);
    if (failures.load() > 0) fmt::print("store    {} calls failed!\n", failures.load());
    opened->reset();
    fs::remove_all(home);
}

constexpr const char* kSeed = R"(
dag_id: seed
max_active_runs: 100000
max_active_tasks: 100000
params:
  usuario_id: {type: integer, minimum: 1, default: 1}
tasks:
  obter_usuario:
    http: {service: servico_usuarios, path: "/usuarios/{{ params.usuario_id }}"}
  enviar_mensagem:
    upstream: [obter_usuario]
    when: "{{ 'admin' in tasks.obter_usuario.output.grupos }}"
    http:
      service: servico_mensagens
      method: POST
      path: /enviar_mensagem
      json: {usuario_id: "{{ params.usuario_id }}", grupo: admin, mensagem: "Mensagem automática"}
)";

void bench_seed(const std::string& db_url, int runs) {
    auto home = temp_home("seed");
    BenchDatabase db(db_url, home);
    std::ofstream(home / "dags" / "seed.yaml") << kSeed;
    http::IoPool pool(2);
    app::RegistryNodeOptions ropts;
    app::RegistryNode registry(pool.first(), SystemClock::instance(), ropts, &pool);
    (void)registry.start();
    // Two fast services, answering from memory.
    auto make_service = [&](bool users) {
        return std::make_unique<http::HttpServer>(
            pool.first(), http::ServerOptions{},
            http::SyncHandler([users](http::Request&, http::Response& res) {
                res.set(200, "application/json",
                        users ? R"({"id":1,"nome":"Ana","grupos":["admin"]})"
                              : R"({"status":"enviada"})");
            }),
            &pool);
    };
    auto users = make_service(true);
    auto messages = make_service(false);
    auto register_service = [&](const std::string& app, std::uint16_t port) {
        registry::InstanceInfo info;
        info.instance_id = fmt::format("127.0.0.1:{}:{}", app, port);
        info.host_name = info.ip_addr = "127.0.0.1";
        info.app = app;
        info.port = {port, true};
        (void)registry.registry().register_instance(app, info);
    };
    register_service("SERVICO_USUARIOS", *users->start());
    register_service("SERVICO_MENSAGENS", *messages->start());
    pool.start();
    app::RegistryDirectory directory(registry.registry());
    scheduler::EngineOptions opts;
    opts.unpause_new_dags = true;
    opts.default_pool_slots = 1'000'000;  // pools are not what this measures
    app::HomePaths paths{home, home / "dags", home / "orquestra.db", home / "logs"};
    if (!db_url.empty()) {
        paths.db.clear();
        paths.database = db.target();
    }
    app::WorkflowNode node(paths, directory, pool, SystemClock::instance(), opts);
    if (auto r = node.start(); !r) {
        fmt::print("cannot start: {}\n", r.error().message);
        return;
    }
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, Clock_::time_point> started;
    std::vector<double> latencies;
    int finished = 0, failed = 0;
    node.call([&] {
        node.engine().add_run_listener([&](const store::DagRun& r) {
            std::lock_guard lock(mu);
            auto it = started.find(r.run_id);
            if (it != started.end()) {
                latencies.push_back(
                    std::chrono::duration<double, std::milli>(Clock_::now() - it->second).count());
            }
            if (r.state != store::RunState::kSuccess) ++failed;
            ++finished;
            cv.notify_all();
        });
        return 0;
    });
    auto trigger = [&](const std::string& id) {
        {
            std::lock_guard lock(mu);
            started[id] = Clock_::now();
        }
        scheduler::TriggerRequest req;
        req.dag_id = "seed";
        req.run_id = id;
        req.conf = boost::json::parse(R"({"usuario_id": 1})").as_object();
        return node.engine().trigger_async(req);
    };
    // Latency: one run at a time.
    for (int i = 0; i < 200; ++i) {
        auto f = trigger(fmt::format("lat{}", i));
        (void)f.get();
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return finished == i + 1; });
    }
    std::vector<double> lat;
    {
        std::lock_guard lock(mu);
        lat = latencies;
    }
    std::sort(lat.begin(), lat.end());
    fmt::print("seed     trigger-to-finish, one at a time: p50 {:.2f} ms, p99 {:.2f} ms\n",
               lat[lat.size() / 2], lat[lat.size() * 99 / 100]);
    // Saturation: keep up to 256 runs in flight.
    int base = finished;
    auto t0 = Clock_::now();
    for (int i = 0; i < runs; ++i) {
        {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return i - (finished - base) < 256; });
        }
        (void)trigger(fmt::format("sat{}", i));
    }
    {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return finished - base == runs; });
    }
    double secs = std::chrono::duration<double>(Clock_::now() - t0).count();
    fmt::print("seed     saturation: {} runs in {:.2f} s = {:.0f} runs/s ({} failed); RSS {:.1f} MB\n",
               runs, secs, runs / secs, failed, rss_mb());
    pool.stop();
    node.call([&] {
        node.engine().flush_logs();
        return 0;
    });
    node.stop();
    fs::remove_all(home);
}


// (d): one of three instances dies halfway through `runs` seed runs, `in_flight` at a time.
void bench_dead_instance(int runs, int in_flight, std::chrono::milliseconds breaker_open) {
    auto home = temp_home("dead");
    std::ofstream(home / "dags" / "seed.yaml") << kSeed;
    http::IoPool pool(2);
    app::RegistryNodeOptions ropts;
    app::RegistryNode registry(pool.first(), SystemClock::instance(), ropts, &pool);
    (void)registry.start();
    std::array<std::atomic<int>, 3> served{};
    auto make_service = [&](int index) {
        return std::make_unique<http::HttpServer>(
            pool.first(), http::ServerOptions{},
            http::SyncHandler([index, &served](http::Request&, http::Response& res) {
                if (index >= 0) ++served[static_cast<std::size_t>(index)];
                res.set(200, "application/json",
                        index >= 0 ? R"({"id":1,"nome":"Ana","grupos":["admin"]})"
                                   : R"({"status":"enviada"})");
            }),
            &pool);
    };
    std::vector<std::unique_ptr<http::HttpServer>> users;
    std::vector<std::string> ids;
    auto register_service = [&](const std::string& app, std::uint16_t port) {
        registry::InstanceInfo info;
        info.instance_id = fmt::format("127.0.0.1:{}:{}", app, port);
        info.host_name = info.ip_addr = "127.0.0.1";
        info.app = app;
        info.port = {port, true};
        info.data_center_name = "MyOwn";
        (void)registry.registry().register_instance(app, info);
        return info.instance_id;
    };
    for (int i = 0; i < 3; ++i) {
        users.push_back(make_service(i));
        ids.push_back(register_service("SERVICO_USUARIOS", *users.back()->start()));
    }
    auto messages = make_service(-1);
    register_service("SERVICO_MENSAGENS", *messages->start());
    pool.start();
    app::RegistryDirectory directory(registry.registry());
    scheduler::EngineOptions opts;
    opts.unpause_new_dags = true;
    opts.default_pool_slots = 1'000'000;  // pools are not what this measures
    app::HomePaths paths{home, home / "dags", home / "orquestra.db", home / "logs"};
    discovery::ChoiceOptions choice;
    choice.breaker_open = breaker_open;
    choice.breaker_max_open = std::max(breaker_open, choice.breaker_max_open);
    if (breaker_open < std::chrono::milliseconds(1'000)) choice.breaker_max_open = breaker_open;
    app::WorkflowNode node(paths, directory, pool, SystemClock::instance(), opts, choice);
    if (auto r = node.start(); !r) {
        fmt::print("cannot start: {}\n", r.error().message);
        return;
    }
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, Clock_::time_point> started;
    std::map<std::string, double> latency;
    int finished = 0, failed = 0;
    node.call([&] {
        node.engine().add_run_listener([&](const store::DagRun& r) {
            std::lock_guard lock(mu);
            latency[r.run_id] = std::chrono::duration<double, std::milli>(
                                    Clock_::now() - started[r.run_id]).count();
            if (r.state != store::RunState::kSuccess) ++failed;
            ++finished;
            cv.notify_all();
        });
        return 0;
    });
    const int kill_at = runs / 2;
    for (int i = 0; i < runs; ++i) {
        {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return i - finished < in_flight; });
        }
        if (i == kill_at) users[1]->stop();  // dies: its port closes, the registry keeps it UP
        const std::string id = fmt::format("run{:05}", i);
        {
            std::lock_guard lock(mu);
            started[id] = Clock_::now();
        }
        scheduler::TriggerRequest req;
        req.dag_id = "seed";
        req.run_id = id;
        req.conf = boost::json::parse(R"({"usuario_id": 1})").as_object();
        (void)node.engine().trigger_async(req);
    }
    {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return finished == runs; });
    }
    auto percentiles = [&](int from, int to) {
        std::vector<double> v;
        for (int i = from; i < to; ++i) v.push_back(latency[fmt::format("run{:05}", i)]);
        std::sort(v.begin(), v.end());
        return std::make_pair(v[v.size() / 2], v[v.size() * 99 / 100]);
    };
    auto [p50_before, p99_before] = percentiles(0, kill_at);
    auto [p50_after, p99_after] = percentiles(kill_at, runs);
    std::uint64_t dead_failures = 0;
    if (auto h = node.choice().health("servico_usuarios")) {
        for (const auto& i : h->instances) {
            if (i.instance_id == ids[1]) dead_failures = i.failures;
        }
    }
    fmt::print("dead instance, breaker period {} ms, {} runs ({} in flight), killed at run {}:\n"
               "  failed calls to the dead instance: {}; runs failed: {}\n"
               "  trigger-to-finish before: p50 {:.2f} ms, p99 {:.2f} ms; after: p50 {:.2f} ms, "
               "p99 {:.2f} ms\n"
               "  answered by the 3 instances: {} / {} / {}\n",
               breaker_open.count(), runs, in_flight, kill_at, dead_failures, failed, p50_before,
               p99_before, p50_after, p99_after, served[0].load(), served[1].load(),
               served[2].load());
    pool.stop();
    node.stop();
    fs::remove_all(home);
}

}  // namespace

int main(int argc, char** argv) {
    spdlog::set_level(spdlog::level::warn);
    int runs = 2000;
    std::string db_url;
    bool dead_instance = false;
    int in_flight = 8;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--db" && i + 1 < argc) {
            db_url = argv[++i];
        } else if (arg == "--dead-instance") {
            dead_instance = true;
            runs = 1000;
        } else if (arg == "--in-flight" && i + 1 < argc) {
            in_flight = std::max(1, std::atoi(argv[++i]));
        } else {
            runs = std::atoi(argv[i]);
        }
    }
    if (!db_url.empty() && !store::is_postgres_url(db_url)) {
        fmt::print(stderr, "--db takes a postgresql:// URL\n");
        return 2;
    }
    if (dead_instance) {
        bench_dead_instance(runs, in_flight, std::chrono::milliseconds(5'000));
        bench_dead_instance(runs, in_flight, std::chrono::milliseconds(1));
        return 0;
    }
    fmt::print("store: {}\n", db_url.empty() ? "SQLite (WAL)" : store::mask_password(db_url));
    try {
        for (int threads : {1, 4}) bench_store(db_url, threads);
        for (bool logs : {true, false}) {
            bench_shape(db_url, "chain", true, logs);
            bench_shape(db_url, "fanout", false, logs);
        }
        if (runs > 0) bench_seed(db_url, runs);
    } catch (const std::exception& e) {
        fmt::print(stderr, "{}\n", e.what());
        return 1;
    }
    return 0;
}
