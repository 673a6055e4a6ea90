#pragma once
// EurekaApi: the Eureka REST resources (shared/design/EUREKA.md §2) over an InstanceRegistry,
// plus the registry's status page at "/" and Prometheus metrics at "/metrics".
//
// Collection documents (all apps, delta, one app, VIPs) are rendered once per registry
// generation and per format, then shared by every reader until the next change; a change is
// therefore visible to the very next read. handle() never blocks and may run on any thread.
//
// With a ReplicationSink (a cluster, see peer_replicator.hpp), clients' changes are told to it
// (not those carrying x-netflix-discovery-replication: true, which come from peers), batches
// from peers are applied at POST …/peerreplication/batch, a replicated renewal of an older copy
// answers 409 with ours, and registry reads answer 503 until the node has loaded the registry
// from a peer.

#include "core/metrics.hpp"
#include "http/message.hpp"
#include "registry/instance_registry.hpp"
#include "registry/replication_batch.hpp"

#include <boost/asio/awaitable.hpp>

#include <array>
#include <chrono>
#include <functional>
#include <vector>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace orquestra::registry {

struct EurekaApiOptions {
    // "user:password" when HTTP Basic auth is required; empty for none. Compared in constant
    // time (digests of both sides).
    std::string auth;
    std::string version = "0.1.0";
};

class EurekaApi {
public:
    EurekaApi(InstanceRegistry& registry, EurekaApiOptions options);

    boost::asio::awaitable<void> handle(http::Request& req, http::Response& res);
    // The same, synchronously (the registry never waits on anything).
    void handle_sync(const http::Request& req, http::Response& res);

    // Peer replication: client changes are told to `sink`, batches from peers are applied, and
    // registry reads answer 503 until the sink is ready. Set before the server starts; the sink
    // must outlive the API.
    void set_replication(ReplicationSink* sink) { sink_ = sink; }

    std::string render_metrics() const;
    std::string render_status_page() const;

private:
    enum class Route {
        kRegister, kRenew, kCancel, kAllApps, kDelta, kApp, kInstance, kInstanceById,
        kStatusOverride, kRemoveOverride, kMetadata, kVip, kSvip, kStatusPage, kMetrics,
        kServerStatus, kPeerBatch, kOther, kCount
    };
    Route dispatch(const http::Request& req, http::Response& res);
    Route eureka(const http::Request& req, http::Response& res, std::string_view rest);
    // Tells the sink about a client's change (not a peer's); `app` as in the path.
    void replicate(const http::Request& req, ReplicationAction action, std::string_view app,
                   std::string_view id, std::optional<InstanceStatus> status = std::nullopt);
    // True (and a 503 in `res`) while the node is still loading the registry from a peer.
    bool not_ready_for_reads(http::Response& res) const;
    void serve_peer_batch(const http::Request& req, http::Response& res);
    bool authorized(const http::Request& req) const;
    using Digest = std::array<unsigned char, 32>;
    Digest credentials_digest(std::string_view user, std::string_view password) const;
    // Serves a whole-document cache entry (delta, VIPs), rendering it when stale.
    void serve_document(const http::Request& req, http::Response& res, const std::string& key,
                        const std::function<std::optional<std::string>(bool json)>& render);
    // The full registry and one app are assembled from per-app renderings that are redone
    // only for apps that changed.
    void serve_all(const http::Request& req, http::Response& res);
    bool serve_app(const http::Request& req, http::Response& res, const std::string& app);
    // The cached rendering of one app (cache_mu_ held). Null when the app has no instances.
    std::shared_ptr<const std::string> app_fragment_locked(const std::string& app,
                                                           std::uint64_t generation, bool json);
    static void finish_document(http::Response& res, bool json, bool gzip,
                                std::vector<std::shared_ptr<const std::string>> parts);

    struct CacheEntry {
        std::uint64_t generation = 0;
        std::shared_ptr<const std::string> plain;
        std::shared_ptr<const std::string> gzip;
    };
    struct AppFragment {
        std::uint64_t generation = 0;
        std::shared_ptr<const std::string> json;
        std::shared_ptr<const std::string> xml;
    };
    struct FullDocument {
        std::uint64_t generation = 0;
        std::vector<std::shared_ptr<const std::string>> parts;
        std::shared_ptr<const std::string> gzip;
    };

    InstanceRegistry& registry_;
    EurekaApiOptions options_;
    ReplicationSink* sink_ = nullptr;
    std::array<unsigned char, 32> digest_key_{};  // random per process
    Digest auth_digest_{};                        // of options_.auth, when set
    std::mutex cache_mu_;
    std::unordered_map<std::string, CacheEntry> cache_;
    std::unordered_map<std::string, AppFragment> apps_cache_;
    FullDocument full_json_, full_xml_;
    const std::shared_ptr<const std::string> comma_ = std::make_shared<const std::string>(",");
    std::array<LatencyHistogram, static_cast<std::size_t>(Route::kCount)> latency_;
    std::array<std::atomic<std::uint64_t>, 6> status_classes_{};  // 1xx..5xx, index by /100
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace orquestra::registry
