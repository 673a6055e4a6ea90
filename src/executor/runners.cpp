#include "executor/runners.hpp"

#include "core/strings.hpp"
#include "executor/command_runner.hpp"
#include "executor/process_group.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <utility>

namespace orquestra::executor {

CommandTaskRunner::CommandTaskRunner(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { work(); });
}

// Queued commands are dropped and running ones stopped (their callbacks still run, with a
// failed result): a scheduler that stops does not wait for its tasks. The store still shows
// them running, so the next start counts those tries as failed, as after a crash.
CommandTaskRunner::~CommandTaskRunner() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        queue_.clear();
    }
    cancel_ = true;
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void CommandTaskRunner::run(Attempt attempt, std::function<void(AttemptResult)> done) {
    {
        std::lock_guard lock(mu_);
        queue_.emplace_back(std::move(attempt), std::move(done));
    }
    cv_.notify_one();
}

void CommandTaskRunner::work() {
    for (;;) {
        std::pair<Attempt, std::function<void(AttemptResult)>> job;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        const auto& spec = std::get<RenderedCommand>(job.first.work);
        CommandRequest req;
        req.argv = spec.argv;
        req.script = spec.script;
        req.env = spec.env;
        req.cwd = spec.cwd;
        req.timeout = job.first.timeout;
        req.cancel = &cancel_;
        if (job.first.on_started) {
            req.on_spawned = [&job](int pid) {
                job.first.on_started(StartedProcess{pid, process_identity(pid)});
            };
        }
        AttemptResult result;
        result.log.push_back(spec.script ? fmt::format("command: /bin/sh -c {}", *spec.script)
                                         : fmt::format("command: {}", fmt::join(spec.argv, " ")));
        // Names only: values may be secrets, and Viewers read logs.
        if (!spec.env.empty()) {
            std::string names;
            for (const auto& [k, v] : spec.env) names += (names.empty() ? "" : " ") + k;
            result.log.push_back("env: " + names);
        }
        // Lines past the try's log limit are counted, not kept.
        std::size_t kept = 0;
        std::size_t dropped = 0;
        for (const auto& line : result.log) kept += line.size() + kLogLineOverhead;
        // With on_log, lines go out as they come, so that the log follows a running command:
        // the first kLiveLines one by one, then in batches of kLiveBatch (bounding the cost for
        // a chatty command; a batch not yet full waits for more lines or the end).
        constexpr std::size_t kLiveLines = 1000;
        constexpr std::size_t kLiveBatch = 256;
        std::size_t streamed = 0;
        auto stream_out = [&](bool force) {
            if (!job.first.on_log || result.log.empty()) return;
            if (!force && streamed >= kLiveLines && result.log.size() < kLiveBatch) return;
            streamed += result.log.size();
            job.first.on_log(std::exchange(result.log, {}));
        };
        stream_out(true);
        auto ran = run_command(req, [&](std::string_view stream, std::string_view line) {
            std::size_t size = stream.size() + 2 + line.size() + kLogLineOverhead;
            if (dropped > 0 || size > kMaxTryLogBytes - std::min(kept, kMaxTryLogBytes)) {
                dropped += size - kLogLineOverhead + 1;  // the line and its newline
                return;
            }
            kept += size;
            result.log.push_back(fmt::format("{}: {}", stream, line));
            stream_out(false);
        });
        if (dropped > 0) {
            result.log.push_back(fmt::format("... log truncated: {} more bytes not written", dropped));
        }
        if (ran && ran->output_truncated) {
            result.log.push_back(fmt::format(
                "output truncated: the command wrote more than {} bytes to stdout or stderr; the "
                "rest was read and dropped{}",
                req.max_output_bytes, ran->output_json ? "" : ", and the task has no output"));
        }
        if (!ran) {
            result.error = ran.error().message;
        } else if (ran->cancelled) {
            result.error = "stopped: the scheduler is shutting down";
        } else if (ran->timed_out) {
            result.error = fmt::format("timed out after {} ms and was killed",
                                       job.first.timeout.count());
        } else if (ran->signal != 0) {
            result.error = fmt::format("killed by signal {}", ran->signal);
        } else if (ran->exit_code != 0) {
            result.error = fmt::format("exited with code {}", ran->exit_code);
        } else {
            result.success = true;
            result.output_json = ran->output_json;
        }
        if (ran) {
            result.log.push_back(fmt::format("exit code {} after {} ms", ran->exit_code,
                                             ran->duration_ms));
        }
        job.second(std::move(result));
    }
}

ServiceWaitRunner::ServiceWaitRunner(boost::asio::io_context& io,
                                     discovery::ServiceDirectory& directory)
    : io_(io), directory_(directory) {
    directory_.subscribe([this, lifeline = lifeline_](const std::string& service) {
        std::lock_guard lock(lifeline->mu);
        if (!lifeline->alive) return;
        boost::asio::post(io_, [this, service] { check(service); });
    });
}

ServiceWaitRunner::~ServiceWaitRunner() {
    std::lock_guard lock(lifeline_->mu);
    lifeline_->alive = false;
}

void ServiceWaitRunner::run(Attempt attempt, std::function<void(AttemptResult)> done) {
    boost::asio::post(io_, [this, attempt = std::move(attempt), done = std::move(done)]() mutable {
        auto wait = std::get<RenderedWait>(attempt.work);
        waiters_.push_back(Waiter{wait, std::make_unique<boost::asio::steady_timer>(io_),
                                  std::move(done), false});
        auto it = std::prev(waiters_.end());
        it->timer->expires_after(attempt.timeout);
        it->timer->async_wait([this, it](const boost::system::error_code& ec) {
            if (ec || it->finished) return;
            finish(it, false, directory_.up_instances(it->wait.service).size());
        });
        check(wait.service);
    });
}

void ServiceWaitRunner::check(const std::string& service) {
    std::size_t have = 0;
    bool counted = false;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        auto next = std::next(it);
        if (!it->finished && iequals(it->wait.service, service)) {
            if (!counted) {
                have = directory_.up_instances(service).size();
                counted = true;
            }
            if (have >= static_cast<std::size_t>(it->wait.min_instances)) finish(it, true, have);
        }
        it = next;
    }
}

void ServiceWaitRunner::finish(std::list<Waiter>::iterator it, bool success, std::size_t have) {
    it->finished = true;
    it->timer->cancel();
    AttemptResult r;
    r.success = success;
    r.log.push_back(fmt::format("service '{}' has {} UP instance(s); waiting for {}",
                                it->wait.service, have, it->wait.min_instances));
    if (success) {
        r.output_json = fmt::format("{{\"service\":\"{}\",\"up_instances\":{}}}",
                                    it->wait.service, have);
    } else {
        r.error = fmt::format("timed out waiting for {} UP instance(s) of '{}' (has {})",
                              it->wait.min_instances, it->wait.service, have);
    }
    auto done = std::move(it->done);
    // The timer's handler may still be queued; erase after it has run.
    boost::asio::post(io_, [this, it] { waiters_.erase(it); });
    done(std::move(r));
}

void RunnerSet::run(Attempt attempt, std::function<void(AttemptResult)> done) {
    switch (attempt.work.index()) {
        case 0: http_.run(std::move(attempt), std::move(done)); break;
        case 1: command_.run(std::move(attempt), std::move(done)); break;
        default: wait_.run(std::move(attempt), std::move(done)); break;
    }
}

}  // namespace orquestra::executor
