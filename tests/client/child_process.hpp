#pragma once
// ChildProcess: a program run by a test, with its stdout on a pipe the test reads and its
// stderr in a file the test can print or search. The object owns the process: its destructor
// kills (SIGKILL) and reaps a child that is still running, so a failing test leaves nothing
// behind; the child is also killed if the thread that started it dies (PR_SET_PDEATHSIG).
// Not thread-safe; use it from the test's thread.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace orquestra::testing {

class ChildProcess {
  public:
    // Runs argv[0] (a path) with `argv`. The environment is the test's, changed by `env`:
    // "NAME=value" sets a variable, "NAME" removes it. Fails the test when it cannot start.
    // With `stdout_in_file`, stdout goes to the stderr file too (read_line() then has nothing):
    // for a chatty child that the test does not read, which would block on a full pipe.
    explicit ChildProcess(std::vector<std::string> argv, std::vector<std::string> env = {},
                          bool stdout_in_file = false);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    bool started() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }

    // The next line of stdout (without '\n'); nullopt at end of output or after `timeout`.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    // The rest of stdout, up to its end or `timeout` (then what arrived so far).
    std::string read_all(std::chrono::milliseconds timeout);

    void signal(int sig);
    // The exit code (128 + signal number when a signal ended it); nullopt if the process still
    // runs after `timeout`.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    // What the process wrote to stderr so far.
    std::string stderr_text() const;

  private:
    // Appends what stdout has within `timeout`; false at end of output or on timeout.
    bool fill(std::chrono::steady_clock::time_point deadline);

    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    bool stdout_closed_ = false;
    std::string buffer_;
    std::filesystem::path stderr_path_;
    std::optional<int> exit_code_;
};

}  // namespace orquestra::testing
