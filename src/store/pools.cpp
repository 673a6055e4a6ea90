#include "store/pools.hpp"

#include "core/strings.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace orquestra::store {

std::optional<Error> check_pool_name(std::string_view name) {
    const bool ok = !name.empty() && name.size() <= 250 &&
                    std::all_of(name.begin(), name.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
                    });
    if (ok) return std::nullopt;
    return Error{ErrorCode::kInvalidArgument,
                 "a pool name must match ^[A-Za-z0-9_.-]{1,250}$"};
}

std::optional<Error> check_pool_slots(std::int64_t slots) {
    if (slots >= 1 && slots <= kMaxPoolSlots) return std::nullopt;
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("pool slots must be an integer from 1 to {}, not {}", kMaxPoolSlots,
                             slots)};
}

std::optional<Error> check_pool(const Pool& pool) {
    if (auto bad = check_pool_name(pool.name)) return bad;
    if (auto bad = check_pool_slots(pool.slots)) return bad;
    if (pool.description && pool.description->size() > kMaxPoolDescription) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("a pool's description is at most {} bytes", kMaxPoolDescription)};
    }
    return std::nullopt;
}

Result<std::int64_t> parse_pool_slots(std::string_view text) {
    auto n = parse_int(trim(text));
    if (n && *n >= 1 && *n <= kMaxPoolSlots) return static_cast<std::int64_t>(*n);
    std::string shown(text.substr(0, 40));
    for (char& c : shown) {
        if (c < 0x20 || c > 0x7e) c = '?';
    }
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("pool slots must be an integer from 1 to {}, not '{}'", kMaxPoolSlots,
                             shown)};
}

void add_pool_slots(PoolUsage& usage, std::string_view state, std::int64_t slots) {
    if (state == "scheduled") usage.scheduled += slots;
    if (state == "queued") usage.queued += slots;
    if (state == "running") usage.running += slots;
}

}  // namespace orquestra::store
