#pragma once
// Runs one external program to completion for the orchestrator's `command` task kind.
//
// run_command() spawns the program with posix_spawn in a process group of its own, stdin on
// /dev/null and stdout/stderr on two pipes that the calling thread reads with poll(), and returns
// when the program has exited. It blocks the calling thread: call it from a worker thread, never
// from an event loop. It keeps no state between calls, so several threads may run commands at
// once. It reads the process environment (`environ`), so nobody may call setenv() meanwhile.
//
// Values reach the program only through argv and the environment; nothing is ever pasted into a
// shell line (a `script` is run as /bin/sh -c <script> and is the only shell text).
//
// On timeout the whole process group gets SIGTERM (and SIGCONT, so stopped members see it), then
// SIGKILL when anything in the group still runs after `kill_grace`. When the program exits, what
// is already buffered in its pipes is read and the pipes are abandoned even if a background
// process still holds them; anything left running in the group is stopped the same way
// (SIGTERM, then SIGKILL after `kill_grace`). A process that left the group (setsid) is not
// touched.
//
// Failures, as Error: invalid requests and programs that cannot be started (not found, not
// executable, bad working directory) are kInvalidArgument naming the program, e.g.
// "cannot run 'foo': No such file or directory"; system call failures are kInternal. A program
// that runs and fails (non-zero exit, killed by a signal, timed out) is a CommandResult, not an
// Error. Exceptions thrown by `on_line` propagate, after the process group has been killed and
// the program reaped.
//
// Needs SIGCHLD not ignored and nobody else reaping our children (waitpid(-1)).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace orquestra::executor {

// Lines longer than this are delivered to on_line in pieces of this size.
inline constexpr std::size_t kMaxLineBytes = 64u << 10;

struct CommandRequest {
    // argv[0] is looked up in the PATH the program will see (this request's PATH when `env`
    // sets one, else ours; "/bin:/usr/bin" when neither has one) unless it contains a '/'.
    // Exactly one of `argv` and `script` must be given.
    std::vector<std::string> argv;
    std::optional<std::string> script;  // run as /bin/sh -c <script>
    // Added to the parent's environment, overriding variables of the same name (the last of
    // duplicate names wins). Names must be non-empty and contain no '='.
    std::vector<std::pair<std::string, std::string>> env;
    std::optional<std::string> cwd;              // must be an existing directory; relative to ours
    std::chrono::milliseconds timeout{600'000};  // must be positive
    // Output beyond this many bytes on stdout, and separately on stderr, is read and dropped
    // (a warning is logged); the program keeps running.
    std::size_t max_output_bytes = 16u << 20;
    // Time between SIGTERM and SIGKILL when stopping the process group.
    std::chrono::milliseconds kill_grace{2'000};
    // When set, the program is stopped like on timeout (within ~100 ms) once it reads true; the
    // result then has `cancelled`. For shutting down.
    const std::atomic<bool>* cancel = nullptr;
    // Called on the calling thread right after the program was spawned, with its pid (also its
    // process group id), before any output is read. May be empty.
    std::function<void(int pid)> on_spawned;
};

struct CommandResult {
    int exit_code = -1;  // -1 when killed by a signal
    int signal = 0;      // the signal that ended it, 0 if none
    bool timed_out = false;
    bool cancelled = false;  // stopped because `cancel` became true
    std::string stdout_text;  // whole stdout, up to max_output_bytes
    // The last stdout line that is not blank, trimmed, when it parses as JSON; nullopt otherwise
    // and whenever stdout was truncated (its real last line is unknown then).
    std::optional<std::string> output_json;
    bool output_truncated = false;  // stdout or stderr went past max_output_bytes
    Millis duration_ms = 0;         // from spawn to the program's exit
};

// Called with stream "stdout" or "stderr" and one line without its '\n', on the calling thread,
// in order within each stream. Also called for a final line without '\n'. Empty lines included.
// The line is valid only during the call. May be empty (no callback).
using LineCallback = std::function<void(std::string_view stream, std::string_view line)>;

Result<CommandResult> run_command(const CommandRequest& request, const LineCallback& on_line);

}  // namespace orquestra::executor
