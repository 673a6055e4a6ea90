#include "app/child_processes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace orquestra::app {

namespace {

std::string describe(int status) {
    if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
    return "ended";
}

}  // namespace

ChildProcesses::~ChildProcesses() { stop_all(std::chrono::milliseconds(2000)); }

Result<pid_t> ChildProcesses::start(std::string name, const std::string& program,
                                    const std::vector<std::string>& args,
                                    const std::vector<std::string>& env) {
    if (::access(program.c_str(), X_OK) != 0) {
        return Error{ErrorCode::kNotFound,
                     fmt::format("cannot run {} ({}): {}", name, program, std::strerror(errno))};
    }
    // Everything the child needs is built before fork: after it, only async-signal-safe calls.
    std::vector<std::string> owned;
    owned.reserve(args.size() + 1);
    owned.push_back(program);
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_text;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        const std::string_view entry(*e);
        const auto name_end = entry.find('=');
        const bool replaced = std::any_of(env.begin(), env.end(), [&](const std::string& x) {
            return x.compare(0, x.find('='), entry.substr(0, name_end)) == 0;
        });
        if (!replaced) env_text.emplace_back(entry);
    }
    env_text.insert(env_text.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) {
        return Error{ErrorCode::kInternal,
                     fmt::format("cannot start {}: fork: {}", name, std::strerror(errno))};
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    children_.push_back({std::move(name), pid});
    return pid;
}

std::vector<ChildExit> ChildProcesses::reap() {
    std::vector<ChildExit> ended;
    for (auto it = children_.begin(); it != children_.end();) {
        int status = 0;
        const pid_t r = ::waitpid(it->pid, &status, WNOHANG);
        if (r == it->pid || (r < 0 && errno == ECHILD)) {
            ended.push_back({it->name, it->pid, r == it->pid ? describe(status) : "ended"});
            it = children_.erase(it);
        } else {
            ++it;
        }
    }
    return ended;
}

std::vector<ChildExit> ChildProcesses::stop_all(std::chrono::milliseconds grace) {
    std::vector<ChildExit> ended;
    if (children_.empty()) return ended;
    for (const auto& c : children_) ::kill(c.pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!children_.empty() && std::chrono::steady_clock::now() < deadline) {
        for (auto& e : reap()) ended.push_back(std::move(e));
        if (!children_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (const auto& c : children_) ::kill(c.pid, SIGKILL);
    for (const auto& c : children_) {
        int status = 0;
        while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
        }
        ended.push_back({c.name, c.pid, describe(status) + " after SIGTERM was ignored"});
    }
    children_.clear();
    return ended;
}

}  // namespace orquestra::app
