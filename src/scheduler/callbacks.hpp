#pragma once
// Callbacks (a DAG's and a task's on_failure, on_success, on_retry; dag::Callback): what the
// engine runs once a try or a run has ended so, and only once that end is durable (the engine
// hands them over after its commit).
//
// CallbackDispatcher renders each callback as a try is rendered (prepare_attempt: variables,
// connections, the masker), with `callback` (the event as JSON) added to the run's template
// context, and hands it to a TaskRunner: an http callback goes out as an http try, a command as a
// command try. It never waits for them: at most `max_in_flight` run at once, up to `max_queued`
// more wait, and any beyond are dropped and counted. Each event is reported at most once per
// process. A callback that fails (render error, unknown service, refused connection, a status
// other than 2xx, exit code other than 0, timeout) is logged — a task's into that try's log and
// the scheduler's log, a run's into the scheduler's log — and counted in EngineMetrics
// (`orquestra_callbacks_total{event,kind,outcome}`); it never changes a state.
//
// Threading: submit() and everything else on the engine's loop; the runner's completions are
// posted back to the loop, and touch nothing once the dispatcher is gone.

#include "core/masker.hpp"
#include "dag/dag.hpp"
#include "executor/task_runner.hpp"
#include "scheduler/engine_metrics.hpp"
#include "store/model.hpp"
#include "store/secrets.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

namespace orquestra::scheduler {

enum class CallbackEvent { kFailure, kSuccess, kRetry };
// "failure", "success", "retry"
std::string_view to_string(CallbackEvent event);
// "on_failure", "on_success", "on_retry"
std::string_view key_of(CallbackEvent event);

// The `callback` object of a task's try that ended: event, dag_id, run_id, task_id,
// try_number, map_index (-1 when not mapped), state, logical_date, start_date, end_date (ISO 8601 or null),
// error (as the try recorded it, masked; null when none) and run_type. No conf: it may hold
// what the triggering user should not send elsewhere.
boost::json::object task_callback_json(CallbackEvent event, const store::DagRun& run,
                                       const store::TaskInstance& ti, const std::string& error);
// The same for a run that ended (no task_id, try_number, map_index).
boost::json::object run_callback_json(CallbackEvent event, const store::DagRun& run,
                                      const std::string& error);

// One event to report: the callbacks to run and what they are told.
struct CallbackJob {
    CallbackEvent event = CallbackEvent::kFailure;
    std::shared_ptr<const dag::Dag> dag;  // holds `callbacks`
    const std::vector<dag::Callback>* callbacks = nullptr;
    boost::json::object identity;  // the `callback` object
    boost::json::object context;   // the run's template context, without `callback`
    std::string dag_id;
    std::string run_id;
    std::string task_id;  // empty for a run's callbacks
    int try_number = 0;   // the try whose log gets a task callback's lines
    int map_index = -1;   // of that try's task instance (-1: not mapped)
    std::string once_key;  // the event's identity: reported at most once
};

struct CallbackLimits {
    int max_in_flight = 4;
    std::size_t max_queued = 1000;
    std::size_t remembered_events = 100'000;  // for "at most once"
};

class CallbackDispatcher {
public:
    // Writes lines into a try's log (dag_id, run_id, task_id, try_number, map_index), on the
    // loop.
    using TryLog = std::function<void(const std::string&, const std::string&, const std::string&,
                                      int, int, const std::vector<std::string>&)>;
    CallbackDispatcher(boost::asio::io_context& loop, executor::TaskRunner& runner,
                       store::Secrets* secrets, std::shared_ptr<EngineMetrics> metrics,
                       TryLog try_log, CallbackLimits limits = {});
    ~CallbackDispatcher();
    CallbackDispatcher(const CallbackDispatcher&) = delete;
    CallbackDispatcher& operator=(const CallbackDispatcher&) = delete;

    // Starts the job's callbacks, or queues them; an event already reported is ignored.
    void submit(CallbackJob job);
    int in_flight() const { return in_flight_; }
    std::size_t queued() const { return queue_.size(); }

private:
    struct Item {
        std::shared_ptr<const CallbackJob> job;
        std::size_t index = 0;  // into job->callbacks
    };
    void start(Item item);
    void finish(const Item& item, std::string_view kind, const std::string& target,
                executor::AttemptResult result);
    void record(const Item& item, std::string_view kind, bool ok,
                const std::vector<std::string>& lines, const std::string& summary);
    bool first_time(const std::string& key);

    boost::asio::io_context& loop_;
    executor::TaskRunner& runner_;
    store::Secrets* secrets_;
    std::shared_ptr<EngineMetrics> metrics_;
    TryLog try_log_;
    CallbackLimits limits_;
    int in_flight_ = 0;
    std::deque<Item> queue_;
    std::unordered_set<std::string> reported_;
    std::deque<std::string> reported_order_;  // the oldest is forgotten first
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace orquestra::scheduler
