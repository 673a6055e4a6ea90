#include "app/standalone.hpp"

#include "api/api.hpp"
#include "api/users.hpp"
#include "app/application.hpp"
#include "app/home_access.hpp"
#include "app/registry_catalog.hpp"
#include "app/registry_directory.hpp"
#include "app/registry_events.hpp"
#include "app/registry_node.hpp"
#include "app/run.hpp"
#include "app/service_file.hpp"
#include "app/supervisor.hpp"
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

// The services standalone supervises: the examples' declarations (with --examples), then
// those of --services.
Result<std::vector<ServiceDecl>> declared_services(const StandaloneOptions& options,
                                                   const fs::path& examples) {
    std::vector<ServiceDecl> all;
    if (options.examples) {
        auto decls = load_service_files(examples / "services");
        if (!decls) return decls.error();
        all = std::move(*decls);
    }
    if (!options.services_dir.empty()) {
        auto decls = load_service_files(options.services_dir);
        if (!decls) return decls.error();
        for (auto& d : *decls) {
            for (const auto& other : all) {
                if (other.name == d.name) {
                    return Error{ErrorCode::kInvalidArgument,
                                 fmt::format("{}:1: service '{}' is also declared in {}", d.file,
                                             d.name, other.file)};
                }
            }
            all.push_back(std::move(d));
        }
    }
    return all;
}

// Waits (bounded) until the example services show UP in the registry, so that the DAG's first
// runs find them, and lists them.
Result<void> wait_for_examples(const Supervisor& supervisor, registry::InstanceRegistry& registry,
                               bool examples_only) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    for (const auto& s : supervisor.services()) {
        const bool example = s.name == "servico_usuarios" || s.name == "servico_mensagens";
        if (examples_only && !example) continue;
        while (registry.up_instances(s.name).size() < static_cast<std::size_t>(s.instances)) {
            if (std::chrono::steady_clock::now() > deadline) {
                return Error{ErrorCode::kTimeout,
                             fmt::format("{} did not register within 15 s", s.name)};
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    for (const auto& s : supervisor.services()) {
        for (const auto& info : registry.up_instances(s.name)) {
            say("  {:<18} {}:{}  (instance {})", s.name,
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
    registry_options.health = options.health;
    RegistryNode registry(pool.first(), SystemClock::instance(), registry_options, &pool);
    RegistryDirectory directory(registry.registry());
    discovery::ChoiceOptions choice;
    choice.zone = options.zone;
    scheduler::EngineOptions engine_options;
    engine_options.default_pool_slots = options.default_pool_slots;
    WorkflowNode node(paths, directory, pool, SystemClock::instance(), engine_options, choice);
    RegistryCatalog catalog(registry.registry());
    std::optional<api::ApiServer> api;
    http::ServerOptions web_options;
    web_options.host = options.host;
    web_options.port = options.port;
    std::uint16_t registry_port = 0;
    WebFront web(pool, web_options);
    std::optional<Supervisor> supervisor;
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
    auto services = declared_services(options, examples);
    if (!services) return fail(services.error().message);
    if (!services->empty()) {
        app.add(
            "services",
            [&]() -> Result<void> {
                say("Services:");
                // This node first, then its peers: the services fail over to them.
                std::string registry_url = fmt::format("http://127.0.0.1:{}/eureka", registry_port);
                for (const auto& peer : options.registry_peers) registry_url += "," + peer;
                SupervisorOptions supervisor_options;
                supervisor_options.registry_url = registry_url;
                supervisor_options.registry_auth = *registry_auth;
                supervisor.emplace(std::move(*services), supervisor_options,
                                   SystemClock::instance(),
                                   registry_hooks::cancel_in(registry.registry(),
                                                             supervisor_options.host));
                if (auto r = supervisor->start(); !r) return r.error();
                return wait_for_examples(*supervisor, registry.registry(), true);
            },
            [&] {
                if (supervisor) supervisor->stop();
            });
    }
    app.add(
        "scheduler",
        [&]() -> Result<void> {
            if (auto r = node.start(); !r) return r.error();
            feed_registry_events(registry.registry(), node.engine());
            return {};
        },
        [&] { node.stop(); });
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
        boost::asio::signal_set signals(io, SIGINT, SIGTERM);
        std::function<void(const boost::system::error_code&, int)> on_signal =
            [&](const boost::system::error_code& error, int sig) {
                if (!error) spdlog::info("signal {}: stopping", sig);
            };
        signals.async_wait(on_signal);
        io.run();
    }

    app.stop();
    return ok ? 0 : 1;
}

}  // namespace orquestra::app
