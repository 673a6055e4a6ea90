#include "app/home_access.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "core/strings.hpp"

namespace orquestra::app {

namespace fs = std::filesystem;

namespace {

Error io_error(std::string what, const fs::path& path) {
    return Error{ErrorCode::kInternal,
                 fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(errno))};
}

Result<void> make_private_dir(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
        if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
            return io_error("create", path);
        }
    }
    return tighten(path, true);
}

}  // namespace

Result<void> tighten(const fs::path& path, bool directory) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return {};
        return io_error("read the mode of", path);
    }
    const mode_t open_bits = st.st_mode & (S_IRWXG | S_IRWXO);
    if (open_bits == 0) return {};
    const mode_t mode = st.st_mode & S_IRWXU;
    if (::chmod(path.c_str(), mode) != 0) return io_error("change the mode of", path);
    spdlog::warn("{} {} was open to other users (mode {:04o}); now {:04o}",
                 directory ? "folder" : "file", path.string(), st.st_mode & 07777, mode);
    return {};
}

Result<void> secure_home(const HomePaths& paths) {
    for (const auto& dir : {paths.home, paths.dags, paths.logs}) {
        if (dir == paths.dags && dir != paths.home / "dags") {
            // A DAG folder of the user's choosing (--dags) keeps its own mode.
            std::error_code ec;
            fs::create_directories(dir, ec);
            continue;
        }
        if (auto r = make_private_dir(dir); !r) return r;
    }
    // The database is created here, empty and 0600, so that SQLite keeps that mode for it and
    // gives it to the -wal and -shm files it makes next to it (none with PostgreSQL).
    if (paths.db.empty()) return {};
    const int fd = ::open(paths.db.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("create", paths.db);
    ::close(fd);
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        if (auto r = tighten(paths.db.string() + suffix, false); !r) return r;
    }
    return {};
}

Result<void> check_credentials(std::string_view text, std::string_view source) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return Error{ErrorCode::kInvalidArgument, fmt::format("{} must be user:password", source)};
    }
    for (char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("{} contains a control character", source)};
        }
    }
    return {};
}

Result<std::optional<std::string>> resolve_registry_auth(const std::string& file,
                                                         const std::optional<std::string>& env,
                                                         const std::string& flag) {
    if (!file.empty()) {
        struct stat st {};
        if (::stat(file.c_str(), &st) != 0) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("cannot read the registry credentials file {}: {}", file,
                                     std::strerror(errno))};
        }
        if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("the registry credentials file {} may be read by other "
                                     "users (mode {:04o}): make it private with chmod 600 {}",
                                     file, st.st_mode & 07777, file)};
        }
        std::ifstream in(file);
        std::string line;
        if (!in || !std::getline(in, line)) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("cannot read the registry credentials file {}", file)};
        }
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (auto r = check_credentials(line, "the registry credentials file " + file); !r) {
            return r.error();
        }
        return std::optional<std::string>(std::move(line));
    }
    if (env && !env->empty()) {
        if (auto r = check_credentials(*env, kRegistryAuthEnv); !r) return r.error();
        return env;
    }
    if (!flag.empty()) {
        if (auto r = check_credentials(flag, "the registry credentials"); !r) return r.error();
        return std::optional<std::string>(flag);
    }
    return std::optional<std::string>();
}

std::optional<std::string> take_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    std::string text(value);
    ::unsetenv(name);
    if (text.empty()) return std::nullopt;
    return text;
}

const std::optional<std::string>& secret_key_from_environment() {
    static const std::optional<std::string> key = take_env("ORQUESTRA_SECRET_KEY");
    return key;
}

bool is_loopback_host(std::string_view host) {
    if (iequals(host, "localhost")) return true;
    std::string text(host);
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
        text = text.substr(1, text.size() - 2);
    }
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(text, ec);
    return !ec && address.is_loopback();
}

}  // namespace orquestra::app
