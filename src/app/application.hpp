#pragma once
// Application: the composition root. The parts of a process (event-loop threads, the registry,
// the scheduler, the REST API, child processes...) are added in dependency order, each with how
// it starts and how it stops. start() starts them in that order; when one fails, it and the
// ones already started are stopped in reverse (so a stop copes with a part started halfway)
// and the error names the part. stop() (and the
// destructor) stops the started ones in reverse order, each once. `standalone`, `scheduler`,
// `webserver`, `registry` and the tests' stacks are all built this way.
//
// Not thread-safe: one thread starts and stops it.

#include "core/error.hpp"

#include <functional>
#include <string>
#include <vector>

namespace orquestra::app {

class Application {
public:
    Application() = default;
    ~Application();
    Application(const Application&) = delete;
    Application& operator=(const Application&) = delete;

    // `start` may be empty (a part that only stops) and so may `stop`.
    void add(std::string name, std::function<Result<void>()> start, std::function<void()> stop);

    Result<void> start();
    void stop();

    // The parts started so far, in order (for logs and tests).
    std::vector<std::string> started() const;

private:
    struct Part {
        std::string name;
        std::function<Result<void>()> start;
        std::function<void()> stop;
    };
    std::vector<Part> parts_;
    std::size_t started_ = 0;
};

}  // namespace orquestra::app
