#include "executor/command_runner.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace orquestra::executor {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

struct Line {
    std::string stream;
    std::string text;
    bool operator==(const Line&) const = default;
};

// Collects what run_command hands to on_line.
struct Lines {
    std::vector<Line> all;
    LineCallback callback() {
        return [this](std::string_view stream, std::string_view text) {
            all.push_back({std::string(stream), std::string(text)});
        };
    }
    std::vector<std::string> of(std::string_view stream) const {
        std::vector<std::string> out;
        for (const Line& line : all) {
            if (line.stream == stream) out.push_back(line.text);
        }
        return out;
    }
};

CommandRequest script(std::string text) {
    CommandRequest request;
    request.script = std::move(text);
    return request;
}

CommandRequest command(std::vector<std::string> argv) {
    CommandRequest request;
    request.argv = std::move(argv);
    return request;
}

CommandResult run_ok(const CommandRequest& request, Lines* lines = nullptr) {
    auto result = run_command(request, lines != nullptr ? lines->callback() : LineCallback{});
    if (!result) {
        ADD_FAILURE() << "run_command failed: " << result.error().message;
        return {};
    }
    return *result;
}

double seconds_since(SteadyClock::time_point start) {
    return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Running, not a zombie: here PID 1 may never reap the orphans we kill, and kill(pid, 0)
// succeeds on a zombie.
bool is_running(pid_t pid) {
    if (::kill(pid, 0) != 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const std::size_t close = content.rfind(')');
    if (close == std::string::npos || close + 2 >= content.size()) return false;
    const char state = content[close + 2];
    return state != 'Z' && state != 'X';
}

pid_t first_line_as_pid(const std::string& text) {
    return static_cast<pid_t>(std::stol(text.substr(0, text.find('\n'))));
}

// A fresh directory under the system temp directory, removed at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "orquestra-exec-XXXXXX").string();
        path_ = std::filesystem::canonical(::mkdtemp(pattern.data()));
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

    std::filesystem::path write_file(const std::string& name, const std::string& content,
                                     std::filesystem::perms perms) const {
        const auto file = path_ / name;
        std::ofstream(file) << content;
        std::filesystem::permissions(file, perms);
        return file;
    }

private:
    std::filesystem::path path_;
};

TEST(CommandRunnerTest, RunsArgvAndCapturesStdout) {
    Lines lines;
    const CommandResult result = run_ok(command({"echo", "hello", "world"}), &lines);
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.signal, 0);
    EXPECT_FALSE(result.timed_out);
    EXPECT_EQ(result.stdout_text, "hello world\n");
    EXPECT_EQ(lines.all, (std::vector<Line>{{"stdout", "hello world"}}));
    EXPECT_GE(result.duration_ms, 0);
    EXPECT_LT(result.duration_ms, 5'000);
}

TEST(CommandRunnerTest, RunsScriptThroughShell) {
    Lines lines;
    const CommandResult result = run_ok(script("echo one; echo two | tr a-z A-Z"), &lines);
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.stdout_text, "one\nTWO\n");
    EXPECT_EQ(lines.of("stdout"), (std::vector<std::string>{"one", "TWO"}));
}

TEST(CommandRunnerTest, EnvReachesChildAndOverridesParent) {
    ASSERT_EQ(::setenv("ORQUESTRA_TEST_PARENT_ONLY", "from-parent", 1), 0);
    ASSERT_EQ(::setenv("ORQUESTRA_TEST_OVERRIDDEN", "from-parent", 1), 0);
    CommandRequest request = script(
        "echo \"$ORQUESTRA_TEST_PARENT_ONLY\"; echo \"$ORQUESTRA_TEST_OVERRIDDEN\"; "
        "echo \"$ORQUESTRA_TEST_NEW\"");
    request.env = {{"ORQUESTRA_TEST_OVERRIDDEN", "first"},
                   {"ORQUESTRA_TEST_NEW", "new value"},
                   {"ORQUESTRA_TEST_OVERRIDDEN", "from-request"}};
    const CommandResult result = run_ok(request);
    ::unsetenv("ORQUESTRA_TEST_PARENT_ONLY");
    ::unsetenv("ORQUESTRA_TEST_OVERRIDDEN");
    EXPECT_EQ(result.stdout_text, "from-parent\nfrom-request\nnew value\n");
}

TEST(CommandRunnerTest, EnvValueWithShellMetacharactersArrivesVerbatim) {
    const std::string marker = "/tmp/orquestra-exec-marker-" + std::to_string(::getpid());
    std::filesystem::remove(marker);
    const std::string value =
        "$(touch " + marker + "); `touch " + marker + "` \"quotes\" 'single' ;|&*";
    CommandRequest request = script("printf '%s\\n' \"$VALUE\"");
    request.env = {{"VALUE", value}};
    const CommandResult from_script = run_ok(request);
    EXPECT_EQ(from_script.stdout_text, value + "\n");

    // The same value as an argument of a program run without a shell.
    CommandRequest as_argv = command({"printf", "%s\\n", value});
    EXPECT_EQ(run_ok(as_argv).stdout_text, value + "\n");

    EXPECT_FALSE(std::filesystem::exists(marker)) << "the value was executed";
    std::filesystem::remove(marker);
}

TEST(CommandRunnerTest, LastStdoutLineThatIsJsonBecomesOutputJson) {
    const CommandResult result =
        run_ok(script("echo progress; echo 'not {json'; echo '{\"rows\": 3, \"ok\": true}'"));
    ASSERT_TRUE(result.output_json.has_value());
    EXPECT_EQ(*result.output_json, "{\"rows\": 3, \"ok\": true}");
}

TEST(CommandRunnerTest, LastStdoutLineNotJsonGivesNoOutputJson) {
    const CommandResult result = run_ok(script("echo '{\"rows\": 3}'; echo done"));
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_FALSE(result.output_json.has_value());
}

TEST(CommandRunnerTest, TrailingEmptyLinesAreIgnoredForOutputJson) {
    Lines lines;
    const CommandResult result =
        run_ok(script("echo '[1, 2]'; echo; printf '  \\r\\n\\n'"), &lines);
    ASSERT_TRUE(result.output_json.has_value());
    EXPECT_EQ(*result.output_json, "[1, 2]");
    // The empty lines still reach the task log.
    EXPECT_EQ(lines.of("stdout"), (std::vector<std::string>{"[1, 2]", "", "  \r", ""}));
}

TEST(CommandRunnerTest, JsonOnStderrIsNotOutputJson) {
    const CommandResult result = run_ok(script("echo '{\"a\": 1}' >&2"));
    EXPECT_FALSE(result.output_json.has_value());
    EXPECT_EQ(result.stdout_text, "");
}

TEST(CommandRunnerTest, StderrLinesAreDeliveredAsStderr) {
    Lines lines;
    const CommandResult result =
        run_ok(script("echo out; echo err1 >&2; echo err2 >&2; printf 'no newline' >&2"), &lines);
    EXPECT_EQ(result.stdout_text, "out\n");
    EXPECT_EQ(lines.of("stdout"), (std::vector<std::string>{"out"}));
    EXPECT_EQ(lines.of("stderr"), (std::vector<std::string>{"err1", "err2", "no newline"}));
}

TEST(CommandRunnerTest, NonZeroExitIsAResultNotAnError) {
    const CommandResult result = run_ok(script("echo failing >&2; exit 3"));
    EXPECT_EQ(result.exit_code, 3);
    EXPECT_EQ(result.signal, 0);
    EXPECT_FALSE(result.timed_out);
}

TEST(CommandRunnerTest, KilledBySignalReportsTheSignal) {
    const CommandResult result = run_ok(script("kill -9 $$"));
    EXPECT_EQ(result.exit_code, -1);
    EXPECT_EQ(result.signal, SIGKILL);
    EXPECT_FALSE(result.timed_out);
}

TEST(CommandRunnerTest, TimeoutTerminatesTheWholeProcessGroup) {
    CommandRequest request = script("sleep 30 & echo $!; sleep 30");
    request.timeout = milliseconds(300);
    const auto start = SteadyClock::now();
    const CommandResult result = run_ok(request);
    EXPECT_LT(seconds_since(start), 5.0);
    EXPECT_TRUE(result.timed_out);
    EXPECT_EQ(result.exit_code, -1);
    EXPECT_EQ(result.signal, SIGTERM);
    EXPECT_GE(result.duration_ms, 300);
    ASSERT_FALSE(result.stdout_text.empty());
    const pid_t background = first_line_as_pid(result.stdout_text);
    EXPECT_FALSE(is_running(background)) << "background sleep " << background << " survived";
}

TEST(CommandRunnerTest, CancelStopsTheWholeProcessGroup) {
    std::atomic<bool> cancel{false};
    CommandRequest request = script("sleep 30 & echo $!; sleep 30");
    request.cancel = &cancel;
    pid_t background = 0;
    const auto start = SteadyClock::now();
    auto ran = run_command(request, [&](std::string_view stream, std::string_view line) {
        // Cancelled once the background sleep exists, from the thread that runs the command.
        if (stream == "stdout" && background == 0) {
            background = std::stoi(std::string(line));
            cancel = true;
        }
    });
    ASSERT_TRUE(ran) << ran.error().message;
    EXPECT_LT(seconds_since(start), 5.0);
    EXPECT_TRUE(ran->cancelled);
    EXPECT_FALSE(ran->timed_out);
    EXPECT_EQ(ran->signal, SIGTERM);
    ASSERT_GT(background, 0);
    EXPECT_FALSE(is_running(background)) << "background sleep " << background << " survived";
}

TEST(CommandRunnerTest, TimeoutEscalatesToSigkillAfterGrace) {
    // Ignored signals are inherited, so neither the shell nor its sleep dies of SIGTERM.
    CommandRequest request = script("trap '' TERM; sleep 30 & echo $!; sleep 30");
    request.timeout = milliseconds(200);
    request.kill_grace = milliseconds(300);
    const auto start = SteadyClock::now();
    const CommandResult result = run_ok(request);
    const double elapsed = seconds_since(start);
    EXPECT_LT(elapsed, 5.0);
    EXPECT_GE(elapsed, 0.5);  // timeout + grace: SIGTERM alone did not end it
    EXPECT_TRUE(result.timed_out);
    EXPECT_EQ(result.signal, SIGKILL);
    ASSERT_FALSE(result.stdout_text.empty());
    EXPECT_FALSE(is_running(first_line_as_pid(result.stdout_text)));
}

TEST(CommandRunnerTest, ChildThatClosesItsPipesStillTimesOut) {
    CommandRequest request = script("exec >&- 2>&-; sleep 30");
    request.timeout = milliseconds(300);
    const auto start = SteadyClock::now();
    const CommandResult result = run_ok(request);
    EXPECT_LT(seconds_since(start), 5.0);
    EXPECT_TRUE(result.timed_out);
    EXPECT_EQ(result.signal, SIGTERM);
}

TEST(CommandRunnerTest, GrandchildHoldingThePipesDoesNotHang) {
    Lines lines;
    CommandRequest request = script("sleep 30 & echo $!; echo done; echo 'err' >&2");
    request.timeout = milliseconds(20'000);
    const auto start = SteadyClock::now();
    const CommandResult result = run_ok(request, &lines);
    EXPECT_LT(seconds_since(start), 5.0);
    EXPECT_FALSE(result.timed_out);
    EXPECT_EQ(result.exit_code, 0);
    ASSERT_EQ(lines.of("stdout").size(), 2u);
    EXPECT_EQ(lines.of("stdout")[1], "done");
    EXPECT_EQ(lines.of("stderr"), (std::vector<std::string>{"err"}));
    // What it left running in its group is stopped too.
    EXPECT_FALSE(is_running(first_line_as_pid(result.stdout_text)));
}

TEST(CommandRunnerTest, ProgramNotFoundIsInvalidArgument) {
    auto result = run_command(command({"orquestra-no-such-program", "x"}), {});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(result.error().message,
              "cannot run 'orquestra-no-such-program': No such file or directory");
}

TEST(CommandRunnerTest, ProgramPathNotFoundIsInvalidArgument) {
    auto result = run_command(command({"/nonexistent/orquestra-prog"}), {});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(result.error().message,
              "cannot run '/nonexistent/orquestra-prog': No such file or directory");
}

TEST(CommandRunnerTest, ProgramIsLookedUpInTheRequestsPath) {
    TempDir dir;
    dir.write_file("orquestra-tool", "#!/bin/sh\necho tool ran with \"$1\"\n",
                   std::filesystem::perms::owner_all);
    CommandRequest request = command({"orquestra-tool", "arg"});
    request.env = {{"PATH", dir.path().string() + ":/usr/bin:/bin"}};
    EXPECT_EQ(run_ok(request).stdout_text, "tool ran with arg\n");
}

TEST(CommandRunnerTest, NonExecutableProgramIsInvalidArgument) {
    TempDir dir;
    dir.write_file("orquestra-tool", "#!/bin/sh\necho ran\n",
                   std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    CommandRequest request = command({"orquestra-tool"});
    request.env = {{"PATH", dir.path().string()}};
    auto result = run_command(request, {});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(result.error().message, "cannot run 'orquestra-tool': Permission denied");
}

TEST(CommandRunnerTest, MissingCwdIsInvalidArgument) {
    CommandRequest request = command({"pwd"});
    request.cwd = "/nonexistent/orquestra-dir";
    auto result = run_command(request, {});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(result.error().message,
              "cannot run 'pwd': working directory '/nonexistent/orquestra-dir': No such file or "
              "directory");
}

TEST(CommandRunnerTest, CwdThatIsAFileIsInvalidArgument) {
    TempDir dir;
    const auto file = dir.write_file("plain", "x", std::filesystem::perms::owner_all);
    CommandRequest request = command({"pwd"});
    request.cwd = file.string();
    auto result = run_command(request, {});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(result.error().message.find("Not a directory"), std::string::npos)
        << result.error().message;
}

TEST(CommandRunnerTest, CwdIsHonoured) {
    TempDir dir;
    CommandRequest request = command({"pwd"});
    request.cwd = dir.path().string();
    EXPECT_EQ(run_ok(request).stdout_text, dir.path().string() + "\n");

    // A relative program path is relative to that directory, as with execve after chdir.
    dir.write_file("local-tool", "#!/bin/sh\necho local\n", std::filesystem::perms::owner_all);
    CommandRequest local = command({"./local-tool"});
    local.cwd = dir.path().string();
    EXPECT_EQ(run_ok(local).stdout_text, "local\n");
}

TEST(CommandRunnerTest, InvalidRequestsAreInvalidArgument) {
    CommandRequest neither;
    CommandRequest both = command({"echo"});
    both.script = "echo";
    CommandRequest bad_env = command({"echo"});
    bad_env.env = {{"A=B", "x"}};
    CommandRequest zero_timeout = command({"echo"});
    zero_timeout.timeout = milliseconds(0);
    for (const CommandRequest* request : {&neither, &both, &bad_env, &zero_timeout}) {
        auto result = run_command(*request, {});
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << result.error().message;
    }
}

TEST(CommandRunnerTest, StdinIsDevNull) {
    CommandRequest request = script("readlink /proc/self/fd/0; cat; echo end");
    request.timeout = milliseconds(5'000);
    const CommandResult result = run_ok(request);
    EXPECT_FALSE(result.timed_out);
    EXPECT_EQ(result.stdout_text, "/dev/null\nend\n");
}

TEST(CommandRunnerTest, ChildStartsWithNoSignalIgnoredOrBlocked) {
    // What a server typically does: ignore SIGPIPE, block signals in worker threads.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction previous {};
    ASSERT_EQ(::sigaction(SIGPIPE, &ignore, &previous), 0);
    sigset_t block;
    sigset_t old_mask;
    ::sigemptyset(&block);
    ::sigaddset(&block, SIGUSR1);
    ::sigaddset(&block, SIGTERM);
    ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
    auto result = run_command(command({"grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"}), {});
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::sigaction(SIGPIPE, &previous, nullptr);
    ASSERT_TRUE(result) << result.error().message;
    const std::string& text = result->stdout_text;
    // "SigBlk:\t<16 hex digits>\nSigIgn:\t<16 hex digits>\n"
    ASSERT_EQ(text.size(), 2u * 25) << text;
    ASSERT_EQ(text.substr(0, 8), "SigBlk:\t");
    ASSERT_EQ(text.substr(25, 8), "SigIgn:\t");
    const unsigned long long blocked = std::stoull(text.substr(8, 16), nullptr, 16);
    const unsigned long long ignored = std::stoull(text.substr(33, 16), nullptr, 16);
    EXPECT_EQ(blocked, 0u) << text;
    // Bits 31 and 32 are glibc's internal signals 32 and 33: its posix_spawn deliberately
    // leaves them ignored in the child of a threaded parent; nothing else may be.
    constexpr unsigned long long kGlibcInternal = (1ull << 31) | (1ull << 32);
    EXPECT_EQ(ignored & ~kGlibcInternal, 0u) << text;
}

TEST(CommandRunnerTest, ChildInheritsNoOtherDescriptors) {
    // A descriptor opened without O_CLOEXEC, as another thread of ours might.
    const int leaked = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(leaked, 0);
    const CommandResult result = run_ok(command({"ls", "/proc/self/fd"}));
    ::close(leaked);
    // ls's own descriptor for the directory it lists is 3.
    EXPECT_EQ(result.stdout_text, "0\n1\n2\n3\n") << "leaked descriptor was " << leaked;
}

std::set<std::string> open_descriptors() {
    std::set<std::string> fds;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        fds.insert(entry.path().filename().string());
    }
    return fds;
}

TEST(CommandRunnerTest, LeavesNoDescriptorOfItsOwnOpen) {
    const std::set<std::string> before = open_descriptors();
    run_ok(command({"echo", "x"}));
    EXPECT_FALSE(run_command(command({"orquestra-no-such-program"}), {}));
    CommandRequest slow = script("exec >&- 2>&-; sleep 30");
    slow.timeout = milliseconds(50);
    EXPECT_TRUE(run_ok(slow).timed_out);
    EXPECT_THROW(run_command(command({"echo", "x"}),
                             [](std::string_view, std::string_view) {
                                 throw std::runtime_error("from on_line");
                             }),
                 std::runtime_error);
    EXPECT_EQ(open_descriptors(), before);
}

TEST(CommandRunnerTest, LargeInterleavedOutputDoesNotDeadlock) {
    constexpr std::size_t kBytes = 5'000'000;
    std::size_t stdout_bytes = 0;
    std::size_t stderr_bytes = 0;
    std::size_t stdout_lines = 0;
    CommandRequest request = script(
        "(yes 'out 0123456789a' | head -c 5000000) & "
        "(yes 'err 0123456789a' | head -c 5000000 >&2) & wait");
    request.timeout = milliseconds(30'000);
    auto result = run_command(request, [&](std::string_view stream, std::string_view line) {
        if (stream == "stdout") {
            stdout_bytes += line.size() + 1;
            ++stdout_lines;
        } else {
            stderr_bytes += line.size() + 1;
        }
    });
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_FALSE(result->timed_out);
    EXPECT_EQ(result->exit_code, 0);
    EXPECT_EQ(result->stdout_text.size(), kBytes);
    EXPECT_EQ(stdout_bytes, kBytes);
    EXPECT_EQ(stderr_bytes, kBytes);
    EXPECT_EQ(stdout_lines, kBytes / 16);
    EXPECT_FALSE(result->output_truncated);
}

TEST(CommandRunnerTest, OutputBeyondTheLimitIsDroppedButTheProgramRuns) {
    Lines lines;
    CommandRequest request =
        script("yes abcdefghi | head -c 100000; echo '{\"late\": 1}'; echo finished >&2");
    request.max_output_bytes = 1'005;
    const CommandResult result = run_ok(request, &lines);
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_TRUE(result.output_truncated);
    EXPECT_EQ(result.stdout_text.size(), 1'005u);
    EXPECT_EQ(result.stdout_text.substr(990), "abcdefghi\nabcde");
    // 100 whole lines, then the cut one.
    const auto out = lines.of("stdout");
    ASSERT_EQ(out.size(), 101u);
    EXPECT_EQ(out.back(), "abcde");
    // The program went on to the end: its last stderr line arrived.
    EXPECT_EQ(lines.of("stderr"), (std::vector<std::string>{"finished"}));
    // The real last stdout line is unknown.
    EXPECT_FALSE(result.output_json.has_value());
}

TEST(CommandRunnerTest, LongLinesAreSplit) {
    Lines lines;
    const CommandResult result = run_ok(
        script("head -c 200000 /dev/zero | tr '\\0' x; echo; head -c 65536 /dev/zero | tr '\\0' y; "
               "echo"),
        &lines);
    const auto out = lines.of("stdout");
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(out[0], std::string(kMaxLineBytes, 'x'));
    EXPECT_EQ(out[1], std::string(kMaxLineBytes, 'x'));
    EXPECT_EQ(out[2], std::string(kMaxLineBytes, 'x'));
    EXPECT_EQ(out[3], std::string(200000 - 3 * kMaxLineBytes, 'x'));
    EXPECT_EQ(out[4], std::string(kMaxLineBytes, 'y'));  // exactly the limit: one line
    EXPECT_EQ(result.stdout_text.size(), 200000u + 1 + 65536 + 1);
}

TEST(CommandRunnerTest, ExceptionFromOnLineKillsTheProgram) {
    CommandRequest request = script("sleep 30 & echo $!; wait");
    pid_t background = 0;
    const auto start = SteadyClock::now();
    EXPECT_THROW(run_command(request,
                             [&](std::string_view, std::string_view line) {
                                 background = static_cast<pid_t>(std::stol(std::string(line)));
                                 throw std::runtime_error("log is full");
                             }),
                 std::runtime_error);
    EXPECT_LT(seconds_since(start), 5.0);
    ASSERT_GT(background, 0);
    EXPECT_FALSE(is_running(background));
}

// Every command waits until all of them have started, so serialised runs would time out.
class CommandRunnerConcurrencyTest : public ::testing::TestWithParam<int> {};

TEST_P(CommandRunnerConcurrencyTest, CommandsRunAtTheSameTimeFromSeveralThreads) {
    const int threads = GetParam();
    TempDir dir;
    std::vector<Result<CommandResult>> results(
        static_cast<std::size_t>(threads),
        Result<CommandResult>(Error{ErrorCode::kInternal, "not run"}));
    std::vector<std::vector<std::string>> logged(static_cast<std::size_t>(threads));
    std::vector<std::thread> workers;
    for (int i = 0; i < threads; ++i) {
        workers.emplace_back([&, i] {
            CommandRequest request = script(
                "touch \"$DIR/$ID\"; "
                "while [ \"$(ls \"$DIR\" | wc -l)\" -lt \"$N\" ]; do sleep 0.01; done; "
                "echo \"$ID\"; echo \"{\\\"id\\\": $ID}\"");
            request.env = {{"DIR", dir.path().string()},
                           {"ID", std::to_string(i)},
                           {"N", std::to_string(threads)}};
            request.timeout = milliseconds(4'000);
            const auto index = static_cast<std::size_t>(i);
            results[index] =
                run_command(request, [&, index](std::string_view, std::string_view line) {
                    logged[index].emplace_back(line);
                });
        });
    }
    for (std::thread& worker : workers) worker.join();
    for (int i = 0; i < threads; ++i) {
        const auto& result = results[static_cast<std::size_t>(i)];
        ASSERT_TRUE(result) << result.error().message;
        EXPECT_FALSE(result->timed_out) << "command " << i;
        EXPECT_EQ(result->exit_code, 0);
        const std::string id = std::to_string(i);
        EXPECT_EQ(result->stdout_text, id + "\n{\"id\": " + id + "}\n");
        EXPECT_EQ(result->output_json, "{\"id\": " + id + "}");
        EXPECT_EQ(logged[static_cast<std::size_t>(i)],
                  (std::vector<std::string>{id, "{\"id\": " + id + "}"}));
    }
}

INSTANTIATE_TEST_SUITE_P(Threads, CommandRunnerConcurrencyTest, ::testing::Values(1, 2, 4));

}  // namespace
}  // namespace orquestra::executor
