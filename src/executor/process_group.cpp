#include "executor/process_group.hpp"

#include "core/strings.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <unordered_map>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <optional>
#include <thread>

extern char** environ;

namespace orquestra::executor {

namespace {

constexpr std::size_t kMaxEnvironBytes = 1u << 20;

std::string read_small_file(const std::string& path, std::size_t limit) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string out;
    char buf[8192];
    while (out.size() < limit) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

const std::string& boot_id() {
    static const std::string id = [] {
        std::string s = read_small_file("/proc/sys/kernel/random/boot_id", 128);
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }();
    return id;
}

struct ProcStat {
    char state = '?';
    int pgrp = 0;
    unsigned long long start_ticks = 0;
};

std::optional<ProcStat> read_stat(int pid) {
    std::string text = read_small_file(fmt::format("/proc/{}/stat", pid), 4096);
    auto close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    // After the command name: state ppid pgrp ... with the start time the 20th field.
    std::string_view rest(text);
    rest.remove_prefix(close + 1);
    std::vector<std::string_view> fields;
    while (!rest.empty() && fields.size() < 20) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        auto end = rest.find(' ');
        fields.push_back(rest.substr(0, end));
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end);
    }
    if (fields.size() < 20 || fields[0].empty()) return std::nullopt;
    ProcStat st;
    st.state = fields[0][0];
    auto parse = [](std::string_view s, auto& out) {
        return std::from_chars(s.data(), s.data() + s.size(), out).ec == std::errc{};
    };
    if (!parse(fields[2], st.pgrp) || !parse(fields[19], st.start_ticks)) return std::nullopt;
    return st;
}

std::optional<unsigned long long> identity_ticks(std::string_view identity) {
    auto colon = identity.rfind(':');
    if (colon == std::string_view::npos || identity.substr(0, colon) != boot_id()) {
        return std::nullopt;
    }
    unsigned long long ticks = 0;
    auto digits = identity.substr(colon + 1);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), ticks).ec != std::errc{}) {
        return std::nullopt;
    }
    return ticks;
}

bool environ_has(int pid, const std::string& entry) {
    std::string env = read_small_file(fmt::format("/proc/{}/environ", pid), kMaxEnvironBytes);
    std::size_t pos = 0;
    while (pos < env.size()) {
        auto end = env.find('\0', pos);
        if (end == std::string::npos) end = env.size();
        if (std::string_view(env).substr(pos, end - pos) == entry) return true;
        pos = end + 1;
    }
    return false;
}

std::vector<int> all_pids() {
    std::vector<int> out;
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) return out;
    while (auto* e = ::readdir(dir)) {
        int pid = 0;
        std::string_view name(e->d_name);
        if (std::from_chars(name.data(), name.data() + name.size(), pid).ec == std::errc{} &&
            pid > 0) {
            out.push_back(pid);
        }
    }
    ::closedir(dir);
    return out;
}

bool alive(int pid) {
    auto st = read_stat(pid);
    return st && st->state != 'Z' && st->state != 'X';
}

}  // namespace

std::string process_identity(int pid) {
    if (boot_id().empty()) return {};
    auto st = read_stat(pid);
    if (!st) return {};
    return fmt::format("{}:{}", boot_id(), st->start_ticks);
}

std::string try_marker(std::string_view owner, std::string_view dag_id, std::string_view run_id,
                       std::string_view task_id, int try_number) {
    // Ids never contain '/', so the marker is unambiguous.
    return fmt::format("{}/{}/{}/{}/{}", owner, dag_id, run_id, task_id, try_number);
}

int stop_try_processes(const TryProcesses& target, int wait_ms) {
    const int self = static_cast<int>(::getpid());
    const int own_group = static_cast<int>(::getpgrp());
    std::optional<unsigned long long> leader_start;
    bool group_ours = false;  // the recorded group still is the try's
    if (target.group > 0 && target.group != own_group && target.group != self) {
        leader_start = identity_ticks(target.identity);
        if (leader_start) {
            auto leader = read_stat(target.group);
            // The leader is there with its identity, or gone (a reused pid never leads a
            // group while members of the old one remain: Linux keeps a pid in use while it
            // is some process's group id).
            group_ours = !leader || leader->start_ticks == *leader_start;
        }
    }
    const std::string entry =
        target.marker.empty() ? std::string() : fmt::format("{}={}", kTryMarkerVariable, target.marker);
    std::vector<int> signalled;
    for (int pid : all_pids()) {
        if (pid == self) continue;
        auto st = read_stat(pid);
        if (!st || st->state == 'Z' || st->pgrp == own_group) continue;
        bool match = group_ours && st->pgrp == target.group && st->start_ticks >= *leader_start;
        if (!match && !entry.empty()) match = environ_has(pid, entry);
        if (!match) continue;
        if (::kill(pid, SIGKILL) == 0) signalled.push_back(pid);
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    for (int pid : signalled) {
        while (alive(pid) && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    return static_cast<int>(signalled.size());
}

namespace {

constexpr std::string_view kDefaultPath = "/bin:/usr/bin";  // what execvp uses without PATH

std::string errno_text(int err) {
    std::array<char, 256> buffer{};
    return ::strerror_r(err, buffer.data(), buffer.size());  // the GNU variant
}

Error internal_error(std::string_view what, int err) {
    return Error{ErrorCode::kInternal, fmt::format("{} failed: {}", what, errno_text(err))};
}

Error cannot_run(std::string_view program, int err) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("cannot run '{}': {}", program, errno_text(err))};
}

Error invalid(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

Result<void> validate(const SpawnRequest& request) {
    if (request.argv.empty() || request.argv.front().empty()) {
        return invalid("a program to run needs a name (argv[0] is empty)");
    }
    for (const std::string& arg : request.argv) {
        if (has_nul(arg)) return invalid("a command argument contains a NUL byte");
    }
    for (const auto& [name, value] : request.env) {
        if (name.empty() || name.find('=') != std::string::npos || has_nul(name)) {
            return invalid(fmt::format("bad environment variable name '{}'", name));
        }
        if (has_nul(value)) {
            return invalid(fmt::format("environment variable '{}' contains a NUL byte", name));
        }
    }
    if (request.cwd && (request.cwd->empty() || has_nul(*request.cwd))) {
        return invalid("a command's working directory is empty or contains a NUL byte");
    }
    return {};
}

class SpawnFileActions {
public:
    SpawnFileActions() { init_error_ = ::posix_spawn_file_actions_init(&actions_); }
    SpawnFileActions(const SpawnFileActions&) = delete;
    SpawnFileActions& operator=(const SpawnFileActions&) = delete;
    ~SpawnFileActions() {
        if (init_error_ == 0) ::posix_spawn_file_actions_destroy(&actions_);
    }
    int init_error() const { return init_error_; }
    posix_spawn_file_actions_t* get() { return &actions_; }

private:
    posix_spawn_file_actions_t actions_{};
    int init_error_ = 0;
};

class SpawnAttributes {
public:
    SpawnAttributes() { init_error_ = ::posix_spawnattr_init(&attributes_); }
    SpawnAttributes(const SpawnAttributes&) = delete;
    SpawnAttributes& operator=(const SpawnAttributes&) = delete;
    ~SpawnAttributes() {
        if (init_error_ == 0) ::posix_spawnattr_destroy(&attributes_);
    }
    int init_error() const { return init_error_; }
    posix_spawnattr_t* get() { return &attributes_; }

private:
    posix_spawnattr_t attributes_{};
    int init_error_ = 0;
};

// The child: stdin /dev/null, stdout and stderr onto the given descriptors, no other
// descriptor of ours (closefrom also covers descriptors other threads opened without
// O_CLOEXEC), in `cwd`.
Result<void> set_file_actions(SpawnFileActions& actions, int stdout_fd, int stderr_fd,
                              const std::optional<std::string>& cwd) {
    if (actions.init_error() != 0) {
        return internal_error("posix_spawn_file_actions_init", actions.init_error());
    }
    posix_spawn_file_actions_t* a = actions.get();
    int rc = ::posix_spawn_file_actions_addopen(a, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (rc == 0 && stdout_fd >= 0) rc = ::posix_spawn_file_actions_adddup2(a, stdout_fd, STDOUT_FILENO);
    if (rc == 0 && stderr_fd >= 0) rc = ::posix_spawn_file_actions_adddup2(a, stderr_fd, STDERR_FILENO);
    if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(a, STDERR_FILENO + 1);
    if (rc == 0 && cwd) rc = ::posix_spawn_file_actions_addchdir_np(a, cwd->c_str());
    if (rc != 0) return internal_error("posix_spawn_file_actions", rc);
    return {};
}

// Every signal at its default disposition and none blocked, whatever the calling thread
// ignores or blocks; a process group of its own when asked.
Result<void> set_attributes(SpawnAttributes& attributes, bool own_group) {
    if (attributes.init_error() != 0) {
        return internal_error("posix_spawnattr_init", attributes.init_error());
    }
    sigset_t all;
    sigset_t none;
    ::sigfillset(&all);
    ::sigemptyset(&none);
    posix_spawnattr_t* a = attributes.get();
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (own_group) flags = static_cast<short>(flags | POSIX_SPAWN_SETPGROUP);
    int rc = ::posix_spawnattr_setflags(a, flags);
    if (rc == 0 && own_group) rc = ::posix_spawnattr_setpgroup(a, 0);
    if (rc == 0) rc = ::posix_spawnattr_setsigdefault(a, &all);
    if (rc == 0) rc = ::posix_spawnattr_setsigmask(a, &none);
    if (rc != 0) return internal_error("posix_spawnattr", rc);
    return {};
}

// An absolute path to an existing directory the child may enter, or why not.
Result<std::string> check_working_directory(std::string_view program, const std::string& cwd) {
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(cwd, ec);
    if (ec) {
        return Error{
            ErrorCode::kInvalidArgument,
            fmt::format("cannot run '{}': working directory '{}': {}", program, cwd, ec.message())};
    }
    struct stat st {};
    int err = 0;
    if (::stat(absolute.c_str(), &st) != 0) {
        err = errno;
    } else if (!S_ISDIR(st.st_mode)) {
        err = ENOTDIR;
    } else if (::access(absolute.c_str(), X_OK) != 0) {
        err = errno;
    }
    if (err != 0) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("cannot run '{}': working directory '{}': {}", program, cwd,
                                 errno_text(err))};
    }
    return absolute.string();
}

std::string_view variable_name(std::string_view entry) { return entry.substr(0, entry.find('=')); }

// Our environment with the request's variables added over it, as NAME=value strings.
std::vector<std::string> build_environment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::unordered_map<std::string_view, std::size_t> last_of;  // name -> index in overrides
    for (std::size_t i = 0; i < overrides.size(); ++i) last_of[overrides[i].first] = i;

    std::vector<std::string> env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        if (!last_of.contains(variable_name(*entry))) env.emplace_back(*entry);
    }
    for (std::size_t i = 0; i < overrides.size(); ++i) {
        if (last_of[overrides[i].first] != i) continue;
        env.push_back(overrides[i].first + "=" + overrides[i].second);
    }
    return env;
}

std::optional<std::string_view> find_variable(const std::vector<std::string>& env,
                                              std::string_view name) {
    for (const std::string& entry : env) {
        if (variable_name(entry) == name) return std::string_view(entry).substr(name.size() + 1);
    }
    return std::nullopt;
}

// execvp's search, done here so that it uses the child's PATH and a missing program is reported
// clearly. A name with a '/' is left to execve, relative to the child's working directory.
Result<std::string> find_program(const std::string& name, std::string_view path_list,
                                 const std::optional<std::string>& cwd) {
    if (name.find('/') != std::string::npos) return name;
    bool denied = false;
    for (std::string_view dir : split(path_list, ':')) {
        if (dir.empty()) dir = ".";
        std::string candidate;
        if (dir.front() != '/' && cwd) candidate.append(*cwd).append("/");
        candidate.append(dir).append("/").append(name);
        struct stat st {};
        if (::stat(candidate.c_str(), &st) != 0) continue;
        if (S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
        denied = true;  // like execvp: EACCES if something was found but none could run
    }
    return cannot_run(name, denied ? EACCES : ENOENT);
}

bool is_cannot_run_error(int err) {
    switch (err) {
        case ENOENT:
        case EACCES:
        case ENOEXEC:
        case ENOTDIR:
        case ELOOP:
        case ENAMETOOLONG:
        case EISDIR:
        case E2BIG:
            return true;
        default:
            return false;
    }
}

std::vector<char*> c_pointers(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (std::string& s : strings) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers;
}

// posix_spawn cannot ask for a parent-death signal, so a child that must stop with its parent
// is forked. Everything it needs is built before fork; after it, only async-signal-safe calls.
// An exec failure comes back through a close-on-exec pipe as the child's errno.
Result<int> fork_and_exec(const std::string& program, const std::string& display,
                          std::vector<char*>& argv, std::vector<char*>& envp,
                          const SpawnRequest& request, const std::optional<std::string>& cwd) {
    std::array<int, 2> report{};
    if (::pipe2(report.data(), O_CLOEXEC) != 0) return internal_error("pipe2", errno);
    const pid_t parent = ::getpid();
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) {
        const int err = errno;
        ::close(report[0]);
        ::close(report[1]);
        return internal_error("open(/dev/null)", err);
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int err = errno;
        ::close(report[0]);
        ::close(report[1]);
        ::close(null_fd);
        return internal_error("fork", err);
    }
    if (pid == 0) {
        auto fail = [&](int err) {
            (void)!::write(report[1], &err, sizeof err);
            ::_exit(127);
        };
        if (request.stop_with_parent) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
        }
        if (request.own_process_group && ::setpgid(0, 0) != 0) fail(errno);
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (::dup2(null_fd, STDIN_FILENO) < 0) fail(errno);
        if (request.stdout_fd >= 0 && ::dup2(request.stdout_fd, STDOUT_FILENO) < 0) fail(errno);
        if (request.stderr_fd >= 0 && ::dup2(request.stderr_fd, STDERR_FILENO) < 0) fail(errno);
        // Every other descriptor closed, but the report pipe (close-on-exec) until exec.
        const unsigned keep = static_cast<unsigned>(report[1]);
        if (keep > 3) ::syscall(SYS_close_range, 3U, keep - 1, 0U);
        ::syscall(SYS_close_range, keep + 1, ~0U, 0U);
        if (cwd && ::chdir(cwd->c_str()) != 0) fail(errno);
        ::execve(program.c_str(), argv.data(), envp.data());
        fail(errno);
    }
    ::close(report[1]);
    ::close(null_fd);
    int child_errno = 0;
    ssize_t n = 0;
    do {
        n = ::read(report[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    ::close(report[0]);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (is_cannot_run_error(child_errno)) return cannot_run(display, child_errno);
        return internal_error(fmt::format("starting '{}'", display), child_errno);
    }
    return static_cast<int>(pid);
}

}  // namespace

Result<int> spawn_process(const SpawnRequest& request) {
    if (auto valid = validate(request); !valid) return valid.error();
    const std::string& display = request.program ? *request.program : request.argv.front();
    std::optional<std::string> cwd;
    if (request.cwd) {
        auto dir = check_working_directory(display, *request.cwd);
        if (!dir) return dir.error();
        cwd = std::move(*dir);
    }
    std::vector<std::string> env = build_environment(request.env);
    auto program = request.program ? Result<std::string>(*request.program)
                                   : find_program(display, find_variable(env, "PATH").value_or(
                                                               kDefaultPath),
                                                  cwd);
    if (!program) return program.error();
    if (request.program && request.program->empty()) return invalid("empty program path");
    std::vector<std::string> argv = request.argv;
    std::vector<char*> argv_pointers = c_pointers(argv);
    std::vector<char*> env_pointers = c_pointers(env);
    if (request.stop_with_parent) {
        return fork_and_exec(*program, display, argv_pointers, env_pointers, request, cwd);
    }
    SpawnFileActions actions;
    if (auto set = set_file_actions(actions, request.stdout_fd, request.stderr_fd, cwd); !set) {
        return set.error();
    }
    SpawnAttributes attributes;
    if (auto set = set_attributes(attributes, request.own_process_group); !set) return set.error();
    pid_t pid = -1;
    // glibc's posix_spawn reports the child's exec and file action failures as its result.
    const int spawn_error = ::posix_spawn(&pid, program->c_str(), actions.get(), attributes.get(),
                                          argv_pointers.data(), env_pointers.data());
    if (spawn_error != 0) {
        if (is_cannot_run_error(spawn_error)) return cannot_run(display, spawn_error);
        return internal_error(fmt::format("posix_spawn of '{}'", display), spawn_error);
    }
    return static_cast<int>(pid);
}

}  // namespace orquestra::executor
