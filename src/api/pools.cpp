// /api/v1/pools: Airflow's Pool endpoints. Pools live in the store (store/pools.hpp for their
// rules); the slot counts come from the task instances scheduled, queued or running in each
// (one grouped query per answer). Only Op and Admin reach them (Airflow's roles), as route()
// checks. Every change is recorded in the audit log (post_pool, patch_pool, delete_pool).

#include "api/api_detail.hpp"
#include "api/request.hpp"
#include "core/strings.hpp"
#include "store/pools.hpp"

#include <boost/json/array.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace orquestra::api {

namespace {

Error invalid(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

json::object pool_json(const store::Pool& p, const store::PoolUsage* usage) {
    const std::int64_t running = usage != nullptr ? usage->running : 0;
    const std::int64_t queued = usage != nullptr ? usage->queued : 0;
    const std::int64_t scheduled = usage != nullptr ? usage->scheduled : 0;
    const std::int64_t occupied = running + queued;  // no deferred tasks in Orquestra
    json::object out;
    out["name"] = p.name;
    out["slots"] = p.slots;
    out["occupied_slots"] = occupied;
    out["running_slots"] = running;
    out["queued_slots"] = queued;
    out["scheduled_slots"] = scheduled;
    out["open_slots"] = p.slots - occupied;
    out["deferred_slots"] = 0;
    out["description"] = p.description ? json::value(*p.description) : json::value(nullptr);
    out["include_deferred"] = p.include_deferred;
    return out;
}

const store::PoolUsage* usage_of(const std::vector<store::PoolUsage>& usage,
                                 const std::string& name) {
    for (const auto& u : usage) {
        if (u.pool == name) return &u;
    }
    return nullptr;
}

struct PoolPage {
    store::Page<store::Pool> page;
    std::vector<store::PoolUsage> usage;
};

// What a POST or PATCH asks: each field set when the request sets it.
struct PoolChange {
    std::optional<std::string> name;
    std::optional<std::int64_t> slots;
    std::optional<std::optional<std::string>> description;
    std::optional<bool> include_deferred;
};

constexpr std::array<std::string_view, 3> kMaskable = {"slots", "description",
                                                       "include_deferred"};

Result<PoolChange> parse_change(const http::Request& req, bool patch) {
    auto body = parse_body(req);
    if (!body) return body.error();
    if (auto known = only_fields(*body, {"name", "slots", "description", "include_deferred",
                                         "occupied_slots", "running_slots", "queued_slots",
                                         "scheduled_slots", "open_slots", "deferred_slots"});
        !known) {
        return known.error();
    }
    PoolChange c;
    auto name = field_string(*body, "name");
    if (!name) return name.error();
    c.name = *name;
    if (const json::value* v = body->if_contains("slots"); v != nullptr) {
        // Said with the value given: a pool of 0 slots is the usual mistake.
        const bool integer = v->is_int64() || v->is_uint64();
        const bool in_range = (v->is_int64() && v->as_int64() >= 1 &&
                               v->as_int64() <= store::kMaxPoolSlots) ||
                              (v->is_uint64() && v->as_uint64() >= 1 &&
                               v->as_uint64() <= static_cast<std::uint64_t>(store::kMaxPoolSlots));
        if (!integer || !in_range) {
            std::string shown = json::serialize(*v);
            if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
            return invalid(fmt::format("field 'slots' must be an integer from 1 to {}, not {}",
                                       store::kMaxPoolSlots, shown));
        }
        c.slots = v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(v->as_uint64());
    }
    if (body->contains("description")) {
        auto d = field_string(*body, "description");
        if (!d) return d.error();
        c.description = *d;
    }
    auto deferred = field_bool(*body, "include_deferred");
    if (!deferred) return deferred.error();
    c.include_deferred = *deferred;

    std::vector<std::string> mask;
    if (auto m = req.query_param("update_mask"); m && patch) {
        for (auto field : split(*m, ',')) {
            const std::string f(trim(field));
            if (f.empty()) continue;
            if (std::find(kMaskable.begin(), kMaskable.end(), f) == kMaskable.end()) {
                return invalid(fmt::format("query parameter 'update_mask': '{}' cannot be updated "
                                           "(use slots, description, include_deferred)",
                                           f));
            }
            mask.push_back(f);
        }
    }
    if (!mask.empty()) {
        auto masked = [&](std::string_view f) {
            return std::find(mask.begin(), mask.end(), f) != mask.end();
        };
        if (!masked("slots")) c.slots.reset();
        if (!masked("description")) c.description.reset();
        if (!masked("include_deferred")) c.include_deferred.reset();
        if (masked("slots") && !c.slots) return invalid("field 'slots' is required by update_mask");
        if (masked("description") && !c.description) c.description = std::optional<std::string>();
        if (masked("include_deferred") && !c.include_deferred) c.include_deferred = false;
        return c;
    }
    if (!c.slots) return invalid(fmt::format("field 'slots' is required (an integer from 1 to {})",
                                             store::kMaxPoolSlots));
    // Without a mask the body is the whole pool.
    if (!c.description) c.description = std::optional<std::string>();
    if (!c.include_deferred) c.include_deferred = false;
    return c;
}

}  // namespace

asio::awaitable<void> ApiServer::pools(Call& call, const std::string* name) {
    const auto method = call.req.method();
    using V = http::beast_http::verb;
    if (name == nullptr && method == V::get) {
        auto paging = parse_paging(call.req);
        if (!paging) {
            send_error(call.res, paging.error(), call.instance);
            co_return;
        }
        const Paging p = *paging;
        auto got = co_await on_reader([&p](store::Store& store) -> Result<PoolPage> {
            PoolPage out;
            auto page = store.list_pools(p.limit, p.offset);
            if (!page) return page.error();
            out.page = std::move(*page);
            auto usage = store.pool_usage("");
            if (!usage) return usage.error();
            out.usage = std::move(*usage);
            return out;
        });
        if (!got) {
            send_error(call.res, got.error(), call.instance);
            co_return;
        }
        json::array items;
        for (const auto& pool : got->page.items) {
            items.push_back(pool_json(pool, usage_of(got->usage, pool.name)));
        }
        json::object out;
        out["pools"] = std::move(items);
        out["total_entries"] = got->page.total;
        send_json(call.res, out);
        co_return;
    }
    if (name != nullptr && method == V::get) {
        auto got = co_await on_reader(
            [name](store::Store& store) -> Result<std::pair<store::Pool, std::vector<store::PoolUsage>>> {
                auto pool = store.get_pool(*name);
                if (!pool) return pool.error();
                if (!*pool) {
                    return Error{ErrorCode::kNotFound, fmt::format("pool '{}' not found", *name)};
                }
                auto usage = store.pool_usage("");
                if (!usage) return usage.error();
                return std::make_pair(std::move(**pool), std::move(*usage));
            });
        if (!got) {
            send_error(call.res, got.error(), call.instance);
            co_return;
        }
        send_json(call.res, pool_json(got->first, usage_of(got->second, got->first.name)));
        co_return;
    }
    if (name != nullptr && method == V::delete_) {
        auto deleted = co_await on_worker([this, name] { return store_.delete_pool(*name); });
        if (!deleted) {
            send_error(call.res, deleted.error(), call.instance);
            co_return;
        }
        json::object extra;
        extra["pool"] = *name;
        auto audit = audit_entry(call, "delete_pool", {}, {}, {}, json::serialize(extra));
        co_await record_event(audit);
        call.res.status = 204;
        co_return;
    }
    // POST /pools (create) and PATCH /pools/{pool_name} (update).
    const bool patch = method == V::patch;
    auto change = parse_change(call.req, patch);
    if (!change) {
        send_error(call.res, change.error(), call.instance);
        co_return;
    }
    if (!patch && !change->name) {
        send_error(call.res, invalid("field 'name' is required"), call.instance);
        co_return;
    }
    if (patch && change->name && *change->name != *name) {
        send_error(call.res,
                   invalid("a pool cannot be renamed: the body's name must be the path's"),
                   call.instance);
        co_return;
    }
    const std::string pool_name = patch ? *name : *change->name;
    const PoolChange& c = *change;
    auto saved = co_await on_worker([this, &pool_name, &c, patch]() -> Result<store::Pool> {
        store::Pool pool;
        pool.name = pool_name;
        if (patch) {
            auto got = store_.get_pool(pool_name);
            if (!got) return got.error();
            if (!*got) {
                return Error{ErrorCode::kNotFound, fmt::format("pool '{}' not found", pool_name)};
            }
            pool = std::move(**got);
        }
        if (c.slots) pool.slots = *c.slots;
        if (c.description) pool.description = *c.description;
        if (c.include_deferred) pool.include_deferred = *c.include_deferred;
        if (auto bad = store::check_pool(pool)) return *bad;
        auto put = store_.put_pool(pool, patch ? store::PutMode::kUpdate : store::PutMode::kCreate);
        if (!put) return put.error();
        return pool;
    });
    if (!saved) {
        send_error(call.res, saved.error(), call.instance);
        co_return;
    }
    json::object extra;
    extra["pool"] = saved->name;
    extra["slots"] = saved->slots;
    auto audit = audit_entry(call, patch ? "patch_pool" : "post_pool", {}, {}, {},
                             json::serialize(extra));
    co_await record_event(audit);
    auto usage = co_await on_reader(
        [](store::Store& store) { return store.pool_usage(""); });
    const store::PoolUsage* u = usage ? usage_of(*usage, saved->name) : nullptr;
    send_json(call.res, pool_json(*saved, u));
}

}  // namespace orquestra::api
