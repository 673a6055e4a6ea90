#include "common/example_service.hpp"

#include "core/strings.hpp"
#include "discovery/eureka_client.hpp"
#include "http/client.hpp"
#include "http/io_pool.hpp"

#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <mutex>
#include <tuple>
#include <pthread.h>
#include <signal.h>
#include <vector>

namespace orquestra::examples {

namespace json = boost::json;

namespace {

struct Flags {
    int port = 0;
    std::string host = "127.0.0.1";
    std::vector<std::string> registries{"http://127.0.0.1:8761/eureka"};
    std::string instance_id;
    std::string zone;
    int lease_renewal_seconds = 30;
    int lease_duration_seconds = 90;
};

// The address others reach us at: the listen address, unless it is a wildcard.
std::string advertised_host(const std::string& host) {
    if (host.empty() || host == "0.0.0.0" || host == "::") return "127.0.0.1";
    return host;
}

std::string url_host(const std::string& host) {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// How many times each try of each run called this service, from the scheduler's X-Orquestra-*
// headers: GET /_orquestra/calls answers them, so that a test or a benchmark can check that no
// try called twice. At most kMaxKeys tries are kept; calls beyond them are only counted.
class CallLedger {
public:
    static constexpr std::size_t kMaxKeys = 200'000;

    // Wraps a service's handler; the ledger must outlive what it returns.
    http::SyncHandler wrap(http::SyncHandler handler) {
        return [this, handler = std::move(handler)](http::Request& req,
                                                    http::Response& res) {
            if (req.path() == "/_orquestra/calls") {
                if (req.method() != http::beast_http::verb::get) {
                    reply_wrong_method(req, res, "GET");
                } else {
                    reply_json(res, 200, to_json());
                }
                return;
            }
            record(req);
            handler(req, res);
        };
    }

private:
    using Key = std::tuple<std::string, std::string, std::string>;  // run, task, try

    void record(const http::Request& req) {
        auto run_id = req.header("X-Orquestra-Run-Id");
        if (run_id.empty()) return;
        Key key{std::string(run_id), std::string(req.header("X-Orquestra-Task-Id")),
                std::string(req.header("X-Orquestra-Try-Number"))};
        std::lock_guard lock(mu_);
        auto it = counts_.find(key);
        if (it != counts_.end()) {
            ++it->second;
        } else if (counts_.size() < kMaxKeys) {
            counts_.emplace(std::move(key), 1);
        } else {
            ++untracked_;
        }
    }

    json::object to_json() {
        json::array calls;
        std::lock_guard lock(mu_);
        for (const auto& [key, count] : counts_) {
            calls.push_back(json::object{{"run_id", std::get<0>(key)},
                                         {"task_id", std::get<1>(key)},
                                         {"try_number", std::get<2>(key)},
                                         {"count", count}});
        }
        return json::object{{"calls", std::move(calls)}, {"untracked", untracked_}};
    }

    std::mutex mu_;
    std::map<Key, std::int64_t> counts_;
    std::int64_t untracked_ = 0;
};

}  // namespace

int run_service(int argc, char** argv, const ServiceSpec& spec, http::SyncHandler handler) {
    Flags flags;
    flags.port = spec.default_port;
    CLI::App cli{spec.description, spec.name};
    cli.add_option("--port", flags.port, "Port to listen on (0: any free port)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    cli.add_option("--host", flags.host, "Address to listen on")->capture_default_str();
    cli.add_option("--registry", flags.registries,
                   "Registry base URL; repeat it or separate URLs with commas for fail-over")
        ->delimiter(',')
        ->capture_default_str();
    cli.add_option("--instance-id", flags.instance_id,
                   "Instance id in the registry (default host:app:port)");
    cli.add_option("--zone", flags.zone, "Zone, registered as metadata.zone");
    cli.add_option("--lease-renewal-seconds", flags.lease_renewal_seconds,
                   "Seconds between heartbeats")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    cli.add_option("--lease-duration-seconds", flags.lease_duration_seconds,
                   "Seconds without a heartbeat after which the registry drops this instance")
        ->check(CLI::Range(1, 86400))
        ->capture_default_str();
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = cli.exit(e);
        return code == 0 ? 0 : 2;
    }

    std::vector<std::string> registries;
    for (const auto& url : flags.registries) {
        auto text = std::string(trim(url));
        if (text.empty()) continue;
        if (auto parsed = http::parse_http_url(text); !parsed) {
            std::fprintf(stderr, "%s: --registry: %s\n", spec.name.c_str(),
                         parsed.error().message.c_str());
            return 2;
        }
        registries.push_back(std::move(text));
    }
    if (registries.empty()) {
        std::fprintf(stderr, "%s: --registry: at least one URL is needed\n", spec.name.c_str());
        return 2;
    }

    // Logs go to stderr: stdout carries only the "listening on" line a parent may be reading.
    spdlog::set_default_logger(spdlog::stderr_color_mt(spec.name));

    // The signals are taken by sigwait() below, never by a handler: block them before any
    // thread starts, so that every thread inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // a parent that stopped reading stdout must not kill us

    http::IoPool pool(1);
    http::ServerOptions server_options;
    server_options.host = flags.host;
    server_options.port = static_cast<std::uint16_t>(flags.port);
    server_options.server_name = spec.name;
    CallLedger ledger;
    http::HttpServer server(pool.first(), server_options, ledger.wrap(std::move(handler)));
    auto port = server.start();
    if (!port) {
        spdlog::error("cannot listen on {}:{}: {}", flags.host, flags.port, port.error().message);
        return 1;
    }
    pool.start();

    const std::string app = to_upper(spec.name);
    const std::string host = advertised_host(flags.host);
    const std::string base_url = fmt::format("http://{}:{}", url_host(host), *port);
    std::fputs(
        fmt::format("{} listening on {} (registered as {})\n", spec.name, base_url, app).c_str(),
        stdout);
    std::fflush(stdout);

    discovery::EurekaClientOptions options;
    options.registry_urls = registries;
    // Registry credentials come through the environment (a parent such as standalone sets it;
    // argv would show them to every local user), or in a --registry URL.
    if (const char* auth = std::getenv("ORQUESTRA_REGISTRY_AUTH"); auth != nullptr) {
        options.registry_auth = auth;
    }
    options.instance.app = app;
    options.instance.instance_id = flags.instance_id;  // empty: host:app:port
    options.instance.host_name = host;
    options.instance.ip_addr = host;
    options.instance.port = {*port, true};
    options.instance.status = registry::InstanceStatus::kUp;
    options.instance.vip_address = spec.name;
    options.instance.home_page_url = base_url + "/";
    options.instance.status_page_url = base_url + "/health";
    options.instance.health_check_url = base_url + "/health";
    options.zone = flags.zone;
    options.heartbeat_interval = std::chrono::seconds(flags.lease_renewal_seconds);
    options.lease_duration = std::chrono::seconds(flags.lease_duration_seconds);
    options.fetch_registry = false;  // the services call no one
    discovery::EurekaClient eureka(pool.first().get_executor(), options);
    eureka.start();
    std::vector<std::string> shown;
    for (const auto& url : registries) shown.push_back(http::url_without_credentials(url));
    spdlog::info("registering {} as {} in {}", base_url, app, fmt::join(shown, ", "));

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    spdlog::info("{} received; deregistering and stopping",
                 signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    eureka.stop();  // deregisters while the server still answers callers that chose us
    server.stop();
    pool.stop();
    return 0;
}

void reply_json(http::Response& res, int status, const json::value& value) {
    res.set(status, std::string(kJsonType), json::serialize(value));
}

void reply_error(http::Response& res, int status, std::string_view message) {
    reply_json(res, status, json::object{{"erro", message}});
}

void reply_unknown_path(const http::Request& req, http::Response& res) {
    const auto path = percent_decode(req.path()).value_or(std::string(req.path()));
    reply_error(res, 404, fmt::format("caminho não encontrado: {}", path));
}

void reply_wrong_method(const http::Request& req, http::Response& res, std::string_view allow) {
    const auto path = percent_decode(req.path()).value_or(std::string(req.path()));
    reply_error(res, 405, fmt::format("método {} não permitido em {}", req.method_string(), path));
    res.add_header("Allow", std::string(allow));
}

}  // namespace orquestra::examples
