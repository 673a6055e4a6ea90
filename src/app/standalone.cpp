#include "app/standalone.hpp"

#include "api/api.hpp"
#include "api/users.hpp"
#include "app/application.hpp"
#include "app/child_processes.hpp"
#include "app/home_access.hpp"
#include "app/registry_catalog.hpp"
#include "app/registry_directory.hpp"
#include "app/registry_node.hpp"
#include "app/run.hpp"
#include "app/web_front.hpp"
#include "app/workflow_node.hpp"
#include "core/strings.hpp"
#include "http/io_pool.hpp"

#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

namespace orquestra::app {

namespace {

namespace fs = std::filesystem;

int fail(std::string_view what) {
    std::fprintf(stderr, "orquestra standalone: %.*s\n", static_cast<int>(what.size()),
                 what.data());
    return 1;
}

// Lines for the person who started it: stdout, flushed at once (it is often a pipe).
template <class... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
    std::string line = fmt::format(format, std::forward<Args>(args)...);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}

// Where the example programs and DAGs are: $ORQUESTRA_EXAMPLES_DIR, else `examples/` next to
// this binary (the build tree's layout).
fs::path examples_dir() {
    if (const char* env = std::getenv("ORQUESTRA_EXAMPLES_DIR"); env != nullptr && *env != '\0') {
        return env;
    }
    std::error_code ec;
    auto exe = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path("examples") : exe.parent_path() / "examples";
}

// Copies the example DAG files the DAG folder does not have yet; returns the names copied.
Result<std::vector<std::string>> copy_example_dags(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    if (!fs::is_directory(from / "dags", ec)) {
        return Error{ErrorCode::kNotFound,
                     fmt::format("no example DAGs in {} (set ORQUESTRA_EXAMPLES_DIR)",
                                 (from / "dags").string())};
    }
    fs::create_directories(to, ec);
    std::vector<std::string> copied;
    for (const auto& entry : fs::directory_iterator(from / "dags", ec)) {
        const auto ext = entry.path().extension();
        if (ext != ".yaml" && ext != ".yml") continue;
        const auto target = to / entry.path().filename();
        if (fs::exists(target, ec)) continue;
        fs::copy_file(entry.path(), target, ec);
        if (ec) {
            return Error{ErrorCode::kInternal, fmt::format("cannot copy {} to {}: {}",
                                                           entry.path().string(), target.string(),
                                                           ec.message())};
        }
        copied.push_back(entry.path().filename().string());
    }
    return copied;
}

Result<void> write_private_file(const fs::path& path, const std::string& text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return Error{ErrorCode::kInternal,
                     fmt::format("cannot write {}: {}", path.string(), std::strerror(errno))};
    }
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    if (!ok) return Error{ErrorCode::kInternal, fmt::format("cannot write {}", path.string())};
    return {};
}

// What the person who started standalone is told about the admin's password.
struct AdminLogin {
    std::string password;  // set only when it was generated just now (printed this once)
    std::string where;     // where it comes from or is kept
};

// Creates the `admin` user on first start: `env_password` (ORQUESTRA_ADMIN_PASSWORD), else a
// generated password saved (mode 0600) to <home>/standalone_admin_password.txt and printed
// this once; later starts name the file instead.
Result<AdminLogin> ensure_admin(WorkflowNode& node, const fs::path& home,
                                const std::optional<std::string>& env_password) {
    const auto password_file = home / "standalone_admin_password.txt";
    if (auto r = tighten(password_file, false); !r) return r.error();
    auto existing = node.call([&node] { return node.store().get_user("admin"); });
    if (!existing) return existing.error();
    if (*existing) {
        if (env_password) return AdminLogin{"", "ORQUESTRA_ADMIN_PASSWORD (if not changed since)"};
        std::error_code ec;
        if (fs::exists(password_file, ec)) return AdminLogin{"", "in " + password_file.string()};
        return AdminLogin{"", "set when the user was created"};
    }
    AdminLogin login;
    std::string password;
    if (env_password) {
        password = *env_password;
        login = {"", "ORQUESTRA_ADMIN_PASSWORD"};
    } else {
        auto generated = api::generate_password();
        if (!generated) return generated.error();
        if (auto r = write_private_file(password_file, *generated + "\n"); !r) return r.error();
        password = *generated;
        login = {*generated, "generated, kept in " + password_file.string()};
    }
    api::UserSpec spec{"admin", password, "Admin", "admin@localhost", "Admin", "Orquestra"};
    // On the engine loop, where the store is used; nothing else runs there yet, so the hash's
    // tens of milliseconds delay nobody.
    auto created = node.call([&] { return api::create_user(node.store(), spec); });
    if (!created) return created.error();
    say("Created user admin (role Admin); password {}", login.where);
    return login;
}

// Starts the example services against the registry and waits (bounded) until they show UP.
Result<void> start_examples(ChildProcesses& children, const fs::path& dir,
                            registry::InstanceRegistry& registry, std::uint16_t registry_port,
                            const std::optional<std::string>& registry_auth,
                            const std::vector<std::string>& registry_peers) {
    // This node first, then its peers: the services fail over to them.
    std::string registry_url = fmt::format("http://127.0.0.1:{}/eureka", registry_port);
    for (const auto& peer : registry_peers) registry_url += "," + peer;
    struct Spec {
        const char* program;
        const char* app;
        int instances;
    };
    const Spec specs[] = {{"servico_usuarios", "SERVICO_USUARIOS", 2},
                          {"servico_mensagens", "SERVICO_MENSAGENS", 1}};
    for (const auto& s : specs) {
        for (int i = 1; i <= s.instances; ++i) {
            const std::vector<std::string> args = {
                "--port", "0", "--registry", registry_url, "--lease-renewal-seconds", "5",
                "--lease-duration-seconds", "15"};
            const std::string name = fmt::format("{} #{}", s.program, i);
            std::vector<std::string> env;
            if (registry_auth) env.push_back(std::string(kRegistryAuthEnv) + "=" + *registry_auth);
            auto pid = children.start(name, (dir / s.program).string(), args, env);
            if (!pid) return pid.error();
            say("  started {} (pid {})", name, *pid);
        }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    for (;;) {
        bool all = true;
        for (const auto& s : specs) {
            all = all && registry.up_instances(s.app).size() >= static_cast<std::size_t>(s.instances);
        }
        if (all) break;
        for (const auto& e : children.reap()) {
            return Error{ErrorCode::kUnavailable,
                         fmt::format("{} (pid {}) {} at start", e.name, e.pid, e.how)};
        }
        if (std::chrono::steady_clock::now() > deadline) {
            return Error{ErrorCode::kTimeout,
                         "the example services did not register within 15 s"};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (const auto& s : specs) {
        for (const auto& info : registry.up_instances(s.app)) {
            say("  {:<18} {}:{}  (instance {})", s.program,
                info.ip_addr.empty() ? info.host_name : info.ip_addr, info.port.port,
                info.instance_id);
        }
    }
    return {};
}

}  // namespace

int run_standalone(const StandaloneOptions& options) {
    // Secrets from the environment are taken out of it before any thread or child starts:
    // command tasks inherit this process's environment.
    const std::optional<std::string> admin_password = take_env("ORQUESTRA_ADMIN_PASSWORD");
    auto registry_auth = resolve_registry_auth(options.registry_auth_file,
                                               options.registry_auth_env, options.registry_auth);
    if (!registry_auth) return fail(registry_auth.error().message);
    if (!*registry_auth && !is_loopback_host(options.host) && !options.insecure_registry) {
        return fail(fmt::format(
            "--host {} opens the registry to the network, and it has no credentials: give it "
            "some with --registry-auth-file FILE (a user:password line, mode 600) or "
            "{}=user:password, or pass --insecure-registry to run it open anyway",
            options.host, kRegistryAuthEnv));
    }
    if (!*registry_auth && !is_loopback_host(options.host)) {
        spdlog::warn("--insecure-registry: anyone who reaches {} may register, change or remove "
                     "instances in the registry",
                     options.host);
    }

    auto paths = HomePaths::resolve(options.home, options.dags, options.db);
    if (auto r = secure_home(paths); !r) return fail(r.error().message);

    const fs::path examples = examples_dir();
    if (options.examples) {
        auto copied = copy_example_dags(examples, paths.dags);
        if (!copied) return fail(copied.error().message);
        for (const auto& name : *copied) say("Copied example DAG {} to {}", name, paths.dags.string());
    }

    http::IoPool pool(thread_count(options.threads));
    RegistryNodeOptions registry_options;
    registry_options.http.host = options.host;
    registry_options.http.port = options.registry_port;
    registry_options.api.version = options.version;
    if (*registry_auth) registry_options.api.auth = **registry_auth;
    registry_options.replication.peers = options.registry_peers;
    registry_options.replication.auth = registry_options.api.auth;
    RegistryNode registry(pool.first(), SystemClock::instance(), registry_options, &pool);
    RegistryDirectory directory(registry.registry());
    discovery::ChoiceOptions choice;
    choice.zone = options.zone;
    WorkflowNode node(paths, directory, pool, SystemClock::instance(), {}, choice);
    RegistryCatalog catalog(registry.registry());
    std::optional<api::ApiServer> api;
    http::ServerOptions web_options;
    web_options.host = options.host;
    web_options.port = options.port;
    std::uint16_t registry_port = 0;
    WebFront web(pool, web_options);
    ChildProcesses children;
    std::optional<AdminLogin> admin;

    // Both ports first (a port in use stops everything before anything ran), then the example
    // services (so that the DAGs' first scheduled runs find them), then the engine, and the API.
    // Stopped in reverse: the API's requests end first; the example services deregister while
    // the registry still runs; the event loops stop last.
    Application app;
    app.add(
        "registry",
        [&]() -> Result<void> {
            auto port = registry.start();
            if (!port) return port.error();
            registry_port = *port;
            return {};
        },
        [&] { registry.stop(); });
    web.add_listener(app);
    add_event_loops(app, pool);
    if (options.examples) {
        app.add(
            "example services",
            [&]() -> Result<void> {
                say("Example services:");
                return start_examples(children, examples, registry.registry(), registry_port,
                                      *registry_auth, options.registry_peers);
            },
            [&] {
                for (const auto& e : children.stop_all(std::chrono::milliseconds(3000))) {
                    spdlog::info("{} (pid {}) {}", e.name, e.pid, e.how);
                }
            });
    }
    app.add("scheduler", [&] { return node.start(); }, [&] { node.stop(); });
    app.add(
        "admin user",
        [&]() -> Result<void> {
            auto login = ensure_admin(node, paths.home, admin_password);
            if (!login) return login.error();
            admin = std::move(*login);
            return {};
        },
        nullptr);
    api::ApiOptions api_options;
    api_options.version = options.version;
    api_options.catalog = &catalog;
    api_options.secure_cookies = options.secure_cookies;
    web.add_api(app, api, node, api_options);

    auto started = app.start();
    const bool ok = started.has_value();
    if (!ok) spdlog::error("{}", started.error().message);
    if (ok) {
        const std::string base = fmt::format("http://{}:{}", options.host, web.port());
        say("Orquestra {} standalone", options.version);
        say("  console    {}/  (user admin)", base);
        say("  REST API   {}/api/v1  (user admin, password {})", base,
            admin->password.empty() ? admin->where : admin->password);
        const std::string registry_user =
            *registry_auth ? (*registry_auth)->substr(0, (*registry_auth)->find(':')) : "";
        say("  registry   http://{}:{}/eureka  (status page http://{}:{}/; {})", options.host,
            registry_port, options.host, registry_port,
            registry_user.empty() ? std::string("no credentials")
                                  : "HTTP Basic auth, user " + registry_user);
        say("  home       {}  (DAGs in {}, database {})", paths.home.string(),
            paths.dags.string(), paths.database_shown());
        if (options.examples) {
            const std::string password = admin->password.empty() ? "PASSWORD" : admin->password;
            say("Trigger the example DAG with any of:");
            say("  curl -u admin:{} -H 'Content-Type: application/json' -d '{{\"conf\": "
                "{{\"usuario_id\": 1}}}}' {}/api/v1/dags/servico_usuarios_mensagens/dagRuns",
                password, base);
            say("  orquestra dags trigger servico_usuarios_mensagens --home {} -c "
                "'{{\"usuario_id\": 1}}'",
                paths.home.string());
            say("  {} --url {} --password {}", (examples / "invocar_dag").string(), base,
                password);
        }
    }

    if (ok) {
        say("Ready. Stop with Ctrl-C or SIGTERM.");
        boost::asio::io_context io(1);
        boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGCHLD);
        std::function<void(const boost::system::error_code&, int)> on_signal =
            [&](const boost::system::error_code& error, int sig) {
                if (error) return;
                if (sig == SIGCHLD) {
                    for (const auto& e : children.reap()) {
                        spdlog::warn("{} (pid {}) {}", e.name, e.pid, e.how);
                    }
                    signals.async_wait(on_signal);
                    return;
                }
                spdlog::info("signal {}: stopping", sig);
            };
        signals.async_wait(on_signal);
        io.run();
    }

    app.stop();
    return ok ? 0 : 1;
}

}  // namespace orquestra::app
