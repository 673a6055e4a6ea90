#pragma once
// HttpTaskRunner: the `http` task kind. A service named in the DAG is resolved through the
// ServiceDirectory at call time (UP instances only); calls are spread over the instances in
// turn. Within one try, a refused connection, a timeout or a 5xx moves on to the next
// instance; a 4xx (or any status the task does not expect) fails the try at once, since it is
// the request's fault, not the instance's. Each call has its own time limit within the try's
// (RenderedHttp::attempt_timeout, else the try's timeout shared among the instances, at least
// kMinAttemptTimeout; the last instance gets what is left), so an instance that hangs does not
// keep the others from being tried. The log says what happened at each instance. Every request carries headers naming the DAG, run,
// task and try so that services can deduplicate. Runs asynchronously on the given executors:
// thousands of calls may be in flight, and nothing forks.

#include "executor/task_runner.hpp"
#include "http/client_pool.hpp"
#include "http/io_pool.hpp"

#include <atomic>
#include <mutex>
#include <unordered_map>

namespace orquestra::executor {

inline constexpr std::chrono::milliseconds kMinAttemptTimeout{1'000};

class HttpTaskRunner final : public TaskRunner {
public:
    HttpTaskRunner(http::IoPool& pool, ServiceDirectory& directory);
    void run(Attempt attempt, std::function<void(AttemptResult)> done) override;

private:
    std::size_t next_index(const std::string& service);

    http::IoPool& pool_;
    ServiceDirectory& directory_;
    http::ClientPool clients_;
    std::mutex mu_;
    std::unordered_map<std::string, std::size_t> round_robin_;
};

}  // namespace orquestra::executor
