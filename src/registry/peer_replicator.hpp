#pragma once
// PeerReplicator: this node's side of a registry cluster (shared/design/EUREKA.md §5.5). It owns
// the peer set, one bounded queue per peer, the sender that drains each queue in batches to
// `POST {peer}/peerreplication/batch/`, the 404/409 reconciliation, and the startup sync that
// loads the registry from the first peer that answers.
//
// What a client changed reaches replicate() (from the REST API, on the HTTP event loops): it
// only queues, under a short lock, and wakes the sender — it never waits on the network. A queue
// holds at most `max_queue` items; beyond, the oldest is dropped and counted. An instance has at
// most one pending item per action: a newer one replaces it (at the queue's end), so a peer that
// is down costs memory bounded by the number of instances, not by the time it was down. Items
// carry no instance data: the sender reads the instance from the registry when it builds the
// batch, so a peer always receives the latest state. Items older than `max_item_age` are
// dropped (counted), as Eureka does after its lease-renewal interval.
//
// The senders run on a thread of their own (one io_context), one coroutine per peer: a batch
// (at most `max_batch_items` items, `max_batch_bytes` bytes) is sent as soon as the previous one
// was answered, so batches grow with the load and a quiet cluster replicates at once. A network
// error, a timeout (`request_timeout`) or a 503 keeps the items and retries after a backoff
// (`retry_backoff` doubling up to `max_retry_backoff`); any other failure drops the batch
// (counted). Per item: a heartbeat answered 404 queues a Register of that instance for that
// peer; a heartbeat answered 409 with a newer copy has the copy taken here.
//
// A URL of this node in the peer list is ignored: by address (set_self) and, whatever name it
// goes by, by the node id a node puts on its answers (kNodeIdHeader).
//
// Threads: replicate(), ready_for_reads(), stats() and render_metrics() from any thread; start()
// and stop() from the owner's. stop() returns within about `request_timeout`.

#include "core/metrics.hpp"
#include "http/client.hpp"
#include "registry/instance_registry.hpp"
#include "registry/replication_batch.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace orquestra::registry {

struct PeerReplicatorOptions {
    // Peers' Eureka base URLs ("http://host:8761/eureka", "/eureka/v2" too; a URL without a path
    // gets "/eureka"). Credentials in a URL ("http://user:pw@host/eureka") are sent to that peer.
    std::vector<std::string> peers;
    std::string auth;  // "user:password" for the peers whose URL carries none; empty: none
    std::size_t max_queue = 10'000;  // items per peer
    std::size_t max_batch_items = 250;
    std::size_t max_batch_bytes = 512 * 1024;
    std::chrono::milliseconds request_timeout{1000};
    std::chrono::milliseconds retry_backoff{100};
    std::chrono::milliseconds max_retry_backoff{1000};
    std::chrono::milliseconds max_item_age{30'000};
    // The startup sync's bound in all, and on each peer's answer.
    std::chrono::milliseconds sync_timeout{5'000};
    std::chrono::milliseconds sync_request_timeout{3'000};
    std::size_t max_sync_bytes = 256u << 20;  // ~150,000 instances of 1.5 KB
};

struct PeerStats {
    std::string url;  // without credentials
    bool self = false;
    std::size_t queued = 0;
    std::uint64_t batches = 0;         // answered 2xx
    std::uint64_t batch_failures = 0;  // dropped: non-2xx other than 503, unreadable answers
    std::uint64_t retries = 0;         // network errors, timeouts, 503
    std::uint64_t items_sent = 0;
    std::uint64_t items_failed = 0;    // a per-item status other than 2xx, 404→register, 409
    std::uint64_t items_dropped = 0;   // the queue was full
    std::uint64_t items_expired = 0;   // older than max_item_age
    std::uint64_t items_coalesced = 0; // replaced by a newer item of the same instance and action
    std::uint64_t reregistered = 0;    // heartbeats answered 404, followed by a Register
    std::uint64_t conflicts_taken = 0; // 409s whose newer copy was taken here
};

class PeerReplicator final : public ReplicationSink {
public:
    PeerReplicator(InstanceRegistry& registry, PeerReplicatorOptions options);
    ~PeerReplicator() override;
    PeerReplicator(const PeerReplicator&) = delete;
    PeerReplicator& operator=(const PeerReplicator&) = delete;

    // The address this node listens on, so that its own URL among the peers is ignored. Call
    // before start().
    void set_self(const std::string& host, std::uint16_t port);
    // Starts the senders, and the startup sync on a thread of its own: until it ends (loaded
    // from a peer, or every peer failed, or `sync_timeout`), ready_for_reads() is false.
    void start();
    void stop();
    // True once the startup sync ended; false on timeout.
    bool wait_until_synced(std::chrono::milliseconds timeout);

    void replicate(ReplicationAction action, std::string_view app, std::string_view id,
                   std::optional<InstanceStatus> status) override;
    bool ready_for_reads() const override { return synced_.load(std::memory_order_acquire); }
    const std::string& node_id() const override { return node_id_; }
    void render_metrics(std::string& out) const override;

    std::vector<PeerStats> stats() const;
    // The peer the registry was loaded from at start ("" if none).
    std::string synced_from() const;

private:
    struct Peer;
    struct Queued;
    struct Sender;

    void sync_from_peers();
    void enqueue(Peer& peer, ReplicationAction action, const std::string& app,
                 const std::string& id, std::optional<InstanceStatus> status);

    InstanceRegistry& registry_;
    PeerReplicatorOptions options_;
    std::string node_id_;
    std::unique_ptr<Sender> sender_;  // the io_context, its thread and the connections
    std::vector<std::shared_ptr<Peer>> peers_;
    std::atomic<bool> synced_{false};
    mutable std::mutex sync_mu_;
    std::condition_variable sync_cv_;
    std::string synced_from_;
    std::thread sync_thread_;
    std::atomic<bool> stopping_{false};
    bool started_ = false;
    bool stopped_ = false;
};

}  // namespace orquestra::registry
