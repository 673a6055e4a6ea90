#pragma once
// Service declarations: the programs a supervisor keeps running (`services/*.yaml`, one service
// per file; see README "Supervised services"):
//
//     name: servico_usuarios            # [A-Za-z0-9_.-], at most 64; the registry app's name
//     command: [../servico_usuarios, --port, "{{ port }}", --instance-id, "{{ instance_id }}"]
//     instances: 2                      # 1..64
//     environment: {LOG_LEVEL: info}    # NAME: value, values may hold templates
//     health: /health                   # GET here must answer 2xx before the start counts
//     port: auto                        # auto (a free port per instance) or none
//     restart: {initial: 1s, max: 30s, reset_after: 1m}
//     stop_grace: 5s                    # SIGTERM, then SIGKILL after this
//     start_timeout: 15s                # for the health path to answer
//
// `command` is a list (argv, never shell text: `{{ port }}`, `{{ instance_id }}`, `{{ index }}`,
// `{{ name }}` and `{{ registry }}` are replaced in each item) or a string, run by /bin/sh -c,
// where templates are refused: it reads $PORT, $ORQUESTRA_INSTANCE_ID and
// $ORQUESTRA_REGISTRY_URL instead. A program path with a '/' is relative to the file's folder.
//
// The files are hostile input: at most 64 KiB each and 256 files; every error names the file
// and line ("services/a.yaml:3: instances must be an integer from 1 to 64").

#include "core/clock.hpp"
#include "core/error.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orquestra::app {

struct RestartPolicy {
    Millis initial_ms = 1'000;
    Millis max_ms = 30'000;
    Millis reset_after_ms = 60'000;  // up this long: the next failure starts from `initial`
};

// The delay before restarting after `failures` exits in a row (1 for the first): `initial`
// doubled each time, at most `max`.
Millis restart_delay(const RestartPolicy& policy, int failures);

struct ServiceDecl {
    std::string name;
    std::string file;  // where it was declared, for messages
    std::filesystem::path folder;  // relative program paths start here
    std::vector<std::string> argv;  // with templates; {"sh", "-c", text} for a string command
    bool shell = false;             // `command` was a string
    int instances = 1;
    std::vector<std::pair<std::string, std::string>> environment;  // values with templates
    std::string health_path;  // "" or "/..."
    bool port = true;         // a free port per instance ($PORT, {{ port }})
    RestartPolicy restart;
    Millis stop_grace_ms = 5'000;
    Millis start_timeout_ms = 15'000;
};

// One file's text. `file` names it in errors.
Result<ServiceDecl> parse_service_file(std::string_view text, const std::string& file,
                                       const std::filesystem::path& folder = ".");
// Every *.yaml / *.yml in `dir`, in file name order; the first error stops the load. Two
// services with the same name are refused.
Result<std::vector<ServiceDecl>> load_service_files(const std::filesystem::path& dir);

// What the templates of one instance read.
struct InstanceValues {
    std::string name;
    int index = 1;
    std::string instance_id;
    std::uint16_t port = 0;
    std::string registry;
};
std::string expand_templates(std::string_view text, const InstanceValues& values);

}  // namespace orquestra::app
