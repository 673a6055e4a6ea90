#pragma once
// TaskRunner: runs one try of a task whose templates the scheduler has already rendered, and
// reports how it ended. The scheduler owns states, retries and durability; a runner only does
// the work and says what happened.
//
// run() returns at once; `done` is called exactly once, from any thread.

#include "core/clock.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace orquestra::executor {

struct RenderedHttp {
    std::optional<std::string> service;
    std::optional<std::string> url;
    std::string method = "GET";
    std::string path;  // with the query string appended
    std::vector<std::pair<std::string, std::string>> headers;
    std::optional<std::string> body;  // rendered JSON text or raw body
    std::string content_type;
    std::vector<int> expected_status;  // empty: any 2xx
    // Each call to one instance; unset: the try's timeout shared among the instances.
    std::optional<std::chrono::milliseconds> attempt_timeout;
};

struct RenderedCommand {
    std::vector<std::string> argv;
    std::optional<std::string> script;
    std::vector<std::pair<std::string, std::string>> env;
    std::optional<std::string> cwd;
};

struct RenderedWait {
    std::string service;
    int min_instances = 1;
};

// A command's process group once it runs, and its leader's identity (process_group.hpp).
struct StartedProcess {
    int group = 0;
    std::string identity;
};

struct Attempt {
    std::string dag_id;
    std::string run_id;
    std::string task_id;
    int try_number = 1;
    std::chrono::milliseconds timeout{30'000};
    std::variant<RenderedHttp, RenderedCommand, RenderedWait> work;
    // Commands: called once, from any thread, when the process has started (before `done`).
    // A try that is never started (dropped from the queue at shutdown) never calls it.
    std::function<void(const StartedProcess&)> on_started;
    // Commands: called from the runner's thread with log lines as the command writes them (its
    // first lines one by one, later ones in batches), always before `done`; lines given here
    // are not repeated in AttemptResult::log. Unset: every line comes in AttemptResult::log.
    std::function<void(std::vector<std::string>)> on_log;
};

// A try's log lines from a runner are kept up to this many bytes, each line counted with
// kLogLineOverhead for its time stamp; past it, lines are counted and dropped, and a last line
// says "... log truncated: N more bytes not written".
inline constexpr std::size_t kMaxTryLogBytes = 8u << 20;
inline constexpr std::size_t kLogLineOverhead = 32;

struct AttemptResult {
    bool success = false;
    std::optional<std::string> output_json;  // the task's output (XCom return_value)
    std::string error;                        // why it failed
    std::string served_by;                    // the service instance that answered
    std::vector<std::string> log;             // lines for the try's log, in order
};

class TaskRunner {
public:
    virtual ~TaskRunner() = default;
    virtual void run(Attempt attempt, std::function<void(AttemptResult)> done) = 0;
};

}  // namespace orquestra::executor
