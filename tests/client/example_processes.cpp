#include "example_processes.hpp"

#include "core/strings.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <thread>

namespace orquestra::testing {

ExampleService start_example(const std::string& binary, const std::string& name,
                             const std::string& registry_url,
                             const std::vector<std::string>& extra) {
    std::vector<std::string> argv{binary, "--port", "0", "--registry", registry_url};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ExampleService service;
    service.process = std::make_unique<ChildProcess>(argv);
    if (!service.process->started()) return service;
    // Generous: a sanitized build starts slowly.
    auto line = service.process->read_line(std::chrono::seconds(20));
    if (!line) {
        ADD_FAILURE() << name << " printed no line; stderr:\n" << service.process->stderr_text();
        return service;
    }
    service.line = *line;
    const std::regex expected(name + R"( listening on http://127\.0\.0\.1:(\d+) \(registered as )" +
                              to_upper(name) + R"(\))");
    std::smatch m;
    if (!std::regex_match(service.line, m, expected)) {
        ADD_FAILURE() << "unexpected first line of " << name << ": " << service.line;
        return service;
    }
    auto port = parse_int(m[1].str());
    if (!port || *port <= 0 || *port > 65535) {
        ADD_FAILURE() << "bad port in: " << service.line;
        return service;
    }
    service.port = static_cast<std::uint16_t>(*port);
    return service;
}

}  // namespace orquestra::testing
