#include "executor/process_group.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <optional>
#include <thread>

namespace orquestra::executor {

namespace {

constexpr std::size_t kMaxEnvironBytes = 1u << 20;

std::string read_small_file(const std::string& path, std::size_t limit) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string out;
    char buf[8192];
    while (out.size() < limit) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

const std::string& boot_id() {
    static const std::string id = [] {
        std::string s = read_small_file("/proc/sys/kernel/random/boot_id", 128);
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }();
    return id;
}

struct ProcStat {
    char state = '?';
    int pgrp = 0;
    unsigned long long start_ticks = 0;
};

std::optional<ProcStat> read_stat(int pid) {
    std::string text = read_small_file(fmt::format("/proc/{}/stat", pid), 4096);
    auto close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    // After the command name: state ppid pgrp ... with the start time the 20th field.
    std::string_view rest(text);
    rest.remove_prefix(close + 1);
    std::vector<std::string_view> fields;
    while (!rest.empty() && fields.size() < 20) {
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        auto end = rest.find(' ');
        fields.push_back(rest.substr(0, end));
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end);
    }
    if (fields.size() < 20 || fields[0].empty()) return std::nullopt;
    ProcStat st;
    st.state = fields[0][0];
    auto parse = [](std::string_view s, auto& out) {
        return std::from_chars(s.data(), s.data() + s.size(), out).ec == std::errc{};
    };
    if (!parse(fields[2], st.pgrp) || !parse(fields[19], st.start_ticks)) return std::nullopt;
    return st;
}

std::optional<unsigned long long> identity_ticks(std::string_view identity) {
    auto colon = identity.rfind(':');
    if (colon == std::string_view::npos || identity.substr(0, colon) != boot_id()) {
        return std::nullopt;
    }
    unsigned long long ticks = 0;
    auto digits = identity.substr(colon + 1);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), ticks).ec != std::errc{}) {
        return std::nullopt;
    }
    return ticks;
}

bool environ_has(int pid, const std::string& entry) {
    std::string env = read_small_file(fmt::format("/proc/{}/environ", pid), kMaxEnvironBytes);
    std::size_t pos = 0;
    while (pos < env.size()) {
        auto end = env.find('\0', pos);
        if (end == std::string::npos) end = env.size();
        if (std::string_view(env).substr(pos, end - pos) == entry) return true;
        pos = end + 1;
    }
    return false;
}

std::vector<int> all_pids() {
    std::vector<int> out;
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) return out;
    while (auto* e = ::readdir(dir)) {
        int pid = 0;
        std::string_view name(e->d_name);
        if (std::from_chars(name.data(), name.data() + name.size(), pid).ec == std::errc{} &&
            pid > 0) {
            out.push_back(pid);
        }
    }
    ::closedir(dir);
    return out;
}

bool alive(int pid) {
    auto st = read_stat(pid);
    return st && st->state != 'Z' && st->state != 'X';
}

}  // namespace

std::string process_identity(int pid) {
    if (boot_id().empty()) return {};
    auto st = read_stat(pid);
    if (!st) return {};
    return fmt::format("{}:{}", boot_id(), st->start_ticks);
}

std::string try_marker(std::string_view owner, std::string_view dag_id, std::string_view run_id,
                       std::string_view task_id, int try_number) {
    // Ids never contain '/', so the marker is unambiguous.
    return fmt::format("{}/{}/{}/{}/{}", owner, dag_id, run_id, task_id, try_number);
}

int stop_try_processes(const TryProcesses& target, int wait_ms) {
    const int self = static_cast<int>(::getpid());
    const int own_group = static_cast<int>(::getpgrp());
    std::optional<unsigned long long> leader_start;
    bool group_ours = false;  // the recorded group still is the try's
    if (target.group > 0 && target.group != own_group && target.group != self) {
        leader_start = identity_ticks(target.identity);
        if (leader_start) {
            auto leader = read_stat(target.group);
            // The leader is there with its identity, or gone (a reused pid never leads a
            // group while members of the old one remain: Linux keeps a pid in use while it
            // is some process's group id).
            group_ours = !leader || leader->start_ticks == *leader_start;
        }
    }
    const std::string entry =
        target.marker.empty() ? std::string() : fmt::format("{}={}", kTryMarkerVariable, target.marker);
    std::vector<int> signalled;
    for (int pid : all_pids()) {
        if (pid == self) continue;
        auto st = read_stat(pid);
        if (!st || st->state == 'Z' || st->pgrp == own_group) continue;
        bool match = group_ours && st->pgrp == target.group && st->start_ticks >= *leader_start;
        if (!match && !entry.empty()) match = environ_has(pid, entry);
        if (!match) continue;
        if (::kill(pid, SIGKILL) == 0) signalled.push_back(pid);
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    for (int pid : signalled) {
        while (alive(pid) && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    return static_cast<int>(signalled.size());
}

}  // namespace orquestra::executor
