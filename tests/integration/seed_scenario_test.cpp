// The seed lesson end to end with real processes: `orquestra standalone --examples` on free
// ports (registry, REST API, scheduler, and the example services as its children), driven over
// HTTP the way the lesson's users drive Airflow, plus the invocar_dag program.
#include "core/strings.hpp"
#include "test_http.hpp"
#include "wait.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

extern char** environ;

namespace orquestra {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Reply;
using testing::eventually;
using testing::read_file;

const std::string kDag = "servico_usuarios_mensagens";
const std::string kPassword = "segredo-do-teste";

// Starts `args` with stdout and stderr appended to `log` and `extra_env` added to the
// environment. The child is killed if this test process dies, so a crashed test leaves no
// standalone (and, through it, no example service) behind.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log,
            const std::vector<std::string>& extra_env = {}) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_text(extra_env);
    for (char** e = environ; *e != nullptr; ++e) env_text.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0) << log;
    if (fd < 0) return -1;
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        execve(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    close(fd);
    EXPECT_GT(pid, 0) << "cannot start " << args[0];
    return pid;
}

// Exit status, or -1 when killed or still running after `limit` (then it is killed).
int wait_exit(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        std::this_thread::sleep_for(10ms);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

bool process_exists(pid_t pid) { return kill(pid, 0) == 0; }

class SeedScenarioTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        home_ = fs::temp_directory_path() / ("orquestra-seed-" + std::to_string(rd()));
        fs::create_directories(home_);
        out_ = home_ / "standalone.out";
    }
    void TearDown() override {
        if (standalone_ > 0) {
            kill(standalone_, SIGKILL);
            waitpid(standalone_, nullptr, 0);
        }
        // The kernel sends the children SIGTERM when their parent dies; make sure of it.
        for (pid_t pid : service_pids_) kill(pid, SIGKILL);
        if (HasFailure()) std::cerr << "standalone output:\n" << read_file(out_) << "\n";
        fs::remove_all(home_);
    }

    // Starts standalone and reads its ports and its children's pids from what it prints.
    void start(bool with_password_env = true, const std::vector<std::string>& extra_args = {},
               std::vector<std::string> env = {}) {
        if (with_password_env) env.push_back("ORQUESTRA_ADMIN_PASSWORD=" + kPassword);
        std::vector<std::string> args = {ORQUESTRA_BINARY, "standalone", "--examples", "--home",
                                         home_.string(), "--port", "0", "--registry-port", "0",
                                         "--threads", "2"};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        standalone_ = spawn(args, out_, env);
        ASSERT_GT(standalone_, 0);
        ASSERT_TRUE(eventually([&] {
            return read_file(out_).find("Ready.") != std::string::npos ||
                   waitpid(standalone_, nullptr, WNOHANG) == standalone_;
        }, 30s)) << read_file(out_);
        const std::string text = read_file(out_);
        ASSERT_NE(text.find("Ready."), std::string::npos) << text;
        std::smatch m;
        ASSERT_TRUE(std::regex_search(text, m, std::regex(R"(REST API +http://127\.0\.0\.1:(\d+)/api/v1)")));
        api_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
        ASSERT_TRUE(std::regex_search(text, m, std::regex(R"(registry +http://127\.0\.0\.1:(\d+)/eureka)")));
        registry_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
        ASSERT_TRUE(std::regex_search(text, m, std::regex(R"(servico_mensagens +127\.0\.0\.1:(\d+))")));
        mensagens_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
        const std::regex started(R"(started (servico_\w+) #\d \(pid (\d+)\))");
        for (auto it = std::sregex_iterator(text.begin(), text.end(), started);
             it != std::sregex_iterator(); ++it) {
            const pid_t pid = std::stoi((*it)[2]);
            service_pids_.push_back(pid);
            if ((*it)[1] == "servico_usuarios") usuarios_pids_.push_back(pid);
        }
        ASSERT_EQ(service_pids_.size(), 3u) << text;
        ASSERT_EQ(usuarios_pids_.size(), 2u) << text;
    }

    std::vector<std::pair<std::string, std::string>> auth(const std::string& user,
                                                          const std::string& password) {
        return {{"Authorization", "Basic " + base64_encode(user + ":" + password)},
                {"Content-Type", "application/json"}};
    }
    Reply api(const std::string& method, const std::string& path, const std::string& body = "",
              const std::string& user = "admin", const std::string& password = kPassword) {
        return testing::request(api_port_, method, "/api/v1" + path, body, auth(user, password));
    }
    Reply trigger(const std::string& run_id, const std::string& conf) {
        return api("POST", "/dags/" + kDag + "/dagRuns",
                   R"({"dag_run_id": ")" + run_id + R"(", "conf": )" + conf + "}");
    }
    // Adds a Viewer with the CLI while standalone runs, and triggers as that user.
    int trigger_as_viewer() {
        const int rc = wait_exit(spawn({ORQUESTRA_BINARY, "users", "create", "--home",
                                        home_.string(), "-u", "leitor", "-p", "leitor-pw", "-r",
                                        "Viewer", "-e", "leitor@example.com", "-f", "Le", "-l",
                                        "Itor"},
                                       home_ / "cli.out"),
                                 30s);
        EXPECT_EQ(rc, 0) << read_file(home_ / "cli.out");
        EXPECT_EQ(api("GET", "/dags/" + kDag, "", "leitor", "leitor-pw").status, 200);
        return api("POST", "/dags/" + kDag + "/dagRuns", R"({"conf": {"usuario_id": 1}})",
                   "leitor", "leitor-pw")
            .status;
    }
    // The run's final state ("" when it did not finish in time).
    std::string wait_run(const std::string& run_id) {
        std::string state;
        eventually([&] {
            auto r = api("GET", "/dags/" + kDag + "/dagRuns/" + run_id);
            if (r.status != 200) return false;
            state = json::parse(r.body).at("state").as_string().c_str();
            return state == "success" || state == "failed";
        }, 30s);
        return state == "success" || state == "failed" ? state : "";
    }
    std::map<std::string, std::string> task_states(const std::string& run_id) {
        std::map<std::string, std::string> out;
        auto r = api("GET", "/dags/" + kDag + "/dagRuns/" + run_id + "/taskInstances");
        EXPECT_EQ(r.status, 200) << r.body;
        if (r.status != 200) return out;
        const json::value doc = json::parse(r.body);
        for (const auto& ti : doc.at("task_instances").as_array()) {
            const auto& o = ti.as_object();
            out[o.at("task_id").as_string().c_str()] =
                o.at("state").is_null() ? "none" : o.at("state").as_string().c_str();
        }
        return out;
    }

    // Messages servico_mensagens holds for `grupo`.
    std::vector<json::object> messages(const std::string& grupo) {
        auto r = testing::request(mensagens_port_, "GET", "/mensagens?grupo=" + grupo);
        EXPECT_EQ(r.status, 200) << r.body;
        std::vector<json::object> out;
        if (r.status != 200) return out;
        const json::value doc = json::parse(r.body);
        for (const auto& m : doc.at("mensagens").as_array()) out.push_back(m.as_object());
        return out;
    }
    // The DAG's daily schedule makes one run at start (usuario_id 1 by default); the tests
    // begin once every run so far has finished.
    void wait_until_runs_settle() {
        EXPECT_TRUE(eventually([&] {
            auto r = api("GET", "/dags/" + kDag + "/dagRuns");
            if (r.status != 200) return false;
            const json::value doc = json::parse(r.body);
            for (const auto& run : doc.at("dag_runs").as_array()) {
                const auto state = run.at("state").as_string();
                if (state != "success" && state != "failed") return false;
            }
            return true;
        }));
    }

    fs::path home_;
    fs::path out_;
    pid_t standalone_ = -1;
    std::uint16_t api_port_ = 0;
    std::uint16_t registry_port_ = 0;
    std::uint16_t mensagens_port_ = 0;
    std::vector<pid_t> service_pids_;
    std::vector<pid_t> usuarios_pids_;
};

TEST_F(SeedScenarioTest, RunsTheSeedLessonOverRest) {
    ASSERT_NO_FATAL_FAILURE(start());

    // Both services are registered under their names, servico_usuarios twice.
    auto apps = testing::request(registry_port_, "GET", "/eureka/apps/SERVICO_USUARIOS", "",
                                 {{"Accept", "application/json"}});
    ASSERT_EQ(apps.status, 200);
    EXPECT_EQ(json::parse(apps.body).at("application").at("instance").as_array().size(), 2u);

    // The first scheduled run found the services registered and sent its message.
    wait_until_runs_settle();
    auto list = api("GET", "/dags/" + kDag + "/dagRuns");
    ASSERT_EQ(list.status, 200);
    const json::value runs = json::parse(list.body);
    for (const auto& run : runs.at("dag_runs").as_array()) {
        EXPECT_EQ(run.at("state").as_string(), "success") << list.body;
    }
    const std::size_t before = messages("admin").size();

    // Usuário 1 (Ana) is in admin: the message is sent and kept by servico_mensagens.
    ASSERT_EQ(trigger("ana", R"({"usuario_id": 1})").status, 200);
    EXPECT_EQ(wait_run("ana"), "success");
    auto states = task_states("ana");
    EXPECT_EQ(states["obter_usuario"], "success");
    EXPECT_EQ(states["enviar_mensagem"], "success");
    auto sent = messages("admin");
    ASSERT_EQ(sent.size(), before + 1);
    EXPECT_EQ(sent.back().at("usuario_id").as_int64(), 1);
    EXPECT_EQ(sent.back().at("mensagem").as_string(), "Mensagem automática do Orquestra");
    EXPECT_TRUE(messages("vendas").empty());
    EXPECT_NE(read_file(out_).find("Mensagem enviada para o grupo 'admin': Mensagem automática"),
              std::string::npos);

    // Usuário 3 (Carla) is not in admin: enviar_mensagem is skipped and the run succeeds.
    ASSERT_EQ(trigger("carla", R"({"usuario_id": 3})").status, 200);
    EXPECT_EQ(wait_run("carla"), "success");
    states = task_states("carla");
    EXPECT_EQ(states["obter_usuario"], "success");
    EXPECT_EQ(states["enviar_mensagem"], "skipped");

    // Usuário 99 does not exist: obter_usuario fails (the 404 is not retried), the run fails.
    ASSERT_EQ(trigger("ninguem", R"({"usuario_id": 99})").status, 200);
    EXPECT_EQ(wait_run("ninguem"), "failed");
    states = task_states("ninguem");
    EXPECT_EQ(states["obter_usuario"], "failed");
    EXPECT_EQ(states["enviar_mensagem"], "upstream_failed");
    auto log = testing::request(
        api_port_, "GET",
        "/api/v1/dags/" + kDag + "/dagRuns/ninguem/taskInstances/obter_usuario/logs/1"
        "?full_content=true",
        "", {auth("admin", kPassword)[0], {"Accept", "text/plain"}});
    ASSERT_EQ(log.status, 200);
    EXPECT_NE(log.body.find("404"), std::string::npos) << log.body;
    EXPECT_NE(log.body.find("99 não encontrado"), std::string::npos) << log.body;
    // Only Ana's message was sent.
    EXPECT_EQ(messages("admin").size(), before + 1);

    // Usuário 0 breaks the params schema: 400 naming the field, and no run.
    auto bad = trigger("zero", R"({"usuario_id": 0})");
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("usuario_id"), std::string::npos) << bad.body;
    EXPECT_EQ(api("GET", "/dags/" + kDag + "/dagRuns/zero").status, 404);

    // The same run id again: 409.
    EXPECT_EQ(trigger("ana", R"({"usuario_id": 1})").status, 409);

    // A wrong password: 401. A Viewer may read but not trigger: 403.
    EXPECT_EQ(api("GET", "/dags", "", "admin", "errada").status, 401);
    EXPECT_EQ(trigger_as_viewer(), 403);

    // invocar_dag, the seed's invocar_dag.py in C++: triggers usuário 1 and prints success.
    const fs::path invocar_out = home_ / "invocar.out";
    pid_t invocar = spawn({ORQUESTRA_EXAMPLES_DIR "/invocar_dag", "--url",
                           "http://127.0.0.1:" + std::to_string(api_port_), "--password",
                           kPassword, "--run-id", "invocar_1"},
                          invocar_out);
    EXPECT_EQ(wait_exit(invocar, 60s), 0) << read_file(invocar_out);
    EXPECT_NE(read_file(invocar_out).find("invocar_1: success"), std::string::npos)
        << read_file(invocar_out);
    EXPECT_EQ(messages("admin").size(), before + 2);
}

TEST_F(SeedScenarioTest, ADeadInstanceIsCancelledAtOnceAndRestarted) {
    ASSERT_NO_FATAL_FAILURE(start());
    wait_until_runs_settle();
    ASSERT_EQ(kill(usuarios_pids_[0], SIGKILL), 0);
    // Standalone's supervisor notices its child ended, cancels its instance in the registry at
    // once (not when its lease runs out) and starts it again after its backoff (1 s).
    const std::string ended =
        "servico_usuarios #1 (pid " + std::to_string(usuarios_pids_[0]) + ") killed by signal 9";
    EXPECT_TRUE(eventually([&] { return read_file(out_).find(ended) != std::string::npos; }));
    EXPECT_TRUE(eventually(
        [&] { return read_file(out_).find("restarted servico_usuarios #1") != std::string::npos; }));
    // Every run succeeds meanwhile: no call goes to the dead instance.
    for (int i = 0; i < 6; ++i) {
        const std::string run_id = "depois_" + std::to_string(i);
        ASSERT_EQ(trigger(run_id, R"({"usuario_id": 2})").status, 200);
        EXPECT_EQ(wait_run(run_id), "success") << run_id;
        EXPECT_EQ(task_states(run_id)["enviar_mensagem"], "success") << run_id;
    }
    // Both instances are UP again, the restarted one under the id it had.
    EXPECT_TRUE(eventually([&] {
        auto apps = testing::request(registry_port_, "GET", "/eureka/apps/SERVICO_USUARIOS", "",
                                     {{"Accept", "application/json"}});
        std::size_t up = 0;
        for (std::size_t p = 0; (p = apps.body.find("\"status\":\"UP\"", p)) != std::string::npos; ++p) ++up;
        return apps.status == 200 && up == 2 &&
               apps.body.find("127.0.0.1:servico_usuarios:1") != std::string::npos;
    }));
}

TEST_F(SeedScenarioTest, SigtermStopsEverythingCleanly) {
    ASSERT_NO_FATAL_FAILURE(start());
    ASSERT_EQ(kill(standalone_, SIGTERM), 0);
    EXPECT_EQ(wait_exit(standalone_, 20s), 0) << read_file(out_);
    standalone_ = -1;
    for (pid_t pid : service_pids_) EXPECT_FALSE(process_exists(pid)) << pid;
    // Each service stopped on SIGTERM by itself (deregistering), none had to be killed.
    const std::string text = read_file(out_);
    for (pid_t pid : service_pids_) {
        EXPECT_NE(text.find("(pid " + std::to_string(pid) + ") exited with status 0"),
                  std::string::npos)
            << text;
    }
}

TEST_F(SeedScenarioTest, GeneratesTheAdminPasswordOnFirstStartAndKeepsIt) {
    ASSERT_NO_FATAL_FAILURE(start(/*with_password_env=*/false));
    const fs::path file = home_ / "standalone_admin_password.txt";
    std::string password = read_file(file);
    ASSERT_FALSE(password.empty());
    if (password.back() == '\n') password.pop_back();
    EXPECT_GE(password.size(), 16u);
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_NE(read_file(out_).find("password " + password), std::string::npos);
    EXPECT_EQ(api("GET", "/dags/" + kDag, "", "admin", password).status, 200);
    EXPECT_EQ(api("GET", "/dags/" + kDag, "", "admin", kPassword).status, 401);

    // The main port serves the console: its page (with its bundle and a Content-Security-
    // Policy) for its paths, the same page with 404 for any other.
    auto page = testing::request(api_port_, "GET", "/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(page.body.find("src=\"/assets/"), std::string::npos) << page.body;
    EXPECT_NE(page.header("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(testing::request(api_port_, "GET", "/nada").status, 404);
}

// The mode bits group and others have on `path` (0 when private), and its owner's.
unsigned others_mode(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 077;
}
unsigned owner_mode(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0700;
}

TEST_F(SeedScenarioTest, HomeIsPrivateAndTheGeneratedPasswordIsPrintedOnlyOnce) {
    // The test made the home 0755; standalone tightens it, and creates the rest private.
    ASSERT_EQ(others_mode(home_), 055u);
    ASSERT_NO_FATAL_FAILURE(start(/*with_password_env=*/false));
    // Ready: the database is open in WAL mode and written (its -wal and -shm exist).
    for (const fs::path& dir : {home_, home_ / "dags", home_ / "logs"}) {
        EXPECT_EQ(owner_mode(dir), 0700u) << dir;
        EXPECT_EQ(others_mode(dir), 0u) << dir;
    }
    const fs::path password_file = home_ / "standalone_admin_password.txt";
    for (const fs::path& file : {home_ / "orquestra.db", home_ / "orquestra.db-wal",
                                home_ / "orquestra.db-shm", password_file}) {
        ASSERT_TRUE(fs::exists(file)) << file;
        EXPECT_EQ(owner_mode(file), 0600u) << file;
        EXPECT_EQ(others_mode(file), 0u) << file;
    }
    const std::string first = read_file(out_);
    EXPECT_NE(first.find("was open to other users"), std::string::npos) << first;
    std::string password = read_file(password_file);
    if (!password.empty() && password.back() == '\n') password.pop_back();
    ASSERT_GE(password.size(), 16u);
    EXPECT_NE(first.find(password), std::string::npos) << "printed at creation";

    // Stop; loosen the database as an old version left it; start again.
    ASSERT_EQ(kill(standalone_, SIGTERM), 0);
    ASSERT_EQ(wait_exit(standalone_, 20s), 0) << first;
    standalone_ = -1;
    service_pids_.clear();
    usuarios_pids_.clear();
    ASSERT_EQ(chmod((home_ / "orquestra.db").c_str(), 0644), 0);
    out_ = home_ / "second.out";
    ASSERT_NO_FATAL_FAILURE(start(/*with_password_env=*/false));
    const std::string second = read_file(out_);
    EXPECT_EQ(second.find(password), std::string::npos) << second;
    EXPECT_NE(second.find("password in " + password_file.string()), std::string::npos) << second;
    EXPECT_NE(second.find("orquestra.db was open to other users"), std::string::npos) << second;
    EXPECT_EQ(others_mode(home_ / "orquestra.db"), 0u);
    EXPECT_EQ(api("GET", "/dags/" + kDag, "", "admin", password).status, 200);
}

TEST_F(SeedScenarioTest, RegistryCredentialsGuardTheRegistryAndReachTheServices) {
    const fs::path auth_file = home_ / "registry.auth";
    std::ofstream(auth_file) << "eureka:segredo-do-registro\n";
    ASSERT_EQ(chmod(auth_file.c_str(), 0600), 0);
    // The services registered (start() waits for them): they had the credentials.
    ASSERT_NO_FATAL_FAILURE(start(true, {"--registry-auth-file", auth_file.string()}));
    const std::string text = read_file(out_);
    EXPECT_NE(text.find("HTTP Basic auth, user eureka"), std::string::npos) << text;
    EXPECT_EQ(text.find("segredo-do-registro"), std::string::npos) << text;

    EXPECT_EQ(testing::request(registry_port_, "GET", "/eureka/apps").status, 401);
    auto wrong = testing::request(registry_port_, "GET", "/eureka/apps", "",
                                  {{"Authorization", "Basic " + base64_encode("eureka:x")}});
    EXPECT_EQ(wrong.status, 401);
    auto apps = testing::request(
        registry_port_, "GET", "/eureka/apps/SERVICO_USUARIOS", "",
        {{"Accept", "application/json"},
         {"Authorization", "Basic " + base64_encode("eureka:segredo-do-registro")}});
    ASSERT_EQ(apps.status, 200);
    EXPECT_EQ(json::parse(apps.body).at("application").at("instance").as_array().size(), 2u);
    // Handed over through the environment: not in any service's command line.
    for (pid_t pid : service_pids_) {
        const std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
        EXPECT_FALSE(cmdline.empty()) << pid;
        EXPECT_EQ(cmdline.find("segredo"), std::string::npos) << cmdline;
    }
    // The engine still finds the services (the first scheduled run succeeds).
    wait_until_runs_settle();
    auto runs = api("GET", "/dags/" + kDag + "/dagRuns");
    ASSERT_EQ(runs.status, 200);
    const json::value doc = json::parse(runs.body);
    for (const auto& run : doc.at("dag_runs").as_array()) {
        EXPECT_EQ(run.at("state").as_string(), "success") << runs.body;
    }
}

TEST_F(SeedScenarioTest, ANetworkHostNeedsRegistryCredentialsFromAPrivateFile) {
    auto run = [&](std::vector<std::string> extra, std::vector<std::string> env = {}) {
        std::vector<std::string> args = {ORQUESTRA_BINARY, "standalone", "--home",
                                         home_.string(), "--host", "0.0.0.0", "--port", "0",
                                         "--registry-port", "0"};
        args.insert(args.end(), extra.begin(), extra.end());
        fs::remove(out_);
        standalone_ = spawn(args, out_, env);
        const int rc = wait_exit(standalone_, 20s);
        standalone_ = -1;
        return rc;
    };
    EXPECT_EQ(run({}), 1);
    std::string text = read_file(out_);
    EXPECT_NE(text.find("opens the registry to the network"), std::string::npos) << text;
    EXPECT_NE(text.find("--insecure-registry"), std::string::npos) << text;

    const fs::path auth_file = home_ / "registry.auth";
    std::ofstream(auth_file) << "eureka:segredo\n";
    ASSERT_EQ(chmod(auth_file.c_str(), 0644), 0);
    EXPECT_EQ(run({"--registry-auth-file", auth_file.string()}), 1);
    text = read_file(out_);
    EXPECT_NE(text.find("chmod 600 " + auth_file.string()), std::string::npos) << text;

    EXPECT_EQ(run({}, {"ORQUESTRA_REGISTRY_AUTH=no-colon"}), 1);
    text = read_file(out_);
    EXPECT_NE(text.find("ORQUESTRA_REGISTRY_AUTH must be user:password"), std::string::npos)
        << text;
    // Nothing listened, nothing was created.
    EXPECT_FALSE(fs::exists(home_ / "orquestra.db"));
}

}  // namespace
}  // namespace orquestra

namespace orquestra {
namespace {

TEST_F(SeedScenarioTest, APortInUseStopsItBeforeAnythingRuns) {
    // Hold a port, and ask standalone to serve the REST API on it.
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(fd, 1), 0);
    socklen_t len = sizeof addr;
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const std::string busy = std::to_string(ntohs(addr.sin_port));

    standalone_ = spawn({ORQUESTRA_BINARY, "standalone", "--examples", "--home", home_.string(),
                         "--port", busy, "--registry-port", "0"},
                        out_, {"ORQUESTRA_ADMIN_PASSWORD=" + kPassword});
    EXPECT_EQ(wait_exit(standalone_, 20s), 1);
    standalone_ = -1;
    close(fd);
    const std::string text = read_file(out_);
    EXPECT_NE(text.find("REST API: cannot listen on 127.0.0.1:" + busy), std::string::npos) << text;
    EXPECT_EQ(text.find("started servico"), std::string::npos) << text;
}

}  // namespace
}  // namespace orquestra
