#include "scheduler/log_writer.hpp"

#include <spdlog/spdlog.h>

#include <fstream>

namespace orquestra::scheduler {

LogWriter::LogWriter() : thread_([this] { work(); }) {}

LogWriter::~LogWriter() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void LogWriter::append(std::filesystem::path file, std::vector<std::string> lines) {
    {
        std::lock_guard lock(mu_);
        queue_.push_back(Item{std::move(file), std::move(lines)});
    }
    cv_.notify_one();
}

void LogWriter::drain() {
    std::unique_lock lock(mu_);
    drained_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void LogWriter::work() {
    for (;;) {
        std::deque<Item> batch;
        {
            std::unique_lock lock(mu_);
            busy_ = false;
            drained_.notify_all();
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything is written
            batch.swap(queue_);
            busy_ = true;
        }
        for (auto& item : batch) {
            std::error_code ec;
            std::filesystem::create_directories(item.file.parent_path(), ec);
            std::ofstream out(item.file, std::ios::app);
            if (!out) {
                spdlog::warn("cannot write log {}", item.file.string());
                continue;
            }
            for (const auto& line : item.lines) out << line << '\n';
        }
    }
}

}  // namespace orquestra::scheduler
