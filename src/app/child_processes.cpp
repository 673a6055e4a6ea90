#include "app/child_processes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace orquestra::app {

namespace {

std::string describe(int status) {
    if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
    return "ended";
}

// SIGCONT too: a stopped process would not act on SIGTERM.
void signal_group(pid_t pid, int sig) {
    if (::kill(-pid, sig) != 0) ::kill(pid, sig);
    if (sig == SIGTERM) ::kill(-pid, SIGCONT);
}

}  // namespace

ChildProcesses::~ChildProcesses() { stop_all(std::chrono::milliseconds(2000)); }

Result<pid_t> ChildProcesses::start(std::string name, executor::SpawnRequest request) {
    request.own_process_group = true;
    request.stop_with_parent = true;
    auto pid = executor::spawn_process(request);
    if (!pid) {
        return Error{pid.error().code, fmt::format("cannot start {}: {}", name, pid.error().message)};
    }
    children_.push_back({std::move(name), static_cast<pid_t>(*pid)});
    return static_cast<pid_t>(*pid);
}

std::vector<ChildExit> ChildProcesses::reap() {
    std::vector<ChildExit> ended;
    for (auto it = children_.begin(); it != children_.end();) {
        int status = 0;
        const pid_t r = ::waitpid(it->pid, &status, WNOHANG);
        if (r == it->pid || (r < 0 && errno == ECHILD)) {
            ended.push_back({it->name, it->pid, r == it->pid ? describe(status) : "ended"});
            // What it left in its group goes with it.
            ::kill(-it->pid, SIGKILL);
            it = children_.erase(it);
        } else {
            ++it;
        }
    }
    return ended;
}

std::optional<ChildExit> ChildProcesses::stop(pid_t pid, std::chrono::milliseconds grace) {
    auto it = std::find_if(children_.begin(), children_.end(),
                           [pid](const Child& c) { return c.pid == pid; });
    if (it == children_.end()) return std::nullopt;
    Child child = *it;
    children_.erase(it);
    signal_group(child.pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(child.pid, &status, WNOHANG);
        if (r == child.pid || (r < 0 && errno != EINTR)) {
            ::kill(-child.pid, SIGKILL);  // stragglers in its group
            return ChildExit{child.name, child.pid, r == child.pid ? describe(status) : "ended"};
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    signal_group(child.pid, SIGKILL);
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
    return ChildExit{child.name, child.pid, describe(status) + " after SIGTERM was ignored"};
}

std::vector<ChildExit> ChildProcesses::stop_all(std::chrono::milliseconds grace) {
    std::vector<ChildExit> ended;
    while (!children_.empty()) {
        if (auto e = stop(children_.back().pid, grace)) ended.push_back(std::move(*e));
    }
    return ended;
}

}  // namespace orquestra::app
