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

#include <string>
#include <string_view>
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

}  // namespace orquestra::executor
