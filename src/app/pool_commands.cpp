// `pools`: Airflow's pool commands over the store (store/pools.hpp for the rules). A pool of 0
// slots, a bad name or a bad file is refused with a message naming what is wrong; nothing is
// written then. Every change is recorded in the audit log (owner "cli").

#include "app/commands.hpp"
#include "app/workflow_node.hpp"

#include "store/pools.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace orquestra::app {

namespace json = boost::json;

namespace {

int fail(std::string_view what) {
    std::fprintf(stderr, "orquestra: %.*s\n", static_cast<int>(what.size()), what.data());
    return 1;
}

Result<std::unique_ptr<store::Store>> open_pools_store(const CommonFlags& flags) {
    return open_store(HomePaths::resolve(flags.home, flags.dags, flags.db), true);
}

Result<std::vector<store::Pool>> all_pools(store::Store& store) {
    std::vector<store::Pool> out;
    for (int offset = 0;; offset += 1000) {
        auto page = store.list_pools(1000, offset);
        if (!page) return page.error();
        for (auto& p : page->items) out.push_back(std::move(p));
        if (page->items.size() < 1000) return out;
    }
}

void print_pools(const std::vector<store::Pool>& pools,
                 const std::vector<store::PoolUsage>& usage) {
    std::printf("%-32s %-8s %-8s %-8s %-16s %s\n", "pool", "slots", "running", "queued",
                "include_deferred", "description");
    for (const auto& p : pools) {
        std::int64_t running = 0, queued = 0;
        for (const auto& u : usage) {
            if (u.pool != p.name) continue;
            running = u.running;
            queued = u.queued;
        }
        std::printf("%-32s %-8lld %-8lld %-8lld %-16s %s\n", p.name.c_str(),
                    static_cast<long long>(p.slots), static_cast<long long>(running),
                    static_cast<long long>(queued), p.include_deferred ? "True" : "False",
                    p.description.value_or("").c_str());
    }
}

void record(store::Store& store, const std::string& event, const store::Pool& pool) {
    json::object extra;
    extra["pool"] = pool.name;
    if (pool.slots > 0) extra["slots"] = pool.slots;
    record_cli_event(store, event, {}, {}, json::serialize(extra));
}

}  // namespace

int cmd_pools_list(const CommonFlags& flags) {
    auto s = open_pools_store(flags);
    if (!s) return fail(s.error().message);
    auto pools = all_pools(**s);
    if (!pools) return fail(pools.error().message);
    auto usage = (*s)->pool_usage("");
    if (!usage) return fail(usage.error().message);
    print_pools(*pools, *usage);
    return 0;
}

int cmd_pools_get(const CommonFlags& flags, const std::string& name) {
    auto s = open_pools_store(flags);
    if (!s) return fail(s.error().message);
    auto pool = (*s)->get_pool(name);
    if (!pool) return fail(pool.error().message);
    if (!*pool) return fail(fmt::format("Pool {} does not exist", name));
    auto usage = (*s)->pool_usage("");
    if (!usage) return fail(usage.error().message);
    print_pools({**pool}, *usage);
    return 0;
}

int cmd_pools_set(const CommonFlags& flags, const std::string& name, const std::string& slots,
                  const std::optional<std::string>& description) {
    store::Pool pool;
    pool.name = name;
    auto n = store::parse_pool_slots(slots);
    if (!n) return fail(fmt::format("pool '{}': {}", name, n.error().message));
    pool.slots = *n;
    auto s = open_pools_store(flags);
    if (!s) return fail(s.error().message);
    auto current = (*s)->get_pool(name);
    if (!current) return fail(current.error().message);
    if (*current) {
        pool.description = (*current)->description;
        pool.include_deferred = (*current)->include_deferred;
    }
    if (description) pool.description = *description;
    if (auto bad = store::check_pool(pool)) return fail(bad->message);
    if (auto r = (*s)->put_pool(pool, store::PutMode::kUpsert); !r) return fail(r.error().message);
    record(**s, "cli_pool_set", pool);
    std::printf("Pool %s created (%lld slots)\n", name.c_str(), static_cast<long long>(pool.slots));
    return 0;
}

int cmd_pools_delete(const CommonFlags& flags, const std::string& name) {
    auto s = open_pools_store(flags);
    if (!s) return fail(s.error().message);
    if (auto r = (*s)->delete_pool(name); !r) {
        if (r.error().code == ErrorCode::kNotFound) {
            return fail(fmt::format("Pool {} does not exist", name));
        }
        return fail(r.error().message);
    }
    store::Pool gone;
    gone.name = name;
    record(**s, "cli_pool_delete", gone);
    std::printf("Pool %s deleted\n", name.c_str());
    return 0;
}

int cmd_pools_import(const CommonFlags& flags, const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return fail(fmt::format("{}: cannot be read", file));
    std::string text;
    {
        constexpr std::size_t kLimit = 16u << 20;
        std::ostringstream buffer;
        buffer << in.rdbuf();
        text = buffer.str();
        if (text.size() > kLimit) return fail(fmt::format("{}: larger than {} bytes", file, kLimit));
    }
    boost::system::error_code ec;
    auto parsed = json::parse(text, ec);
    if (ec) return fail(fmt::format("{}: not valid JSON: {}", file, ec.message()));
    if (!parsed.is_object()) {
        return fail(fmt::format(
            "{}: must hold one JSON object of name: {{\"slots\": N, \"description\": ...}}", file));
    }
    // Every pool is checked before any is written.
    std::vector<store::Pool> pools;
    for (const auto& [k, v] : parsed.as_object()) {
        store::Pool p;
        p.name = std::string(k);
        const std::string where = fmt::format("{}: pool '{}'", file, p.name.substr(0, 80));
        if (!v.is_object()) return fail(where + ": must be an object with \"slots\"");
        const auto& o = v.as_object();
        for (const auto& [field, value] : o) {
            if (field != "slots" && field != "description" && field != "include_deferred") {
                return fail(fmt::format("{}: unknown field '{}' (use slots, description, "
                                        "include_deferred)",
                                        where, std::string(field).substr(0, 80)));
            }
            (void)value;
        }
        const json::value* slots = o.if_contains("slots");
        if (slots == nullptr || !slots->is_int64()) {
            return fail(fmt::format("{}: \"slots\" must be an integer from 1 to {}", where,
                                    store::kMaxPoolSlots));
        }
        p.slots = slots->as_int64();
        if (const json::value* d = o.if_contains("description"); d != nullptr && !d->is_null()) {
            if (!d->is_string()) return fail(where + ": \"description\" must be a string");
            p.description = std::string(d->get_string());
        }
        if (const json::value* d = o.if_contains("include_deferred");
            d != nullptr && !d->is_null()) {
            if (!d->is_bool()) return fail(where + ": \"include_deferred\" must be true or false");
            p.include_deferred = d->get_bool();
        }
        if (auto bad = store::check_pool(p)) return fail(fmt::format("{}: {}", where, bad->message));
        pools.push_back(std::move(p));
    }
    auto s = open_pools_store(flags);
    if (!s) return fail(s.error().message);
    std::size_t done = 0;
    for (const auto& p : pools) {
        if (auto r = (*s)->put_pool(p, store::PutMode::kUpsert); !r) {
            return fail(fmt::format("{}: pool '{}': {} ({} of {} imported before it)", file,
                                    p.name, r.error().message, done, pools.size()));
        }
        record(**s, "cli_pool_import", p);
        ++done;
    }
    std::printf("Uploaded %zu pool(s) from %s\n", done, file.c_str());
    return 0;
}

int cmd_pools_export(const CommonFlags& flags, const std::string& file) {
    auto s = open_pools_store(flags);
    if (!s) return fail(s.error().message);
    auto pools = all_pools(**s);
    if (!pools) return fail(pools.error().message);
    json::object out;
    for (const auto& p : *pools) {
        json::object o;
        o["slots"] = p.slots;
        o["description"] = p.description ? json::value(*p.description) : json::value(nullptr);
        o["include_deferred"] = p.include_deferred;
        out[p.name] = std::move(o);
    }
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    f << json::serialize(out) << "\n";
    f.close();
    if (!f) return fail(fmt::format("{}: cannot be written", file));
    std::printf("Exported %zu pool(s) to %s\n", pools->size(), file.c_str());
    return 0;
}

}  // namespace orquestra::app
