#pragma once
// HttpTaskRunner: the `http` task kind. A service named in the DAG is resolved through the
// ServiceDirectory at call time (UP instances only), and the instances are chosen and failed
// over through the process's discovery::InstanceChoice (the caller's zone first, round robin,
// a circuit breaker per instance and a retry budget per service, shared by every run and task:
// a dead instance costs one failed call, not one per run) and discovery::call_service(), the
// one implementation of failover. Within one try, a refused connection, a timeout or a 5xx
// moves on to the next instance; a 4xx (or any status the task does not expect) fails the try
// at once, since it is the request's fault, not the instance's. Each call has its own time
// limit within the try's (RenderedHttp::attempt_timeout, else the try's timeout shared among
// the instances, at least kMinAttemptTimeout; the last instance gets what is left), so an
// instance that hangs does not keep the others from being tried. The log says what happened at
// each instance, and which ones were skipped because their circuit is open. Every request
// carries headers naming the DAG, run, task and try so that services can deduplicate. Runs
// asynchronously on the given executors: thousands of calls may be in flight, and nothing
// forks.

#include "discovery/instance_choice.hpp"
#include "discovery/service_directory.hpp"
#include "executor/task_runner.hpp"
#include "http/client_pool.hpp"
#include "http/io_pool.hpp"

namespace orquestra::executor {

inline constexpr std::chrono::milliseconds kMinAttemptTimeout{1'000};

class HttpTaskRunner final : public TaskRunner {
public:
    // `choice` must outlive the runner; several runners may share one.
    HttpTaskRunner(http::IoPool& pool, discovery::ServiceDirectory& directory,
                   discovery::InstanceChoice& choice);
    void run(Attempt attempt, std::function<void(AttemptResult)> done) override;

private:
    http::IoPool& pool_;
    discovery::ServiceDirectory& directory_;
    discovery::InstanceChoice& choice_;
    http::ClientPool clients_;
};

}  // namespace orquestra::executor
