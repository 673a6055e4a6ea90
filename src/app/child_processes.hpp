#pragma once
// ChildProcesses: long-lived programs a node starts and owns (supervised services, among them
// standalone's example services). Each child is started by executor::spawn_process() — the one
// spawner, shared with command tasks — as the leader of a process group of its own, with stdin
// on /dev/null, the parent's stdout and stderr unless told otherwise, no other descriptor, and
// SIGTERM from the kernel if the thread that started it ends (so a parent killed with SIGKILL
// leaves no orphans behind). stop() and stop_all() ask a child's whole group to stop with
// SIGTERM and kill what still runs after the grace period; stop_all() goes through the
// children one at a time, the last started first.
//
// Threads: everything from one thread (the one that owns the object; it must live as long as
// the children: the kernel's parent-death signal follows that thread).

#include "core/error.hpp"
#include "executor/process_group.hpp"

#include <sys/types.h>

#include <chrono>
#include <optional>
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

    // Starts `request` (own process group and stop-with-parent are forced on); `name` is for
    // messages. Errors as spawn_process()'s.
    Result<pid_t> start(std::string name, executor::SpawnRequest request);
    // The children that ended since the last call (never blocks).
    std::vector<ChildExit> reap();
    // SIGTERM to the child's group, then SIGKILL to it when the child still runs after `grace`;
    // nullopt when `pid` is not a running child of ours.
    std::optional<ChildExit> stop(pid_t pid, std::chrono::milliseconds grace);
    // stop() for every running child, the last started first. Returns how each one ended.
    std::vector<ChildExit> stop_all(std::chrono::milliseconds grace);
    std::size_t running() const { return children_.size(); }

private:
    struct Child {
        std::string name;
        pid_t pid;
    };
    std::vector<Child> children_;  // in the order they were started
};

}  // namespace orquestra::app
