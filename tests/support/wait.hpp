#pragma once
// Waiting in tests without racing: poll a condition until it holds or a generous deadline
// passes (the condition is the test, the deadline only stops a hang); and reading a whole file.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace orquestra::testing {

// True once `check()` holds; false when it still does not after `limit`.
template <class F>
bool eventually(F check, std::chrono::milliseconds limit = std::chrono::seconds(20),
                std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (check()) return true;
        std::this_thread::sleep_for(step);
    }
    return check();
}

// The file's whole content ("" when it cannot be read).
inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace orquestra::testing
