// The service file loader. Inside this file a validation failure throws the private
// ServiceFileError (a line and a reason); parse_service_file() catches it, and yaml-cpp's and
// the standard exceptions, at the edge and returns them as values.

#include "app/service_file.hpp"

#include "core/strings.hpp"
#include "dag/time_text.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <set>
#include <sstream>

namespace orquestra::app {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxFileBytes = 64u << 10;
constexpr std::size_t kMaxFiles = 256;
constexpr std::size_t kMaxArgs = 256;
constexpr std::size_t kMaxEnvironment = 256;
constexpr std::size_t kMaxValueBytes = 8u << 10;
constexpr int kMaxInstances = 64;

constexpr std::array<std::string_view, 5> kTemplates = {"port", "instance_id", "index", "name",
                                                        "registry"};
constexpr std::array<std::string_view, 9> kKeys = {
    "name", "command", "instances", "environment", "health", "port", "restart", "stop_grace",
    "start_timeout"};

struct ServiceFileError {
    int line = 0;
    std::string reason;
};

[[noreturn]] void fail(int line, std::string reason) {
    throw ServiceFileError{line, std::move(reason)};
}

int line_of(const YAML::Node& n, int fallback) {
    if (!n.IsDefined()) return fallback;
    const YAML::Mark m = n.Mark();
    return m.is_null() ? fallback : m.line + 1;
}

std::string scalar(const YAML::Node& n, std::string_view what, int line) {
    if (!n.IsScalar()) fail(line_of(n, line), fmt::format("{} must be a string", what));
    const std::string& s = n.Scalar();
    if (s.size() > kMaxValueBytes) {
        fail(line_of(n, line), fmt::format("{} is longer than {} bytes", what, kMaxValueBytes));
    }
    if (s.find('\0') != std::string::npos) {
        fail(line_of(n, line), fmt::format("{} contains a NUL byte", what));
    }
    return s;
}

Millis duration(const YAML::Node& n, std::string_view what, int line, Millis max) {
    auto d = dag::parse_duration(scalar(n, what, line));
    if (!d) fail(line_of(n, line), fmt::format("{}: {}", what, d.error().message));
    if (*d > max) {
        fail(line_of(n, line), fmt::format("{} must be at most {}", what, dag::format_duration(max)));
    }
    return *d;
}

// Every `{{ ... }}` in `text` must be one of kTemplates.
void check_templates(std::string_view text, std::string_view what, int line) {
    std::size_t pos = 0;
    while ((pos = text.find("{{", pos)) != std::string_view::npos) {
        const auto end = text.find("}}", pos + 2);
        if (end == std::string_view::npos) fail(line, fmt::format("{}: '{{{{' without '}}}}'", what));
        const std::string_view inner = trim(text.substr(pos + 2, end - pos - 2));
        if (std::find(kTemplates.begin(), kTemplates.end(), inner) == kTemplates.end()) {
            fail(line, fmt::format("{}: unknown template '{{{{ {} }}}}' (known: port, "
                                   "instance_id, index, name, registry)",
                                   what, inner.substr(0, 64)));
        }
        pos = end + 2;
    }
}

bool uses_template(std::string_view text, std::string_view name) {
    std::size_t pos = 0;
    while ((pos = text.find("{{", pos)) != std::string_view::npos) {
        const auto end = text.find("}}", pos + 2);
        if (end == std::string_view::npos) return false;
        if (trim(text.substr(pos + 2, end - pos - 2)) == name) return true;
        pos = end + 2;
    }
    return false;
}

bool valid_name(std::string_view s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
}

bool valid_env_name(std::string_view s) {
    if (s.empty() || s.size() > 128 || (s[0] >= '0' && s[0] <= '9')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

ServiceDecl parse(std::string_view text, const std::string& file, const fs::path& folder) {
    if (text.size() > kMaxFileBytes) fail(1, fmt::format("larger than {} bytes", kMaxFileBytes));
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) fail(line_of(root, 1), "a service file must be a mapping (name: ..., command: ...)");
    ServiceDecl d;
    d.file = file;
    d.folder = folder;
    std::set<std::string> seen;
    for (auto it = root.begin(); it != root.end(); ++it) {
        const YAML::Node key = it->first;
        const YAML::Node value = it->second;
        const int line = line_of(key, 1);
        const std::string k = scalar(key, "a key", line);
        if (std::find(kKeys.begin(), kKeys.end(), k) == kKeys.end()) {
            fail(line, fmt::format("unknown key '{}' (known: name, command, instances, "
                                   "environment, health, port, restart, stop_grace, "
                                   "start_timeout)",
                                   k.substr(0, 64)));
        }
        if (!seen.insert(k).second) fail(line, fmt::format("duplicate key '{}'", k));
        const int vline = line_of(value, line);
        if (k == "name") {
            d.name = scalar(value, "name", line);
            if (!valid_name(d.name)) {
                fail(vline, "name must be 1 to 64 letters, digits, '_', '-' or '.'");
            }
        } else if (k == "command") {
            if (value.IsScalar()) {
                const std::string script = scalar(value, "command", line);
                if (trim(script).empty()) fail(vline, "command is empty");
                if (script.find("{{") != std::string::npos) {
                    fail(vline, "a string command is shell text and takes no templates: read "
                                "$PORT, $ORQUESTRA_INSTANCE_ID or $ORQUESTRA_REGISTRY_URL, or "
                                "give command as a list");
                }
                d.argv = {"sh", "-c", script};
                d.shell = true;
            } else if (value.IsSequence()) {
                if (value.size() == 0) fail(vline, "command is an empty list");
                if (value.size() > kMaxArgs) fail(vline, fmt::format("command has more than {} items", kMaxArgs));
                for (const auto& item : value) {
                    const int iline = line_of(item, vline);
                    std::string arg = scalar(item, "a command item", iline);
                    check_templates(arg, "command", iline);
                    d.argv.push_back(std::move(arg));
                }
                if (d.argv.front().empty() || d.argv.front().find("{{") != std::string::npos) {
                    fail(vline, "the command's program (its first item) must be a plain name or path");
                }
            } else {
                fail(vline, "command must be a list (argv) or a string (a /bin/sh script)");
            }
        } else if (k == "instances") {
            auto n = parse_int(scalar(value, "instances", line));
            if (!n || *n < 1 || *n > kMaxInstances) {
                fail(vline, fmt::format("instances must be an integer from 1 to {}", kMaxInstances));
            }
            d.instances = static_cast<int>(*n);
        } else if (k == "environment") {
            if (value.IsNull()) continue;
            if (!value.IsMap()) fail(vline, "environment must be a mapping of NAME: value");
            if (value.size() > kMaxEnvironment) {
                fail(vline, fmt::format("environment has more than {} variables", kMaxEnvironment));
            }
            std::set<std::string> names;
            for (auto e = value.begin(); e != value.end(); ++e) {
                const int eline = line_of(e->first, vline);
                std::string name = scalar(e->first, "a variable name", eline);
                if (!valid_env_name(name)) {
                    fail(eline, fmt::format("bad environment variable name '{}'", name.substr(0, 64)));
                }
                if (!names.insert(name).second) fail(eline, fmt::format("duplicate variable '{}'", name));
                std::string v = scalar(e->second, fmt::format("variable {}", name), eline);
                check_templates(v, fmt::format("variable {}", name), eline);
                d.environment.emplace_back(std::move(name), std::move(v));
            }
        } else if (k == "health") {
            d.health_path = scalar(value, "health", line);
            if (d.health_path.empty() || d.health_path.front() != '/' || d.health_path.size() > 1024 ||
                std::any_of(d.health_path.begin(), d.health_path.end(), [](char c) {
                    auto u = static_cast<unsigned char>(c);
                    return u <= 0x20 || u >= 0x7f || c == '#';
                })) {
                fail(vline, "health must be a path starting with '/', without spaces");
            }
        } else if (k == "port") {
            const std::string p = scalar(value, "port", line);
            if (p == "auto") {
                d.port = true;
            } else if (p == "none") {
                d.port = false;
            } else {
                fail(vline, "port must be auto (a free port per instance) or none");
            }
        } else if (k == "restart") {
            if (!value.IsMap()) fail(vline, "restart must be a mapping {initial, max, reset_after}");
            for (auto e = value.begin(); e != value.end(); ++e) {
                const int eline = line_of(e->first, vline);
                const std::string rk = scalar(e->first, "a key", eline);
                constexpr Millis kDay = 24LL * 3600 * 1000;
                if (rk == "initial") {
                    d.restart.initial_ms = duration(e->second, "restart.initial", eline, kDay);
                } else if (rk == "max") {
                    d.restart.max_ms = duration(e->second, "restart.max", eline, kDay);
                } else if (rk == "reset_after") {
                    d.restart.reset_after_ms = duration(e->second, "restart.reset_after", eline, kDay);
                } else {
                    fail(eline, fmt::format("unknown key '{}' in restart (known: initial, max, "
                                            "reset_after)",
                                            rk.substr(0, 64)));
                }
            }
            if (d.restart.initial_ms < 10) fail(vline, "restart.initial must be at least 10ms");
            if (d.restart.max_ms < d.restart.initial_ms) {
                fail(vline, "restart.max must not be less than restart.initial");
            }
        } else if (k == "stop_grace") {
            d.stop_grace_ms = duration(value, "stop_grace", line, 10 * 60 * 1000);
        } else if (k == "start_timeout") {
            d.start_timeout_ms = duration(value, "start_timeout", line, 10 * 60 * 1000);
        }
    }
    if (d.name.empty()) fail(1, "missing key 'name'");
    if (d.argv.empty()) fail(1, "missing key 'command'");
    if (!d.port && !d.health_path.empty()) {
        fail(1, "health needs a port to probe (port: auto)");
    }
    if (!d.port) {
        bool reads_port = false;
        for (const auto& a : d.argv) reads_port = reads_port || uses_template(a, "port");
        for (const auto& [n, v] : d.environment) reads_port = reads_port || uses_template(v, "port");
        if (reads_port) fail(1, "the command reads {{ port }} but port is none");
    }
    return d;
}

}  // namespace

Millis restart_delay(const RestartPolicy& policy, int failures) {
    Millis delay = policy.initial_ms;
    for (int i = 1; i < failures && delay < policy.max_ms; ++i) delay *= 2;
    return std::min(delay, policy.max_ms);
}

Result<ServiceDecl> parse_service_file(std::string_view text, const std::string& file,
                                       const fs::path& folder) {
    try {
        return parse(text, file, folder);
    } catch (const ServiceFileError& e) {
        return Error{ErrorCode::kInvalidArgument, fmt::format("{}:{}: {}", file, e.line, e.reason)};
    } catch (const YAML::Exception& e) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("{}:{}: {}", file, e.mark.is_null() ? 1 : e.mark.line + 1, e.msg)};
    } catch (const std::exception& e) {
        return Error{ErrorCode::kInvalidArgument, fmt::format("{}:1: {}", file, e.what())};
    }
}

Result<std::vector<ServiceDecl>> load_service_files(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return Error{ErrorCode::kNotFound, fmt::format("{}: not a folder", dir.string())};
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const auto ext = entry.path().extension();
        if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file(ec)) {
            files.push_back(entry.path());
        }
        if (files.size() > kMaxFiles) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("{}: more than {} service files", dir.string(), kMaxFiles)};
        }
    }
    if (ec) return Error{ErrorCode::kInternal, fmt::format("{}: {}", dir.string(), ec.message())};
    std::sort(files.begin(), files.end());
    std::vector<ServiceDecl> out;
    for (const auto& path : files) {
        const std::string shown = path.string();
        if (fs::file_size(path, ec) > kMaxFileBytes || ec) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("{}:1: larger than {} bytes", shown, kMaxFileBytes)};
        }
        std::ifstream in(path, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        if (!in && !in.eof()) {
            return Error{ErrorCode::kInternal, fmt::format("{}: cannot read", shown)};
        }
        auto decl = parse_service_file(text.str(), shown, path.parent_path());
        if (!decl) return decl.error();
        for (const auto& other : out) {
            if (other.name == decl->name) {
                return Error{ErrorCode::kInvalidArgument,
                             fmt::format("{}:1: service '{}' is also declared in {}", shown,
                                         decl->name, other.file)};
            }
        }
        out.push_back(std::move(*decl));
    }
    return out;
}

std::string expand_templates(std::string_view text, const InstanceValues& values) {
    std::string out;
    std::size_t pos = 0;
    while (true) {
        const auto open = text.find("{{", pos);
        const auto close = open == std::string_view::npos ? open : text.find("}}", open + 2);
        if (close == std::string_view::npos) {
            out.append(text.substr(pos));
            return out;
        }
        out.append(text.substr(pos, open - pos));
        const std::string_view inner = trim(text.substr(open + 2, close - open - 2));
        if (inner == "port") {
            out += std::to_string(values.port);
        } else if (inner == "instance_id") {
            out += values.instance_id;
        } else if (inner == "index") {
            out += std::to_string(values.index);
        } else if (inner == "name") {
            out += values.name;
        } else if (inner == "registry") {
            out += values.registry;
        } else {
            out.append(text.substr(open, close + 2 - open));
        }
        pos = close + 2;
    }
}

}  // namespace orquestra::app
