#include "app/application.hpp"

#include <spdlog/spdlog.h>

namespace orquestra::app {

Application::~Application() { stop(); }

void Application::add(std::string name, std::function<Result<void>()> start,
                      std::function<void()> stop) {
    parts_.push_back(Part{std::move(name), std::move(start), std::move(stop)});
}

Result<void> Application::start() {
    while (started_ < parts_.size()) {
        Part& part = parts_[started_];
        if (part.start) {
            if (auto r = part.start(); !r) {
                Error error{r.error().code, part.name + ": " + r.error().message};
                ++started_;  // stopped too: what it did start goes with the rest
                stop();
                return error;
            }
        }
        ++started_;
        spdlog::debug("{} started", part.name);
    }
    return {};
}

void Application::stop() {
    while (started_ > 0) {
        Part& part = parts_[--started_];
        if (part.stop) part.stop();
        spdlog::debug("{} stopped", part.name);
    }
}

std::vector<std::string> Application::started() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < started_; ++i) out.push_back(parts_[i].name);
    return out;
}

}  // namespace orquestra::app
