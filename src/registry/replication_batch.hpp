#pragma once
// Peer replication on the wire (shared/design/EUREKA.md §2 row 14, §5.5): the batch a node
// sends to `POST {peer}/peerreplication/batch/`, the per-item answers, and how a node applies a
// batch it receives. The JSON shapes are Eureka's own, so a batch from a Java Eureka server is
// read and ours is understood by one:
//
//   {"replicationList":[{"appName":"ORDERS","id":"h:orders:8080","lastDirtyTimestamp":1700…,
//     "overriddenStatus":"UNKNOWN","status":"UP","instanceInfo":{…},"action":"Register"}]}
//   {"responseList":[{"statusCode":200},{"statusCode":409,"responseEntity":{…}}]}
//
// `instanceInfo` and `responseEntity` are bare instance objects (a {"instance":…} wrapper is
// accepted too). Readers are strict about structure and bounded (kMaxBatchItems); a batch
// body is as hostile as any client's. Everything here is thread-safe (no shared state) except
// what the registry itself guards.
//
// ReplicationSink is how the REST API tells the replication layer what a client changed; the
// API calls it only for requests that did not come from a peer.

#include "core/error.hpp"
#include "registry/instance_registry.hpp"
#include "registry/model.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::registry {

// Single replicated calls carry this header with the value "true"; the receiver applies them
// and does not replicate them again (one hop only). Batch items are always replicated calls.
inline constexpr std::string_view kReplicationHeader = "x-netflix-discovery-replication";
// A node's random id, on batch requests and on answers to them and to full fetches, so a node
// that finds itself in its peer list (under another name) can tell.
inline constexpr std::string_view kNodeIdHeader = "x-orquestra-node";
// Java Eureka sends at most 250 items a batch; more than this is refused as a whole.
inline constexpr std::size_t kMaxBatchItems = 1000;

enum class ReplicationAction { kRegister, kHeartbeat, kCancel, kStatusUpdate, kDeleteStatusOverride };

std::string_view to_string(ReplicationAction a);
std::optional<ReplicationAction> parse_replication_action(std::string_view s);

struct ReplicationItem {
    ReplicationAction action = ReplicationAction::kHeartbeat;
    std::string app;  // appName
    std::string id;
    std::optional<Millis> last_dirty_timestamp;
    // For a heartbeat the sender's status; for StatusUpdate the override to set; for
    // DeleteStatusOverride the status to fall back to (none: UNKNOWN).
    std::optional<InstanceStatus> status;
    std::optional<InstanceStatus> overridden_status;
    std::optional<InstanceInfo> instance;  // Register only
};

struct ReplicationResult {
    int status_code = 200;
    std::optional<InstanceInfo> entity;  // a 409's newer copy
};

std::string write_replication_batch(const std::vector<ReplicationItem>& items);
// kInvalidArgument for a malformed body, an unknown action, a missing appName or id, or an
// instance that does not read; kTooLarge past `max_items`.
Result<std::vector<ReplicationItem>> parse_replication_batch(std::string_view body,
                                                             std::size_t max_items = kMaxBatchItems);

std::string write_replication_results(const std::vector<ReplicationResult>& results);
Result<std::vector<ReplicationResult>> parse_replication_results(
    std::string_view body, std::size_t max_items = kMaxBatchItems);

// Applies each item as the single operation would with replication=true, in order, and says
// how each went: Register 200 (or 400 for an invalid instance), Heartbeat 200 / 404 (unknown,
// or the sender's copy is newer: it should register) / 409 with our newer copy, Cancel,
// StatusUpdate and DeleteStatusOverride 200 / 404.
std::vector<ReplicationResult> apply_replication_batch(InstanceRegistry& registry,
                                                       std::vector<ReplicationItem> items);

// What a client changed, told by the REST API (never for requests from peers). Implementations
// must return at once and never block: they are called on the HTTP event loops.
class ReplicationSink {
public:
    virtual ~ReplicationSink() = default;
    // `app` upper-case; `status`: the override set (kStatusUpdate) or the fallback
    // (kDeleteStatusOverride).
    virtual void replicate(ReplicationAction action, std::string_view app, std::string_view id,
                           std::optional<InstanceStatus> status) = 0;
    // False while the node is still loading the registry from a peer at start: the API then
    // answers registry reads with 503 so that clients go to another node.
    virtual bool ready_for_reads() const = 0;
    virtual const std::string& node_id() const = 0;
    // Appends the replication metrics in Prometheus text format.
    virtual void render_metrics(std::string& out) const = 0;
};

}  // namespace orquestra::registry
