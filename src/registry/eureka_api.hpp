#pragma once
// EurekaApi: the Eureka REST resources (shared/design/EUREKA.md §2) over an InstanceRegistry,
// plus the registry's status page at "/" and Prometheus metrics at "/metrics".
//
// Collection documents (all apps, delta, one app, VIPs) are rendered once per registry
// generation and per format, then shared by every reader until the next change; a change is
// therefore visible to the very next read. handle() never blocks and may run on any thread.
//
// Memory: an app is rendered only in the formats asked for, and each rendering is kept once,
// compressed (DeflatedText), shared by full fetches and that app's lookups. A gzip answer is
// assembled from the compressed renderings as they are; a plain answer inflates them, keeping
// plain copies only up to EurekaApiOptions::plain_cache_bytes.
//
// With a ReplicationSink (a cluster, see peer_replicator.hpp), clients' changes are told to it
// (not those carrying x-netflix-discovery-replication: true, which come from peers), batches
// from peers are applied at POST …/peerreplication/batch, a replicated renewal of an older copy
// answers 409 with ours, and registry reads answer 503 until the node has loaded the registry
// from a peer.

#include "core/metrics.hpp"
#include "http/message.hpp"
#include "registry/deflated_text.hpp"
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
    // Plain (inflated) app renderings kept for clients that do not take gzip; beyond this,
    // plain answers are inflated for each request. Stale copies are dropped when seen.
    std::size_t plain_cache_bytes = 16u << 20;
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

    // What the response caches hold: app renderings by format, their compressed bytes, and
    // the plain copies kept beside them.
    struct CacheStats {
        std::size_t json_apps = 0;
        std::size_t xml_apps = 0;
        std::size_t deflated_bytes = 0;
        std::size_t plain_copies = 0;
        std::size_t plain_bytes = 0;
    };
    CacheStats cache_stats() const;
    // Bytes of short-lived text made so far (renderings, inflated plain answers): it grows
    // while large buffers come and go, and stands still when the API is quiet.
    std::uint64_t transient_bytes() const {
        return transient_bytes_.load(std::memory_order_relaxed);
    }
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
    // The cached rendering of one app (cache_mu_ held). Empty (no data) when the app has no
    // instances. When it renders the app and `plain` is given, the text comes back there too.
    DeflatedText app_fragment_locked(const std::string& app, std::uint64_t generation, bool json,
                                     std::shared_ptr<const std::string>* plain = nullptr);
    // A plain copy of an app's rendering when one is kept (cache_mu_ held), else null.
    std::shared_ptr<const std::string> cached_plain_locked(const std::string& app,
                                                           std::uint64_t generation, bool json);
    // Keeps a plain copy when the budget allows (cache_mu_ held).
    void offer_plain_locked(const std::string& app, std::uint64_t generation, bool json,
                            std::shared_ptr<const std::string> text);
    static void finish_document(http::Response& res, bool json, bool gzip,
                                std::vector<std::shared_ptr<const std::string>> parts);

    struct CacheEntry {
        std::uint64_t generation = 0;
        std::shared_ptr<const std::string> gzip;
    };
    struct AppFragment {
        std::uint64_t generation = 0;
        DeflatedText json;
        DeflatedText xml;
    };
    struct PlainCopy {
        std::uint64_t generation = 0;
        std::shared_ptr<const std::string> text;
    };
    struct FullDocument {
        struct App {
            std::string name;
            std::uint64_t generation = 0;
            DeflatedText fragment;
        };
        std::uint64_t generation = 0;
        bool built = false;
        std::shared_ptr<const std::string> head;  // plain
        DeflatedText head_deflated;
        std::vector<App> apps;
        std::vector<std::shared_ptr<const std::string>> gzip;  // assembled when first asked
    };

    InstanceRegistry& registry_;
    EurekaApiOptions options_;
    ReplicationSink* sink_ = nullptr;
    std::array<unsigned char, 32> digest_key_{};  // random per process
    Digest auth_digest_{};                        // of options_.auth, when set
    mutable std::mutex cache_mu_;
    std::unordered_map<std::string, CacheEntry> cache_;
    std::unordered_map<std::string, AppFragment> apps_cache_;
    // Plain copies by app, JSON and XML; plain_bytes_ is their total size.
    std::array<std::unordered_map<std::string, PlainCopy>, 2> plain_;
    std::size_t plain_bytes_ = 0;
    std::atomic<std::uint64_t> transient_bytes_{0};
    FullDocument full_json_, full_xml_;
    std::array<LatencyHistogram, static_cast<std::size_t>(Route::kCount)> latency_;
    std::array<std::atomic<std::uint64_t>, 6> status_classes_{};  // 1xx..5xx, index by /100
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace orquestra::registry
