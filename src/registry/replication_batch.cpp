#include "registry/replication_batch.hpp"

#include "core/strings.hpp"
#include "registry/codec.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <array>
#include <limits>

namespace orquestra::registry {

namespace json = boost::json;

namespace {

constexpr std::array<std::pair<ReplicationAction, std::string_view>, 5> kActions = {{
    {ReplicationAction::kRegister, "Register"},
    {ReplicationAction::kHeartbeat, "Heartbeat"},
    {ReplicationAction::kCancel, "Cancel"},
    {ReplicationAction::kStatusUpdate, "StatusUpdate"},
    {ReplicationAction::kDeleteStatusOverride, "DeleteStatusOverride"},
}};

Error invalid(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

void append_string(std::string& out, std::string_view s) { out += json::serialize(json::string_view(s)); }

// The instance object without the {"instance": …} wrapper the codec writes.
void append_bare_instance(std::string& out, const InstanceInfo& info) {
    constexpr std::string_view kOpen = "{\"instance\":";
    std::string wrapped;
    wrapped.reserve(1600);
    write_instance_json(info, wrapped);
    std::string_view text = wrapped;
    if (text.substr(0, kOpen.size()) == kOpen && text.size() > kOpen.size() && text.back() == '}') {
        text = text.substr(kOpen.size(), text.size() - kOpen.size() - 1);
    }
    out.append(text);
}

Result<json::value> parse_object(std::string_view body, json::storage_ptr storage) {
    json::parse_options options;
    options.max_depth = 32;
    boost::system::error_code ec;
    json::value root = json::parse(json::string_view(body.data(), body.size()), ec,
                                   std::move(storage), options);
    if (ec) return invalid(fmt::format("not a JSON document: {}", ec.message()));
    if (!root.is_object()) return invalid("not a JSON object");
    return root;
}

// The list under `key`: an array (a single object is taken as a list of one, as Jackson may
// write it); kTooLarge past `max_items`.
Result<const json::array*> list_of(const json::object& root, std::string_view key,
                                   std::size_t max_items, json::array& single) {
    const json::value* list = root.if_contains(json::string_view(key.data(), key.size()));
    if (list == nullptr || list->is_null()) {
        return &single;  // empty
    }
    if (list->is_object()) {
        single.push_back(*list);
        return &single;
    }
    if (!list->is_array()) return invalid(fmt::format("{}: not an array", key));
    if (list->as_array().size() > max_items) {
        return Error{ErrorCode::kTooLarge,
                     fmt::format("{}: {} items (at most {})", key, list->as_array().size(),
                                 max_items)};
    }
    return &list->as_array();
}

Result<std::string> read_string(const json::object& o, std::string_view field, bool required) {
    const json::value* v = o.if_contains(json::string_view(field.data(), field.size()));
    if (v == nullptr || v->is_null()) {
        if (required) return invalid(fmt::format("{}: missing", field));
        return std::string();
    }
    if (!v->is_string()) return invalid(fmt::format("{}: not a string", field));
    return std::string(v->as_string());
}

Result<std::optional<Millis>> read_millis(const json::object& o, std::string_view field) {
    const json::value* v = o.if_contains(json::string_view(field.data(), field.size()));
    if (v == nullptr || v->is_null()) return std::optional<Millis>();
    if (v->is_int64()) return std::optional<Millis>(v->as_int64());
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(
                                                std::numeric_limits<Millis>::max())) {
        return std::optional<Millis>(static_cast<Millis>(v->as_uint64()));
    }
    if (v->is_string()) {
        auto n = parse_int(std::string_view(v->as_string()));
        if (n) return std::optional<Millis>(static_cast<Millis>(*n));
    }
    return invalid(fmt::format("{}: not a timestamp", field));
}

Result<std::optional<InstanceStatus>> read_status(const json::object& o, std::string_view field) {
    auto text = read_string(o, field, false);
    if (!text) return text.error();
    if (text->empty()) return std::optional<InstanceStatus>();
    auto status = parse_status_strict(*text);
    if (!status) {
        return invalid(fmt::format("{}: '{}' is not a status", field,
                                   text->substr(0, std::min<std::size_t>(text->size(), 40))));
    }
    return std::optional<InstanceStatus>(*status);
}

Result<std::optional<InstanceInfo>> read_instance(const json::object& o, std::string_view field) {
    const json::value* v = o.if_contains(json::string_view(field.data(), field.size()));
    if (v == nullptr || v->is_null()) return std::optional<InstanceInfo>();
    if (!v->is_object()) return invalid(fmt::format("{}: not an object", field));
    auto info = parse_instance_json(json::serialize(*v));
    if (!info) return invalid(fmt::format("{}: {}", field, info.error().message));
    return std::optional<InstanceInfo>(std::move(*info));
}

int status_of(const Error& e) { return http_status_for(e.code); }

}  // namespace

std::string_view to_string(ReplicationAction a) {
    for (const auto& [action, name] : kActions) {
        if (action == a) return name;
    }
    return "Heartbeat";
}

std::optional<ReplicationAction> parse_replication_action(std::string_view s) {
    for (const auto& [action, name] : kActions) {
        if (name == s) return action;
    }
    return std::nullopt;
}

std::string write_replication_batch(const std::vector<ReplicationItem>& items) {
    std::string out;
    out.reserve(64 + items.size() * 160);
    out += "{\"replicationList\":[";
    bool first = true;
    for (const auto& item : items) {
        if (!first) out += ',';
        first = false;
        out += "{\"appName\":";
        append_string(out, item.app);
        out += ",\"id\":";
        append_string(out, item.id);
        if (item.last_dirty_timestamp) {
            out += fmt::format(",\"lastDirtyTimestamp\":{}", *item.last_dirty_timestamp);
        }
        if (item.overridden_status) {
            out += fmt::format(",\"overriddenStatus\":\"{}\"", to_string(*item.overridden_status));
        }
        if (item.status) out += fmt::format(",\"status\":\"{}\"", to_string(*item.status));
        if (item.instance) {
            out += ",\"instanceInfo\":";
            append_bare_instance(out, *item.instance);
        }
        out += fmt::format(",\"action\":\"{}\"}}", to_string(item.action));
    }
    out += "]}";
    return out;
}

Result<std::vector<ReplicationItem>> parse_replication_batch(std::string_view body,
                                                             std::size_t max_items) {
    json::monotonic_resource arena;
    auto root = parse_object(body, &arena);
    if (!root) return root.error();
    json::array single(&arena);
    auto list = list_of(root->as_object(), "replicationList", max_items, single);
    if (!list) return list.error();
    std::vector<ReplicationItem> items;
    items.reserve((*list)->size());
    std::size_t index = 0;
    for (const auto& v : **list) {
        auto fail = [index](const Error& e) {
            return Error{e.code, fmt::format("replicationList[{}].{}", index, e.message)};
        };
        if (!v.is_object()) return fail(invalid("not an object"));
        const auto& o = v.as_object();
        ReplicationItem item;
        auto action_name = read_string(o, "action", true);
        if (!action_name) return fail(action_name.error());
        auto action = parse_replication_action(*action_name);
        if (!action) {
            return fail(invalid(fmt::format(
                "action: '{}' is not one of Register, Heartbeat, Cancel, StatusUpdate, "
                "DeleteStatusOverride",
                action_name->substr(0, std::min<std::size_t>(action_name->size(), 40)))));
        }
        item.action = *action;
        auto app = read_string(o, "appName", item.action != ReplicationAction::kRegister);
        if (!app) return fail(app.error());
        item.app = to_upper(*app);
        auto id = read_string(o, "id", item.action != ReplicationAction::kRegister);
        if (!id) return fail(id.error());
        item.id = std::move(*id);
        auto dirty = read_millis(o, "lastDirtyTimestamp");
        if (!dirty) return fail(dirty.error());
        item.last_dirty_timestamp = *dirty;
        auto status = read_status(o, "status");
        if (!status) return fail(status.error());
        item.status = *status;
        auto overridden = read_status(o, "overriddenStatus");
        if (!overridden) return fail(overridden.error());
        item.overridden_status = *overridden;
        auto instance = read_instance(o, "instanceInfo");
        if (!instance) return fail(instance.error());
        item.instance = std::move(*instance);
        if (item.action == ReplicationAction::kRegister) {
            if (!item.instance) return fail(invalid("instanceInfo: missing for Register"));
            if (item.app.empty()) item.app = item.instance->app;
            if (item.id.empty()) item.id = item.instance->id();
        }
        items.push_back(std::move(item));
        ++index;
    }
    return items;
}

std::string write_replication_results(const std::vector<ReplicationResult>& results) {
    std::string out;
    out.reserve(32 + results.size() * 20);
    out += "{\"responseList\":[";
    bool first = true;
    for (const auto& r : results) {
        if (!first) out += ',';
        first = false;
        out += fmt::format("{{\"statusCode\":{}", r.status_code);
        if (r.entity) {
            out += ",\"responseEntity\":";
            append_bare_instance(out, *r.entity);
        }
        out += '}';
    }
    out += "]}";
    return out;
}

Result<std::vector<ReplicationResult>> parse_replication_results(std::string_view body,
                                                                 std::size_t max_items) {
    json::monotonic_resource arena;
    auto root = parse_object(body, &arena);
    if (!root) return root.error();
    json::array single(&arena);
    auto list = list_of(root->as_object(), "responseList", max_items, single);
    if (!list) return list.error();
    std::vector<ReplicationResult> results;
    results.reserve((*list)->size());
    std::size_t index = 0;
    for (const auto& v : **list) {
        auto fail = [index](const Error& e) {
            return Error{e.code, fmt::format("responseList[{}].{}", index, e.message)};
        };
        if (!v.is_object()) return fail(invalid("not an object"));
        const auto& o = v.as_object();
        const json::value* code = o.if_contains("statusCode");
        if (code == nullptr || !code->is_number()) return fail(invalid("statusCode: missing"));
        boost::system::error_code ec;
        auto n = code->to_number<std::int64_t>(ec);
        if (ec || n < 100 || n > 599) return fail(invalid("statusCode: not an HTTP status"));
        ReplicationResult r;
        r.status_code = static_cast<int>(n);
        auto entity = read_instance(o, "responseEntity");
        if (!entity) return fail(entity.error());
        r.entity = std::move(*entity);
        results.push_back(std::move(r));
        ++index;
    }
    return results;
}

std::vector<ReplicationResult> apply_replication_batch(InstanceRegistry& registry,
                                                       std::vector<ReplicationItem> items) {
    std::vector<ReplicationResult> results;
    results.reserve(items.size());
    for (auto& item : items) {
        ReplicationResult r;
        switch (item.action) {
            case ReplicationAction::kRegister: {
                if (!item.instance) {
                    r.status_code = 400;
                    break;
                }
                auto done = registry.register_instance(item.app, std::move(*item.instance), true);
                r.status_code = done ? 200 : status_of(done.error());
                break;
            }
            case ReplicationAction::kHeartbeat: {
                RenewRequest renew;
                renew.status = item.status;
                renew.overridden_status = item.overridden_status;
                renew.last_dirty_timestamp = item.last_dirty_timestamp;
                renew.replication = true;
                auto done = registry.renew(item.app, item.id, renew);
                if (done) break;
                r.status_code = status_of(done.error());
                if (done.error().code == ErrorCode::kConflict) {
                    r.entity = registry.instance(item.app, item.id);
                }
                break;
            }
            case ReplicationAction::kCancel: {
                auto done = registry.cancel(item.app, item.id);
                r.status_code = done ? 200 : status_of(done.error());
                break;
            }
            case ReplicationAction::kStatusUpdate: {
                if (!item.status) {
                    r.status_code = 400;
                    break;
                }
                auto done = registry.set_status_override(item.app, item.id, *item.status,
                                                         item.last_dirty_timestamp);
                r.status_code = done ? 200 : status_of(done.error());
                break;
            }
            case ReplicationAction::kDeleteStatusOverride: {
                auto done = registry.remove_status_override(item.app, item.id, item.status,
                                                            item.last_dirty_timestamp);
                r.status_code = done ? 200 : status_of(done.error());
                break;
            }
        }
        results.push_back(std::move(r));
    }
    return results;
}

}  // namespace orquestra::registry
