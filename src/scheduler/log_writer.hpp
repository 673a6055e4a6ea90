#pragma once
// LogWriter: appends lines to the per-try log files on a thread of its own, so that creating
// thousands of files and folders never holds up the scheduler loop. Lines for one file keep
// their order. drain() waits until everything queued so far is on disk (tests, shutdown).
//
// Every per-try log line passes through here, and here it is made safe to show: control
// characters (CR, LF, ESC, the rest of C0, DEL; not TAB) are written as \r, \n, \x1b..., so a
// value cannot forge a line or drive a terminal; a line longer than kMaxLogLineBytes is cut; a
// file stops growing at kMaxLogFileBytes, and an append that could not be written whole ends
// with "... log truncated: N more bytes not written".

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace orquestra::scheduler {

inline constexpr std::size_t kMaxLogLineBytes = 64u << 10;
// The runners' own limit (executor::kMaxTryLogBytes, 8 MiB) plus room for the scheduler's lines.
inline constexpr std::size_t kMaxLogFileBytes = 9u << 20;

// `line` with control characters escaped and cut at kMaxLogLineBytes, as LogWriter writes it.
std::string log_safe(std::string_view line);

class LogWriter {
public:
    LogWriter();
    ~LogWriter();
    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    void append(std::filesystem::path file, std::vector<std::string> lines);
    void drain();

private:
    void work();
    struct Item {
        std::filesystem::path file;
        std::vector<std::string> lines;
    };
    std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable drained_;
    std::deque<Item> queue_;
    bool busy_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace orquestra::scheduler
