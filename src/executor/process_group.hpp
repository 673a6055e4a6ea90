#pragma once
// Finding and stopping what a command try left running, across a restart of the scheduler.
//
// A command runs as the leader of a process group of its own. When it starts, the scheduler
// records the group id and the leader's identity: the kernel's boot id and the process's start
// time (in clock ticks since boot, from /proc/<pid>/stat). A pid may be reused after the
// process is gone; the same pid with the same start time on the same boot is the same process,
// so a recorded group is signalled only while its identity still holds.
//
// Every command also carries the marker variable ORQUESTRA_TRY_MARKER (scheduler owner, DAG,
// run, task and try) in its environment, which its children inherit: processes that left the
// group (setsid, daemons), or that started just before the scheduler recorded the group, are
// found by it. Linux only (/proc); elsewhere nothing is found.
//
// spawn_process() is the one way Orquestra starts a program: command tries (run_command),
// supervised services and standalone's children (app::ChildProcesses) all go through it.

#include "core/error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orquestra::executor {

inline constexpr std::string_view kTryMarkerVariable = "ORQUESTRA_TRY_MARKER";

// "<boot id>:<start time in ticks>" of a live process, or "" when it is gone or unknown.
std::string process_identity(int pid);

// The marker value of one try.
std::string try_marker(std::string_view owner, std::string_view dag_id, std::string_view run_id,
                       std::string_view task_id, int try_number);

struct TryProcesses {
    int group = 0;         // the recorded process group, 0 when none
    std::string identity;  // its leader's process_identity() when it started
    std::string marker;    // the try's marker, "" to skip the environment scan
};

// Sends SIGKILL to the recorded group (when its identity still holds, or when its leader is
// gone but members started after it remain) and to every process whose environment holds the
// marker, then waits up to `wait_ms` for them to be gone. Returns how many processes were
// signalled. Never signals this process or its own group.
int stop_try_processes(const TryProcesses& target, int wait_ms = 3000);

struct SpawnRequest {
    // argv[0] names the program: with a '/' it is used as is (relative to `cwd` when given),
    // otherwise it is looked up in the PATH the program will see (`env`'s when it sets one,
    // else ours, else "/bin:/usr/bin"). Must not be empty; no NUL bytes anywhere.
    std::vector<std::string> argv;
    // The file to run when it is not argv[0] (`/bin/sh` for argv {"sh", "-c", script}); a path,
    // used as is. Messages name it.
    std::optional<std::string> program;
    // Added to our environment, replacing variables of the same name (the last of duplicate
    // names wins). Names non-empty, without '='. The way to hand a child a secret or a value
    // for a shell: argv is visible to every local user, and is never shell text.
    std::vector<std::pair<std::string, std::string>> env;
    std::optional<std::string> cwd;  // an existing directory
    // The child's stdout and stderr: these descriptors, or ours when -1. Its stdin is
    // /dev/null; no other descriptor of ours reaches it.
    int stdout_fd = -1;
    int stderr_fd = -1;
    // The leader of a new process group (its pid), so that a stop reaches all it starts.
    bool own_process_group = true;
    // Linux: the kernel sends the child SIGTERM when the thread that spawned it ends (so a
    // parent killed with SIGKILL leaves no orphans behind). The thread must outlive the child.
    bool stop_with_parent = false;
};

// Starts the program with every signal at its default disposition and none blocked; returns its
// pid without waiting for it. A program that cannot be started (not found, not executable, a
// bad working directory) is kInvalidArgument "cannot run 'prog': reason"; a bad request is
// kInvalidArgument too; failing system calls are kInternal. The caller reaps the child.
Result<int> spawn_process(const SpawnRequest& request);

}  // namespace orquestra::executor
