#pragma once
// ChildProcesses: long-lived helper programs a node starts and owns (standalone's example
// services). Each child shares the parent's stdout and stderr, inherits no other descriptor,
// and gets SIGTERM from the kernel if the thread that started it dies (so a parent killed
// with SIGKILL leaves no orphans behind). stop_all() asks each child to stop with SIGTERM and
// kills what is still running after the grace period.
//
// Threads: start(), reap() and stop_all() from one thread (the one that owns the object; it
// must live as long as the children: the kernel's parent-death signal follows that thread).

#include "core/error.hpp"

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace orquestra::app {

struct ChildExit {
    std::string name;
    pid_t pid = 0;
    std::string how;  // "exited with status 0", "killed by signal 9"
};

class ChildProcesses {
public:
    ChildProcesses() = default;
    ~ChildProcesses();
    ChildProcesses(const ChildProcesses&) = delete;
    ChildProcesses& operator=(const ChildProcesses&) = delete;

    // Starts `program` with `args` (argv[1..]) and this process's environment plus `env`
    // ("NAME=value", replacing variables of the same name: the way to hand a child a secret,
    // which argv would show to every local user); `name` is for messages.
    Result<pid_t> start(std::string name, const std::string& program,
                        const std::vector<std::string>& args,
                        const std::vector<std::string>& env = {});
    // The children that ended since the last call (never blocks).
    std::vector<ChildExit> reap();
    // SIGTERM to every running child, then SIGKILL to those still running after `grace`.
    // Returns how each one ended.
    std::vector<ChildExit> stop_all(std::chrono::milliseconds grace);
    std::size_t running() const { return children_.size(); }

private:
    struct Child {
        std::string name;
        pid_t pid;
    };
    std::vector<Child> children_;
};

}  // namespace orquestra::app
