#include "scheduler/log_writer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>

namespace orquestra::scheduler {

std::string log_safe(std::string_view line) {
    std::string out;
    std::size_t cut = 0;
    if (line.size() > kMaxLogLineBytes) {
        cut = line.size() - kMaxLogLineBytes;
        line = line.substr(0, kMaxLogLineBytes);
    }
    out.reserve(line.size() + 16);
    for (char c : line) {
        auto u = static_cast<unsigned char>(c);
        if ((u >= 0x20 && u != 0x7f) || c == '\t') {
            out.push_back(c);
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += fmt::format("\\x{:02x}", u);
        }
    }
    if (cut > 0) out += fmt::format(" ... ({} more bytes of this line not written)", cut);
    return out;
}

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
            // The file's size says how much of the cap is used, so nothing is kept per file.
            std::uintmax_t size = std::filesystem::file_size(item.file, ec);
            if (ec) size = 0;
            std::ofstream out(item.file, std::ios::app);
            if (!out) {
                spdlog::warn("cannot write log {}", item.file.string());
                continue;
            }
            std::size_t dropped = 0;
            for (const auto& line : item.lines) {
                std::string safe = log_safe(line);
                if (dropped > 0 || size + safe.size() + 1 > kMaxLogFileBytes) {
                    dropped += safe.size() + 1;
                    continue;
                }
                size += safe.size() + 1;
                out << safe << '\n';
            }
            if (dropped > 0) out << "... log truncated: " << dropped << " more bytes not written\n";
        }
    }
}

}  // namespace orquestra::scheduler
