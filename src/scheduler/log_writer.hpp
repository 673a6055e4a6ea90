#pragma once
// LogWriter: appends lines to the per-try log files on a thread of its own, so that creating
// thousands of files and folders never holds up the scheduler loop. Lines for one file keep
// their order. drain() waits until everything queued so far is on disk (tests, shutdown).

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace orquestra::scheduler {

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
