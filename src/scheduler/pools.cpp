// Pools in the scheduler: a try takes its task's pool_slots from its pool before it starts.
// A task without them waits in `scheduled` and blocks nothing else; it is evaluated again when
// a try in its pool ends, and at every housekeeping (the other schedulers' tries, a pool made
// larger). See engine.hpp for the state these functions keep.

#include "scheduler/engine.hpp"

#include "store/pools.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace orquestra::scheduler {

using store::TaskState;

namespace {

bool holds_slots(TaskState s) { return s == TaskState::kQueued || s == TaskState::kRunning; }

}  // namespace

Result<void> Engine::size_default_pool() {
    if (!options_.default_pool_slots) return {};
    const std::int64_t slots = *options_.default_pool_slots;
    if (auto bad = store::check_pool_slots(slots)) {
        return Error{bad->code, "the default pool's size: " + bad->message};
    }
    store::Pool pool;
    pool.name = std::string(store::kDefaultPoolName);
    pool.description = "Default pool";
    auto current = store_.get_pool(pool.name);
    if (!current) return current.error();
    if (*current) {
        if ((*current)->slots == slots) return {};
        pool = **current;
    }
    pool.slots = slots;
    if (auto r = store_.put_pool(pool, store::PutMode::kUpsert); !r) return r.error();
    spdlog::info("pool {} has {} slots", pool.name, slots);
    return {};
}

void Engine::refresh_pools() {
    if (!options_.execute || fenced_) return;
    std::map<std::string, std::int64_t, std::less<>> sizes;
    constexpr int kPage = 1000;
    for (int offset = 0;; offset += kPage) {
        auto page = store_.list_pools(kPage, offset);
        if (!page) {
            spdlog::warn("cannot read the pools: {}", page.error().message);
            return;  // the sizes known so far stay
        }
        for (const auto& p : page->items) sizes[p.name] = p.slots;
        if (static_cast<int>(page->items.size()) < kPage) break;
    }
    pool_sizes_ = std::move(sizes);
    pools_known_ = true;
    // What the other processes' tries hold (this one's are counted in memory).
    auto usage = store_.pool_usage(options_.owner);
    if (usage) {
        pool_others_.clear();
        for (const auto& u : *usage) {
            if (u.queued + u.running > 0) pool_others_[u.pool] = u.queued + u.running;
        }
    } else {
        spdlog::warn("cannot count the pools' occupied slots: {}", usage.error().message);
    }
    // Slots may have been freed elsewhere, or a pool made larger: every waiter looks again.
    for (auto& [pool, keys] : waiting_for_pool_) dirty_.insert(keys.begin(), keys.end());
    waiting_for_pool_.clear();
}

void Engine::count_pool_slots() {
    pool_mine_.clear();
    for (const auto& [key, ar] : runs_) {
        for_each_instance(ar, [&](const store::TaskInstance& ti) {
            if (holds_slots(ti.state)) pool_mine_[ti.pool] += ti.pool_slots;
        });
    }
}

void Engine::wake_pool_waiters(const std::set<std::string, std::less<>>& pools) {
    for (const auto& pool : pools) {
        auto waiting = waiting_for_pool_.find(pool);
        if (waiting == waiting_for_pool_.end()) continue;
        dirty_.insert(waiting->second.begin(), waiting->second.end());
        waiting_for_pool_.erase(waiting);
    }
}

Engine::PoolAnswer Engine::take_pool_slots(const dag::Task& task, std::string& error) {
    // Not read yet (the store was out of reach): the next housekeeping reads them and wakes
    // every waiter.
    if (!pools_known_) return PoolAnswer::kWait;
    auto size = pool_sizes_.find(task.pool);
    if (size == pool_sizes_.end()) {
        // Perhaps created since the last look.
        auto found = store_.get_pool(task.pool);
        if (!found) {
            spdlog::warn("cannot read pool {}: {}", task.pool, found.error().message);
            return PoolAnswer::kWait;
        }
        if (!*found) {
            error = fmt::format("pool '{}' does not exist (create it with `orquestra pools set {} "
                                "SLOTS` or POST /api/v1/pools)",
                                task.pool, task.pool);
            return PoolAnswer::kFail;
        }
        size = pool_sizes_.emplace(task.pool, (*found)->slots).first;
    }
    if (task.pool_slots > size->second) {
        error = fmt::format("the task needs {} slots of pool '{}', which has only {}",
                            task.pool_slots, task.pool, size->second);
        return PoolAnswer::kFail;
    }
    std::int64_t used = 0;
    if (auto mine = pool_mine_.find(task.pool); mine != pool_mine_.end()) used += mine->second;
    if (auto others = pool_others_.find(task.pool); others != pool_others_.end()) {
        used += others->second;
    }
    return used + task.pool_slots <= size->second ? PoolAnswer::kStart : PoolAnswer::kWait;
}

bool Engine::start_in_pool(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti,
                           Millis now, store::Changes& changes,
                           std::vector<Dispatch>& dispatches) {
    std::string error;
    switch (take_pool_slots(task, error)) {
        case PoolAnswer::kWait:
            if (ti.state != TaskState::kScheduled || ti.pool != task.pool) {
                ti.state = TaskState::kScheduled;
                ti.pool = task.pool;
                ti.pool_slots = task.pool_slots;
                changes.tasks.push_back(ti);
            }
            waiting_for_pool_[task.pool].insert({ar.run.dag_id, ar.run.run_id});
            return false;
        case PoolAnswer::kFail:
            fail_before_start(ar, task, ti, now, error, changes);
            return false;
        case PoolAnswer::kStart: break;
    }
    if (!start_try(ar, task, ti, now, changes, dispatches)) return false;
    pool_mine_[task.pool] += task.pool_slots;
    return true;
}

void Engine::fail_before_start(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti,
                               Millis now, const std::string& error,
                               store::Changes& changes) {
    ti.try_number += 1;
    if (!ti.start_date || ti.try_number == 1) ti.start_date = now;
    ti.queued_when = now;
    ti.next_try_at.reset();
    ti.owner = options_.owner;
    ti.pool = task.pool;
    ti.pool_slots = task.pool_slots;
    ti.operator_name = std::string(task.kind_name());
    fail_try(ar, task, ti, now, error, changes);
    spdlog::warn("{} / {} / {}: try {} failed: {}", ti.dag_id, ti.run_id, ti.task_id,
                 ti.try_number, error);
    write_log({ar.run.dag_id, ar.run.run_id}, ti.task_id, ti.try_number,
              {fmt::format("try {} of {}", ti.try_number, ti.max_tries), error}, ti.map_index);
}

}  // namespace orquestra::scheduler
