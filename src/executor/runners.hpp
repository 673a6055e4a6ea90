#pragma once
// The other task kinds, and the runner that dispatches each try to the right one.
//
// CommandTaskRunner runs subprocesses on a few worker threads (process creation is slow and
// blocking, so it never touches an event loop). ServiceWaitRunner completes a
// wait_for_service try when the registry reports enough UP instances: it is woken by the
// directory's change notifications, not by polling. RunnerSet routes a try by its kind.

#include "discovery/service_directory.hpp"
#include "executor/task_runner.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace orquestra::executor {

class CommandTaskRunner final : public TaskRunner {
public:
    explicit CommandTaskRunner(int threads = 4);
    ~CommandTaskRunner() override;
    void run(Attempt attempt, std::function<void(AttemptResult)> done) override;

private:
    void work();
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<Attempt, std::function<void(AttemptResult)>>> queue_;
    bool stopping_ = false;
    std::atomic<bool> cancel_{false};  // set on destruction: running commands are stopped
    std::vector<std::thread> threads_;
};

class ServiceWaitRunner final : public TaskRunner {
public:
    ServiceWaitRunner(boost::asio::io_context& io, discovery::ServiceDirectory& directory);
    ~ServiceWaitRunner() override;
    ServiceWaitRunner(const ServiceWaitRunner&) = delete;
    ServiceWaitRunner& operator=(const ServiceWaitRunner&) = delete;
    void run(Attempt attempt, std::function<void(AttemptResult)> done) override;

private:
    struct Waiter {
        RenderedWait wait;
        std::unique_ptr<boost::asio::steady_timer> timer;
        std::function<void(AttemptResult)> done;
        bool finished = false;
    };
    void check(const std::string& service);  // on io_
    void finish(std::list<Waiter>::iterator it, bool success, std::size_t have);

    boost::asio::io_context& io_;
    discovery::ServiceDirectory& directory_;
    std::list<Waiter> waiters_;  // touched only on io_
    // Directories keep their subscribers for good, so a notification may arrive after this
    // runner is gone: it goes through the lifeline, which the destructor cuts.
    struct Lifeline {
        std::mutex mu;
        bool alive = true;
    };
    std::shared_ptr<Lifeline> lifeline_ = std::make_shared<Lifeline>();
};

class RunnerSet final : public TaskRunner {
public:
    RunnerSet(TaskRunner& http, TaskRunner& command, TaskRunner& wait)
        : http_(http), command_(command), wait_(wait) {}
    void run(Attempt attempt, std::function<void(AttemptResult)> done) override;

private:
    TaskRunner& http_;
    TaskRunner& command_;
    TaskRunner& wait_;
};

}  // namespace orquestra::executor
