#include "executor/command_runner.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <span>
#include <thread>
#include <unordered_map>

#include "core/strings.hpp"
#include "executor/process_group.hpp"

namespace orquestra::executor {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kShell = "/bin/sh";
constexpr std::size_t kReadChunkBytes = 64u << 10;
// After the program exits, at most this much more is read from each pipe: a background process
// that keeps writing must not keep us here.
constexpr std::size_t kMaxDrainBytes = 1u << 20;
// Without a pidfd to wake poll() when the program exits, we look with waitpid this often.
constexpr int kReapTickMs = 10;
constexpr milliseconds kStragglerCheckInterval{10};
// Longer timeouts are treated as this, so that now + timeout cannot overflow.
constexpr milliseconds kMaxTimeout = std::chrono::hours(24 * 365 * 10);

std::string errno_text(int err) {
    std::array<char, 256> buffer{};
    return ::strerror_r(err, buffer.data(), buffer.size());  // the GNU variant
}

Error internal_error(std::string_view what, int err) {
    return Error{ErrorCode::kInternal, fmt::format("{} failed: {}", what, errno_text(err))};
}

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        reset(std::exchange(other.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

struct OutputPipe {
    UniqueFd read_end;   // ours: close-on-exec, non-blocking
    UniqueFd write_end;  // the child's stdout or stderr after dup2; closed by us after spawn
};

// Both ends are close-on-exec and above 2, so that the dup2 onto 1 and 2 in the child cannot
// clobber one another even when our own stdio is closed.
Result<OutputPipe> make_output_pipe() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) return internal_error("pipe2", errno);
    OutputPipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
    for (UniqueFd* end : {&pipe.read_end, &pipe.write_end}) {
        if (end->get() > STDERR_FILENO) continue;
        const int moved = ::fcntl(end->get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        if (moved < 0) return internal_error("fcntl(F_DUPFD_CLOEXEC)", errno);
        end->reset(moved);
    }
    // Only our end: O_NONBLOCK belongs to the open file description, shared with the child's end
    // if set through it.
    const int flags = ::fcntl(pipe.read_end.get(), F_GETFL);
    if (flags < 0 || ::fcntl(pipe.read_end.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
        return internal_error("fcntl(O_NONBLOCK)", errno);
    }
    return pipe;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

Result<void> validate(const CommandRequest& request) {
    auto invalid = [](std::string message) {
        return Error{ErrorCode::kInvalidArgument, std::move(message)};
    };
    if (request.argv.empty() == !request.script.has_value()) {
        return invalid("a command needs exactly one of argv and script");
    }
    if (!request.argv.empty() && request.argv.front().empty()) {
        return invalid("a command's program name (argv[0]) is empty");
    }
    for (const std::string& arg : request.argv) {
        if (has_nul(arg)) return invalid("a command argument contains a NUL byte");
    }
    if (request.script && has_nul(*request.script)) {
        return invalid("a command script contains a NUL byte");
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
    if (request.timeout <= milliseconds::zero()) {
        return invalid("a command's timeout must be positive");
    }
    if (request.kill_grace < milliseconds::zero()) {
        return invalid("a command's kill grace must not be negative");
    }
    return {};
}

// Reads /proc/<pid>/stat: the process state letter and its process group.
std::optional<std::pair<char, pid_t>> read_state_and_group(const std::string& stat_path) {
    UniqueFd fd(::open(stat_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return std::nullopt;
    std::array<char, 1024> buffer{};
    const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n <= 0) return std::nullopt;
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
    std::string_view text(buffer.data(), static_cast<std::size_t>(n));
    const std::size_t close = text.rfind(')');
    if (close == std::string_view::npos || close + 2 >= text.size()) return std::nullopt;
    text.remove_prefix(close + 2);
    const char state = text.front();
    std::vector<std::string_view> fields = split(text, ' ');
    if (fields.size() < 3) return std::nullopt;
    pid_t group = 0;
    const std::string_view group_text = fields[2];
    const auto [end, ec] =
        std::from_chars(group_text.data(), group_text.data() + group_text.size(), group);
    if (ec != std::errc{} || end != group_text.data() + group_text.size()) return std::nullopt;
    return std::pair{state, group};
}

// True while a process of group `pgid` still runs. Zombies do not count: members orphaned by
// the program's exit are reparented to init, and an init that never reaps (as in some
// containers) would keep them in the group forever.
bool group_has_running_members(pid_t pgid) {
    if (::kill(-pgid, 0) != 0) return false;  // ESRCH: nobody left; EPERM: nobody we may signal
    std::error_code ec;
    std::filesystem::directory_iterator it("/proc", ec);
    if (ec) return true;  // cannot tell; the callers then wait the grace out and SIGKILL
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
        if (ec) return true;
        const std::string name = it->path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        const auto info = read_state_and_group(it->path().string() + "/stat");
        if (info && info->second == pgid && info->first != 'Z' && info->first != 'X') {
            return true;
        }
    }
    return false;
}

// Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C" and cannot be linked from C++.
// -1 when the kernel has no pidfd_open (before 5.3); the caller then polls with waitpid.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // always close-on-exec
#else
    (void)pid;
    return -1;
#endif
}

void signal_group(pid_t pgid, int sig) { ::kill(-pgid, sig); }

void terminate_group(pid_t pgid) {
    signal_group(pgid, SIGTERM);
    signal_group(pgid, SIGCONT);  // a stopped member would not act on SIGTERM otherwise
}

// SIGKILL acts when the target is next scheduled, so a moment passes before the group is gone;
// waits for that (bounded: a process stuck in the kernel cannot be waited out).
void wait_until_group_is_gone(pid_t pgid) {
    constexpr milliseconds kMaxWait{1'000};
    const auto give_up_at = SteadyClock::now() + kMaxWait;
    while (group_has_running_members(pgid)) {
        if (SteadyClock::now() >= give_up_at) {
            spdlog::warn("process group {} is still running {} ms after SIGKILL", pgid,
                         kMaxWait.count());
            return;
        }
        std::this_thread::sleep_for(milliseconds(1));
    }
}

void kill_group_and_wait(pid_t pgid) {
    signal_group(pgid, SIGKILL);
    wait_until_group_is_gone(pgid);
}

// The spawned program until it is reaped. If the run is abandoned (a failed system call, or an
// exception from on_line), the destructor kills the whole group and reaps the program.
class ChildProcess {
public:
    explicit ChildProcess(pid_t pid) : pid_(pid), pidfd_(open_pidfd(pid)) {}
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess() {
        if (reaped_) return;
        signal_group(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        wait_until_group_is_gone(pid_);  // no second signal: the group may be empty by now
    }

    pid_t pid() const { return pid_; }          // also its process group id
    int pidfd() const { return pidfd_.get(); }  // -1 when the kernel has no pidfd_open
    bool reaped() const { return reaped_; }
    int status() const { return status_; }

    // Reaps the program if it has exited, without waiting.
    Result<void> try_reap() {
        while (true) {
            const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
            if (r == pid_) {
                reaped_ = true;
                return {};
            }
            if (r == 0) return {};
            if (errno == EINTR) continue;
            const int err = errno;
            reaped_ = true;  // ECHILD: someone else reaped it; there is nothing to wait for
            return Error{
                ErrorCode::kInternal,
                fmt::format("waitpid({}) failed: {} (is SIGCHLD ignored?)", pid_, errno_text(err))};
        }
    }

private:
    pid_t pid_;
    UniqueFd pidfd_;
    bool reaped_ = false;
    int status_ = 0;
};

// One of the program's output pipes: reads it, hands complete lines to on_line, keeps the text
// when asked to, and drops what goes past the byte limit.
class OutputPump {
public:
    OutputPump(std::string_view stream, UniqueFd fd, std::size_t limit, std::string* capture,
               const LineCallback& on_line, std::string_view program)
        : stream_(stream),
          fd_(std::move(fd)),
          limit_(limit),
          capture_(capture),
          on_line_(on_line),
          program_(program) {}

    bool open() const { return fd_.valid(); }
    int fd() const { return fd_.get(); }
    bool truncated() const { return dropping_; }

    enum class ReadOutcome { kData, kWouldBlock, kClosed };

    ReadOutcome read_once(std::span<char> buffer, std::size_t& bytes_read) {
        bytes_read = 0;
        ssize_t n = 0;
        do {
            n = ::read(fd_.get(), buffer.data(), buffer.size());
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            bytes_read = static_cast<std::size_t>(n);
            accept(std::string_view(buffer.data(), bytes_read));
            return ReadOutcome::kData;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ReadOutcome::kWouldBlock;
        if (n < 0) spdlog::warn("reading {} of '{}': {}", stream_, program_, errno_text(errno));
        finish();
        return ReadOutcome::kClosed;
    }

    // Once the program has exited: takes what is already in the pipe (bounded), then stops
    // reading even if a background process still holds the other end.
    void drain_and_finish(std::span<char> buffer) {
        std::size_t drained = 0;
        while (open() && drained < kMaxDrainBytes) {
            std::size_t n = 0;
            if (read_once(buffer, n) != ReadOutcome::kData) break;
            drained += n;
        }
        finish();
    }

private:
    void finish() {
        if (!pending_.empty()) emit(pending_);
        pending_.clear();
        fd_.reset();
    }

    void accept(std::string_view data) {
        if (dropping_) return;
        const bool overflow = data.size() > limit_ - kept_;
        if (overflow) data = data.substr(0, limit_ - kept_);
        kept_ += data.size();
        if (capture_ != nullptr) capture_->append(data);
        split_lines(data);
        if (overflow) {
            if (!pending_.empty()) emit(pending_);
            pending_.clear();
            dropping_ = true;
            spdlog::warn("'{}' wrote more than {} bytes to {}; dropping the rest", program_, limit_,
                         stream_);
        }
    }

    void split_lines(std::string_view data) {
        while (!data.empty()) {
            const std::size_t newline = data.find('\n');
            if (newline == std::string_view::npos) {
                append_to_line(data);
                return;
            }
            if (pending_.empty() && newline <= kMaxLineBytes) {
                emit(data.substr(0, newline));  // the usual case: no copy
            } else {
                append_to_line(data.substr(0, newline));
                emit(pending_);
                pending_.clear();
            }
            data.remove_prefix(newline + 1);
        }
    }

    // A full piece goes out only when more of the line follows, so that a line of exactly
    // kMaxLineBytes is one line, not that line and an empty one.
    void append_to_line(std::string_view part) {
        while (!part.empty()) {
            if (pending_.size() == kMaxLineBytes) {
                emit(pending_);
                pending_.clear();
            }
            const std::size_t take = std::min(part.size(), kMaxLineBytes - pending_.size());
            pending_.append(part.substr(0, take));
            part.remove_prefix(take);
        }
    }

    void emit(std::string_view line) {
        if (on_line_) on_line_(stream_, line);
    }

    std::string_view stream_;
    UniqueFd fd_;
    std::size_t limit_;
    std::size_t kept_ = 0;
    bool dropping_ = false;
    std::string* capture_;
    const LineCallback& on_line_;
    std::string_view program_;
    std::string pending_;  // the line read so far, without its '\n'
};

// How often a cancellable command looks at its cancel flag.
constexpr int kCancelTickMs = 100;

// poll()'s timeout until `wake`; bounded by the reap tick when no pidfd will wake us.
int poll_timeout_ms(SteadyClock::time_point now, std::optional<SteadyClock::time_point> wake,
                    bool have_pidfd) {
    int timeout = -1;
    if (wake) {
        const auto left = std::chrono::ceil<milliseconds>(*wake - now).count();
        timeout = static_cast<int>(std::clamp<decltype(left)>(left, 0, 60'000));
    }
    if (!have_pidfd) timeout = timeout < 0 ? kReapTickMs : std::min(timeout, kReapTickMs);
    return timeout;
}

// After the program has exited: SIGTERM to what it left running in its group, then SIGKILL to
// whatever still runs when the grace (counted from an earlier SIGTERM, if any) is over.
void stop_stragglers(pid_t pgid, std::optional<SteadyClock::time_point> term_sent_at,
                     milliseconds grace, std::string_view program) {
    if (!group_has_running_members(pgid)) return;
    if (!term_sent_at) {
        spdlog::info("'{}' exited leaving processes in its group {}; sending SIGTERM", program,
                     pgid);
        terminate_group(pgid);
        term_sent_at = SteadyClock::now();
    }
    const auto kill_at = *term_sent_at + grace;
    while (SteadyClock::now() < kill_at) {
        std::this_thread::sleep_for(
            std::min<SteadyClock::duration>(kStragglerCheckInterval, kill_at - SteadyClock::now()));
        if (!group_has_running_members(pgid)) return;
    }
    if (group_has_running_members(pgid)) {
        spdlog::warn("processes of '{}' (group {}) outlived SIGTERM; sending SIGKILL", program,
                     pgid);
        kill_group_and_wait(pgid);
    }
}

std::optional<std::string> last_line_json(std::string_view text) {
    while (!text.empty()) {
        const std::size_t newline = text.rfind('\n');
        std::string_view line = text;
        if (newline == std::string_view::npos) {
            text = {};
        } else {
            line = text.substr(newline + 1);
            text = text.substr(0, newline);
        }
        line = trim(line);
        if (line.empty()) continue;
        boost::system::error_code ec;
        boost::json::parse(line, ec);
        if (ec) return std::nullopt;
        return std::string(line);
    }
    return std::nullopt;
}

}  // namespace

Result<CommandResult> run_command(const CommandRequest& request, const LineCallback& on_line) {
    if (auto valid = validate(request); !valid) return valid.error();
    const std::string display = request.script ? std::string(kShell) : request.argv.front();

    auto out = make_output_pipe();
    if (!out) return out.error();
    auto err = make_output_pipe();
    if (!err) return err.error();
    SpawnRequest spawn;
    if (request.script) {
        spawn.argv = {"sh", "-c", *request.script};
        spawn.program = kShell;
    } else {
        spawn.argv = request.argv;
    }
    spawn.env = request.env;
    spawn.cwd = request.cwd;
    spawn.stdout_fd = out->write_end.get();
    spawn.stderr_fd = err->write_end.get();
    spawn.own_process_group = true;

    const auto started = SteadyClock::now();
    auto spawned = spawn_process(spawn);
    if (!spawned) return spawned.error();
    const pid_t pid = *spawned;
    ChildProcess child(pid);
    out->write_end.reset();  // else we would never see EOF
    err->write_end.reset();
    spdlog::debug("started '{}' as pid {}", display, pid);
    if (request.on_spawned) request.on_spawned(static_cast<int>(pid));

    CommandResult result;
    OutputPump pumps[] = {
        {"stdout", std::move(out->read_end), request.max_output_bytes, &result.stdout_text, on_line,
         display},
        {"stderr", std::move(err->read_end), request.max_output_bytes, nullptr, on_line, display},
    };
    std::vector<char> buffer(kReadChunkBytes);
    const auto deadline = started + std::min(request.timeout, kMaxTimeout);
    std::optional<SteadyClock::time_point> term_sent_at;
    bool kill_sent = false;

    while (true) {
        if (auto reaped = child.try_reap(); !reaped) return reaped.error();
        if (child.reaped()) break;

        const auto now = SteadyClock::now();
        if (!term_sent_at && now >= deadline) {
            spdlog::info("'{}' (pid {}) timed out after {} ms; sending SIGTERM to its group",
                         display, pid, request.timeout.count());
            terminate_group(pid);
            term_sent_at = now;
            result.timed_out = true;
        }
        if (!term_sent_at && request.cancel != nullptr && request.cancel->load()) {
            spdlog::info("'{}' (pid {}) cancelled; sending SIGTERM to its group", display, pid);
            terminate_group(pid);
            term_sent_at = now;
            result.cancelled = true;
        }
        if (term_sent_at && !kill_sent && now >= *term_sent_at + request.kill_grace) {
            spdlog::warn("'{}' (pid {}) outlived SIGTERM; sending SIGKILL to its group", display,
                         pid);
            signal_group(pid, SIGKILL);
            kill_sent = true;
        }
        std::optional<SteadyClock::time_point> wake;
        if (!term_sent_at) {
            wake = deadline;
        } else if (!kill_sent) {
            wake = *term_sent_at + request.kill_grace;
        }

        std::array<pollfd, 3> fds{};
        std::array<OutputPump*, 3> owners{};
        nfds_t count = 0;
        for (OutputPump& pump : pumps) {
            if (!pump.open()) continue;
            fds[count] = pollfd{pump.fd(), POLLIN, 0};
            owners[count++] = &pump;
        }
        if (child.pidfd() >= 0) fds[count++] = pollfd{child.pidfd(), POLLIN, 0};

        int timeout_ms = poll_timeout_ms(now, wake, child.pidfd() >= 0);
        if (request.cancel != nullptr && !term_sent_at) {
            timeout_ms = timeout_ms < 0 ? kCancelTickMs : std::min(timeout_ms, kCancelTickMs);
        }
        if (::poll(fds.data(), count, timeout_ms) < 0) {
            if (errno == EINTR) continue;
            return internal_error("poll", errno);
        }
        for (nfds_t i = 0; i < count; ++i) {
            if (owners[i] == nullptr || fds[i].revents == 0) continue;
            std::size_t ignored = 0;
            owners[i]->read_once(buffer, ignored);
        }
    }
    const auto exited = SteadyClock::now();

    try {
        for (OutputPump& pump : pumps) pump.drain_and_finish(buffer);
    } catch (...) {
        // on_line threw after the program was reaped: ChildProcess no longer covers the group.
        if (group_has_running_members(pid)) kill_group_and_wait(pid);
        throw;
    }
    stop_stragglers(pid, term_sent_at, request.kill_grace, display);

    const int status = child.status();
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.exit_code = -1;
        result.signal = WTERMSIG(status);
    }
    result.output_truncated = pumps[0].truncated() || pumps[1].truncated();
    if (!pumps[0].truncated()) result.output_json = last_line_json(result.stdout_text);
    result.duration_ms = std::chrono::duration_cast<milliseconds>(exited - started).count();
    spdlog::debug("'{}' (pid {}) ended: exit {}, signal {}{}", display, pid, result.exit_code,
                  result.signal, result.timed_out ? ", timed out" : "");
    return result;
}

}  // namespace orquestra::executor
