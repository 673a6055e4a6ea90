#pragma once
// Pools' rules shared by the API, the CLI and the scheduler: the names, the bounds of a pool's
// slots, default_pool, and how the stores add up the slots a pool's task instances hold.

#include "core/error.hpp"
#include "store/model.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace orquestra::store {

// The pool every task takes its slots from unless it names another; it always exists (created
// by migration 8 with kDefaultPoolSlots) and cannot be deleted.
inline constexpr std::string_view kDefaultPoolName = "default_pool";
inline constexpr std::int64_t kDefaultPoolSlots = 128;
// A pool has 1..kMaxPoolSlots slots; a task takes 1..kMaxPoolSlots of them.
inline constexpr std::int64_t kMaxPoolSlots = 1'000'000;
inline constexpr std::size_t kMaxPoolDescription = 10'000;

// kInvalidArgument naming what is wrong: a name outside ^[A-Za-z0-9_.-]{1,250}$, slots outside
// 1..kMaxPoolSlots, a description longer than kMaxPoolDescription bytes.
std::optional<Error> check_pool(const Pool& pool);
std::optional<Error> check_pool_name(std::string_view name);
std::optional<Error> check_pool_slots(std::int64_t slots);
// Slots written as text (the CLI, an import file): a whole decimal integer in bounds, or
// kInvalidArgument saying why ("pool slots must be an integer from 1 to 1000000, not '0'").
Result<std::int64_t> parse_pool_slots(std::string_view text);

// Adds `slots` to the field of `usage` that `state` names (scheduled, queued, running).
void add_pool_slots(PoolUsage& usage, std::string_view state, std::int64_t slots);

}  // namespace orquestra::store
