#include "registry/peer_replicator.hpp"

#include "core/strings.hpp"
#include "http/client_pool.hpp"
#include "http/compress.hpp"
#include "registry/codec.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <list>
#include <random>
#include <unordered_map>

namespace orquestra::registry {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

// A label value for Prometheus text: no quote, backslash or newline can break the line.
std::string label_value(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\' || c == '\n') continue;
        out += c;
    }
    return out;
}

std::string random_node_id() {
    std::random_device rd;
    std::uniform_int_distribution<std::uint64_t> dist;
    return fmt::format("{:016x}", dist(rd));
}

// "Basic …" for a URL's own credentials, else for `fallback` ("user:password"); "" for none.
std::string authorization_for(std::string_view url, std::string_view fallback) {
    constexpr std::string_view kScheme = "http://";
    const std::string_view rest =
        url.substr(0, kScheme.size()) == kScheme ? url.substr(kScheme.size()) : url;
    const std::string_view authority = rest.substr(0, rest.find('/'));
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        const auto colon = userinfo.find(':');
        const auto user = percent_decode(userinfo.substr(0, colon));
        const auto password = colon == std::string_view::npos
                                  ? std::optional<std::string>("")
                                  : percent_decode(userinfo.substr(colon + 1));
        if (user && password) return "Basic " + base64_encode(*user + ":" + *password);
    }
    return fallback.empty() ? std::string() : "Basic " + base64_encode(fallback);
}

bool is_local_name(std::string_view host) {
    if (host == "localhost" || host == "127.0.0.1" || host == "::1" || host == "[::1]") {
        return true;
    }
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) == 0 && host == name) return true;
    return false;
}

bool is_any_or_loopback(std::string_view host) {
    return host.empty() || host == "0.0.0.0" || host == "::" || is_local_name(host);
}

}  // namespace

struct PeerReplicator::Queued {
    ReplicationAction action;
    std::string app;
    std::string id;
    std::optional<InstanceStatus> status;
    SteadyTime enqueued;
    std::string key;
};

struct PeerReplicator::Peer {
    Peer(asio::io_context& io) : wake(io) {}

    std::string url;         // for logs and metrics, without credentials
    http::Endpoint endpoint;
    std::string base_path;   // "/eureka", "/eureka/v2"
    std::string authorization;
    std::atomic<bool> self{false};

    mutable std::mutex mu;  // guards queue, index, idle
    std::list<Queued> queue;
    std::unordered_map<std::string, std::list<Queued>::iterator> index;
    bool idle = false;  // the sender waits for items and must be woken

    asio::steady_timer wake;  // sender thread only

    std::atomic<std::uint64_t> batches{0}, batch_failures{0}, retries{0}, items_sent{0},
        items_failed{0}, items_dropped{0}, items_expired{0}, items_coalesced{0}, reregistered{0},
        conflicts_taken{0};
    LatencyHistogram lag;
    // Sender thread only: a failure is logged when it starts and when it ends, not each time.
    bool failing = false;   // unreachable
    bool refusing = false;  // answers batches with an error
};

struct PeerReplicator::Sender {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard{asio::make_work_guard(io)};
    http::ClientPool pool{4};
    std::thread thread;
    std::mutex mu;
    std::condition_variable cv;
    int loops = 0;  // guarded by mu
};

PeerReplicator::PeerReplicator(InstanceRegistry& registry, PeerReplicatorOptions options)
    : registry_(registry),
      options_(std::move(options)),
      node_id_(random_node_id()),
      sender_(std::make_unique<Sender>()) {
    options_.max_queue = std::max<std::size_t>(1, options_.max_queue);
    options_.max_batch_items = std::clamp<std::size_t>(options_.max_batch_items, 1, kMaxBatchItems);
    for (const auto& raw : options_.peers) {
        std::string url(trim(raw));
        while (!url.empty() && url.back() == '/') url.pop_back();
        if (url.empty()) continue;
        auto parsed = http::parse_http_url(url);
        if (!parsed) {
            spdlog::warn("replication: ignoring peer '{}': {}", http::url_without_credentials(url),
                         parsed.error().message);
            continue;
        }
        auto peer = std::make_shared<Peer>(sender_->io);
        peer->url = http::url_without_credentials(url);
        peer->endpoint = parsed->first;
        peer->base_path = parsed->second == "/" ? "/eureka" : parsed->second;
        peer->authorization = authorization_for(url, options_.auth);
        bool duplicate = std::any_of(peers_.begin(), peers_.end(), [&](const auto& p) {
            return p->endpoint.host == peer->endpoint.host &&
                   p->endpoint.port == peer->endpoint.port;
        });
        if (!duplicate) peers_.push_back(std::move(peer));
    }
}

PeerReplicator::~PeerReplicator() { stop(); }

void PeerReplicator::set_self(const std::string& host, std::uint16_t port) {
    for (auto& p : peers_) {
        if (p->endpoint.port != port) continue;
        if (p->endpoint.host == host || (is_any_or_loopback(host) && is_local_name(p->endpoint.host))) {
            p->self = true;
            spdlog::info("replication: {} is this node; not a peer", p->url);
        }
    }
}

// --- queueing (any thread) --------------------------------------------------------------------

void PeerReplicator::enqueue(Peer& peer, ReplicationAction action, const std::string& app,
                             const std::string& id, std::optional<InstanceStatus> status) {
    std::string key;
    key.reserve(app.size() + id.size() + 2);
    key += static_cast<char>('0' + static_cast<int>(action));
    key += app;
    key += '/';
    key += id;
    bool wake = false;
    {
        std::lock_guard lock(peer.mu);
        if (auto it = peer.index.find(key); it != peer.index.end()) {
            peer.queue.erase(it->second);
            peer.index.erase(it);
            peer.items_coalesced.fetch_add(1, std::memory_order_relaxed);
        }
        if (peer.queue.size() >= options_.max_queue) {
            peer.index.erase(peer.queue.front().key);
            peer.queue.pop_front();
            peer.items_dropped.fetch_add(1, std::memory_order_relaxed);
        }
        peer.queue.push_back(Queued{action, app, id, status, std::chrono::steady_clock::now(), key});
        peer.index.emplace(std::move(key), std::prev(peer.queue.end()));
        if (peer.idle) {
            peer.idle = false;
            wake = true;
        }
    }
    if (wake) {
        // The timer belongs to the sender's thread: cancel it there.
        asio::post(sender_->io, [&peer] { peer.wake.cancel(); });
    }
}

void PeerReplicator::replicate(ReplicationAction action, std::string_view app,
                               std::string_view id, std::optional<InstanceStatus> status) {
    if (stopping_.load(std::memory_order_relaxed)) return;
    const std::string app_text(app), id_text(id);
    for (auto& p : peers_) {
        if (!p->self.load(std::memory_order_relaxed)) enqueue(*p, action, app_text, id_text, status);
    }
}

// --- the senders (sender thread) --------------------------------------------------------------

namespace {

asio::awaitable<void> wait_on(asio::steady_timer& timer, milliseconds d) {
    timer.expires_after(d);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

namespace {

struct Batch {
    std::vector<ReplicationItem> items;
    std::vector<SteadyTime> enqueued;  // per item
    std::vector<std::string> keys;     // per item, to put items back
};

}  // namespace

void PeerReplicator::start() {
    if (started_) return;
    started_ = true;
    std::size_t active = 0;
    for (auto& p : peers_) {
        if (!p->self) ++active;
    }
    spdlog::info("replication: node {} with {} peer(s)", node_id_, active);
    if (active == 0) synced_ = true;

    // One sender coroutine per peer. Everything it touches of `this` outlives it: stop() waits
    // for every sender to return before anything goes away.
    auto& sender = *sender_;
    for (auto& peer_ptr : peers_) {
        {
            std::lock_guard lock(sender.mu);
            ++sender.loops;
        }
        asio::co_spawn(
            sender.io,
            [](PeerReplicator* self, std::shared_ptr<Peer> peer) -> asio::awaitable<void> {
                auto& p = *peer;
                auto& opts = self->options_;
                milliseconds backoff{0};
                while (!self->stopping_.load() && !p.self.load()) {
                    // Take a batch; drop what is too old.
                    std::vector<Queued> taken;
                    {
                        std::lock_guard lock(p.mu);
                        const auto now = std::chrono::steady_clock::now();
                        while (!p.queue.empty() && taken.size() < opts.max_batch_items) {
                            Queued q = std::move(p.queue.front());
                            p.index.erase(q.key);
                            p.queue.pop_front();
                            if (now - q.enqueued > opts.max_item_age) {
                                p.items_expired.fetch_add(1, std::memory_order_relaxed);
                                continue;
                            }
                            taken.push_back(std::move(q));
                        }
                        if (taken.empty()) p.idle = true;
                    }
                    if (taken.empty()) {
                        co_await wait_on(p.wake, milliseconds(1000));
                        continue;
                    }
                    // Build the items from the registry's current state.
                    Batch batch;
                    for (auto& q : taken) {
                        ReplicationItem item;
                        item.action = q.action;
                        item.app = q.app;
                        item.id = q.id;
                        if (q.action != ReplicationAction::kCancel) {
                            auto info = self->registry_.instance(q.app, q.id);
                            if (!info) continue;  // gone here since: a Cancel follows, or eviction
                            item.last_dirty_timestamp = info->last_dirty_timestamp;
                            if (q.action == ReplicationAction::kRegister ||
                                q.action == ReplicationAction::kHeartbeat) {
                                item.status = info->status;
                                item.overridden_status = info->overridden_status;
                                if (q.action == ReplicationAction::kRegister) {
                                    item.instance = std::move(*info);
                                }
                            } else {
                                item.status = q.status;
                            }
                        }
                        batch.items.push_back(std::move(item));
                        batch.enqueued.push_back(q.enqueued);
                        batch.keys.push_back(q.key);
                    }
                    if (batch.items.empty()) continue;
                    std::string body = write_replication_batch(batch.items);
                    // Too big: send the first half now, put the rest back at the front.
                    while (body.size() > opts.max_batch_bytes && batch.items.size() > 1) {
                        std::size_t keep = batch.items.size() / 2;
                        std::lock_guard lock(p.mu);
                        for (std::size_t i = batch.items.size(); i-- > keep;) {
                            const auto& it = batch.items[i];
                            if (p.index.contains(batch.keys[i])) continue;
                            if (p.queue.size() >= opts.max_queue) {
                                p.items_dropped.fetch_add(1, std::memory_order_relaxed);
                                continue;
                            }
                            p.queue.push_front(Queued{it.action, it.app, it.id,
                                                      it.action == ReplicationAction::kStatusUpdate ||
                                                              it.action == ReplicationAction::kDeleteStatusOverride
                                                          ? it.status
                                                          : std::nullopt,
                                                      batch.enqueued[i], batch.keys[i]});
                            p.index.emplace(batch.keys[i], p.queue.begin());
                        }
                        batch.items.resize(keep);
                        batch.enqueued.resize(keep);
                        batch.keys.resize(keep);
                        body = write_replication_batch(batch.items);
                    }

                    http::ClientRequest req;
                    req.method = "POST";
                    req.target = p.base_path + "/peerreplication/batch/";
                    req.headers.emplace_back("Content-Type", "application/json");
                    req.headers.emplace_back("Accept", "application/json");
                    req.headers.emplace_back(std::string(kReplicationHeader), "true");
                    req.headers.emplace_back(std::string(kNodeIdHeader), self->node_id_);
                    if (!p.authorization.empty()) {
                        req.headers.emplace_back("Authorization", p.authorization);
                    }
                    req.body = std::move(body);
                    req.keep_alive = true;
                    http::Endpoint endpoint = p.endpoint;
                    auto res = co_await self->sender_->pool.fetch(endpoint, std::move(req),
                                                                  opts.request_timeout, 16u << 20);
                    if (self->stopping_.load()) break;

                    if (!res || res->status == 503) {
                        // Keep the items (unless newer ones replaced them) and try again later.
                        p.retries.fetch_add(1, std::memory_order_relaxed);
                        if (!p.failing) {
                            p.failing = true;
                            spdlog::warn("replication: peer {} unreachable ({}); retrying",
                                         p.url, res ? "HTTP 503" : res.error().message);
                        }
                        {
                            std::lock_guard lock(p.mu);
                            for (std::size_t i = batch.items.size(); i-- > 0;) {
                                const auto& it = batch.items[i];
                                if (p.index.contains(batch.keys[i])) continue;
                                if (p.queue.size() >= opts.max_queue) {
                                    // Older than everything queued: these are the ones to drop.
                                    p.items_dropped.fetch_add(1, std::memory_order_relaxed);
                                    continue;
                                }
                                p.queue.push_front(Queued{
                                    it.action, it.app, it.id,
                                    it.action == ReplicationAction::kStatusUpdate ||
                                            it.action == ReplicationAction::kDeleteStatusOverride
                                        ? it.status
                                        : std::nullopt,
                                    batch.enqueued[i], batch.keys[i]});
                                p.index.emplace(batch.keys[i], p.queue.begin());
                            }
                        }
                        backoff = backoff.count() == 0
                                      ? opts.retry_backoff
                                      : std::min(backoff * 2, opts.max_retry_backoff);
                        co_await wait_on(p.wake, backoff);
                        continue;
                    }
                    backoff = milliseconds(0);
                    if (p.failing) {
                        p.failing = false;
                        spdlog::info("replication: peer {} answers again", p.url);
                    }
                    if (res->header(kNodeIdHeader) == self->node_id_) {
                        p.self = true;
                        spdlog::info("replication: {} is this node; not a peer", p.url);
                        std::lock_guard lock(p.mu);
                        p.queue.clear();
                        p.index.clear();
                        break;
                    }
                    if (res->status < 200 || res->status >= 300) {
                        p.batch_failures.fetch_add(1, std::memory_order_relaxed);
                        p.items_failed.fetch_add(batch.items.size(), std::memory_order_relaxed);
                        if (!p.refusing) {
                            p.refusing = true;
                            spdlog::warn("replication: peer {} refuses batches (HTTP {}); they "
                                         "are dropped",
                                         p.url, res->status);
                        }
                        continue;
                    }
                    if (p.refusing) {
                        p.refusing = false;
                        spdlog::info("replication: peer {} accepts batches again", p.url);
                    }
                    auto results = parse_replication_results(res->body);
                    if (!results || results->size() != batch.items.size()) {
                        p.batch_failures.fetch_add(1, std::memory_order_relaxed);
                        p.items_failed.fetch_add(batch.items.size(), std::memory_order_relaxed);
                        spdlog::warn("replication: unreadable answer from peer {}: {}", p.url,
                                     results ? fmt::format("{} results for {} items",
                                                           results->size(), batch.items.size())
                                             : results.error().message);
                        continue;
                    }
                    p.batches.fetch_add(1, std::memory_order_relaxed);
                    p.items_sent.fetch_add(batch.items.size(), std::memory_order_relaxed);
                    const auto now = std::chrono::steady_clock::now();
                    for (std::size_t i = 0; i < batch.items.size(); ++i) {
                        p.lag.observe_ns(static_cast<std::uint64_t>(
                            std::chrono::duration_cast<std::chrono::nanoseconds>(
                                now - batch.enqueued[i])
                                .count()));
                        auto& item = batch.items[i];
                        auto& result = (*results)[i];
                        if (result.status_code >= 200 && result.status_code < 300) continue;
                        if (item.action == ReplicationAction::kHeartbeat &&
                            result.status_code == 404) {
                            // The peer does not know the instance (or has an older copy).
                            p.reregistered.fetch_add(1, std::memory_order_relaxed);
                            self->enqueue(p, ReplicationAction::kRegister, item.app, item.id,
                                          std::nullopt);
                            continue;
                        }
                        if (item.action == ReplicationAction::kHeartbeat &&
                            result.status_code == 409 && result.entity) {
                            // The peer's copy is newer: take it (not replicated again).
                            auto mine = self->registry_.instance(item.app, item.id);
                            if (!mine ||
                                result.entity->last_dirty_timestamp > mine->last_dirty_timestamp) {
                                if (self->registry_.register_instance(
                                        item.app, std::move(*result.entity), true)) {
                                    p.conflicts_taken.fetch_add(1, std::memory_order_relaxed);
                                }
                            }
                            continue;
                        }
                        if (item.action == ReplicationAction::kCancel && result.status_code == 404) {
                            continue;  // already gone there
                        }
                        p.items_failed.fetch_add(1, std::memory_order_relaxed);
                    }
                }
                std::lock_guard lock(self->sender_->mu);
                --self->sender_->loops;
                self->sender_->cv.notify_all();
            }(this, peer_ptr),
            asio::detached);
    }
    sender.thread = std::thread([&sender] { sender.io.run(); });
    if (active > 0) sync_thread_ = std::thread([this] { sync_from_peers(); });
}

void PeerReplicator::stop() {
    if (!started_ || stopped_) return;
    stopped_ = true;
    stopping_ = true;
    auto& sender = *sender_;
    asio::post(sender.io, [this] {
        for (auto& p : peers_) p->wake.cancel();
    });
    {
        std::unique_lock lock(sender.mu);
        sender.cv.wait_for(lock, options_.request_timeout + milliseconds(500),
                           [&sender] { return sender.loops == 0; });
    }
    sender.guard.reset();
    sender.io.stop();
    if (sender.thread.joinable()) sender.thread.join();
    if (sync_thread_.joinable()) sync_thread_.join();
}

bool PeerReplicator::wait_until_synced(milliseconds timeout) {
    std::unique_lock lock(sync_mu_);
    return sync_cv_.wait_for(lock, timeout, [this] { return synced_.load(); });
}

std::string PeerReplicator::synced_from() const {
    std::lock_guard lock(sync_mu_);
    return synced_from_;
}

// --- startup sync (its own thread) -----------------------------------------------------------

void PeerReplicator::sync_from_peers() {
    const auto deadline = std::chrono::steady_clock::now() + options_.sync_timeout;
    std::string from;
    for (auto& p : peers_) {
        if (p->self || stopping_) continue;
        const auto left = std::chrono::duration_cast<milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        http::ClientRequest req;
        req.method = "GET";
        req.target = p->base_path + "/apps/";
        req.headers.emplace_back("Accept", "application/json");
        // Also what a Netflix Eureka server sends anyway when none is asked for.
        req.headers.emplace_back("Accept-Encoding", "gzip");
        req.headers.emplace_back(std::string(kNodeIdHeader), node_id_);
        if (!p->authorization.empty()) req.headers.emplace_back("Authorization", p->authorization);
        auto res = http::fetch(p->endpoint, std::move(req),
                               std::min(left, options_.sync_request_timeout),
                               options_.max_sync_bytes);
        if (!res || res->status != 200) {
            spdlog::info("replication: cannot load the registry from {}: {}", p->url,
                         res ? fmt::format("HTTP {}", res->status) : res.error().message);
            continue;
        }
        if (res->header(kNodeIdHeader) == node_id_) {
            p->self = true;
            spdlog::info("replication: {} is this node; not a peer", p->url);
            continue;
        }
        if (iequals(res->header("Content-Encoding"), "gzip")) {
            std::string inflated;
            if (!http::gzip_decompress(res->body, inflated, options_.max_sync_bytes)) {
                spdlog::warn("replication: bad gzip registry from {} (or over {} bytes)", p->url,
                             options_.max_sync_bytes);
                continue;
            }
            res->body = std::move(inflated);
        }
        auto apps = parse_applications_json(res->body);
        if (!apps) {
            spdlog::warn("replication: unreadable registry from {}: {}", p->url,
                         apps.error().message);
            continue;
        }
        std::size_t loaded = 0, refused = 0, expired = 0;
        const Millis now = registry_.clock().now_ms();
        for (auto& app : apps->applications) {
            for (auto& info : app.instances) {
                // A lease that ran out at the peer (not evicted yet) would start afresh here.
                const auto& lease = info.lease;
                if (lease.last_renewal_timestamp > 0 && lease.duration_secs > 0 &&
                    lease.last_renewal_timestamp + Millis{lease.duration_secs} * 1000 < now) {
                    ++expired;
                    continue;
                }
                (registry_.register_instance(app.name, std::move(info), true) ? loaded : refused)++;
            }
        }
        spdlog::info("replication: loaded {} instance(s) from {}{}{}", loaded, p->url,
                     refused > 0 ? fmt::format(", {} refused", refused) : "",
                     expired > 0 ? fmt::format(", {} expired left out", expired) : "");
        from = p->url;
        break;
    }
    if (from.empty() && !stopping_) {
        spdlog::info("replication: no peer could be read; starting with an empty registry");
    }
    {
        std::lock_guard lock(sync_mu_);
        synced_from_ = from;
        synced_ = true;
    }
    sync_cv_.notify_all();
}

// --- reporting -------------------------------------------------------------------------------

std::vector<PeerStats> PeerReplicator::stats() const {
    std::vector<PeerStats> out;
    for (const auto& p : peers_) {
        PeerStats s;
        s.url = p->url;
        s.self = p->self.load();
        {
            std::lock_guard lock(p->mu);
            s.queued = p->queue.size();
        }
        s.batches = p->batches.load();
        s.batch_failures = p->batch_failures.load();
        s.retries = p->retries.load();
        s.items_sent = p->items_sent.load();
        s.items_failed = p->items_failed.load();
        s.items_dropped = p->items_dropped.load();
        s.items_expired = p->items_expired.load();
        s.items_coalesced = p->items_coalesced.load();
        s.reregistered = p->reregistered.load();
        s.conflicts_taken = p->conflicts_taken.load();
        out.push_back(std::move(s));
    }
    return out;
}

void PeerReplicator::render_metrics(std::string& out) const {
    auto all = stats();
    metric_header(out, "orquestra_registry_replication_synced", "gauge",
                  "1 once the startup sync from the peers is over.");
    metric_sample(out, "orquestra_registry_replication_synced", "", ready_for_reads() ? 1 : 0);
    metric_header(out, "orquestra_registry_replication_queue_length", "gauge",
                  "Replication items waiting for a peer.");
    for (const auto& s : all) {
        if (s.self) continue;
        metric_sample(out, "orquestra_registry_replication_queue_length",
                      fmt::format("peer=\"{}\"", label_value(s.url)),
                      static_cast<double>(s.queued));
    }
    auto counter = [&](std::string_view name, std::string_view help, auto field) {
        metric_header(out, name, "counter", help);
        for (const auto& s : all) {
            if (s.self) continue;
            metric_sample(out, name, fmt::format("peer=\"{}\"", label_value(s.url)),
                          static_cast<double>(field(s)));
        }
    };
    counter("orquestra_registry_replication_batches_total", "Batches a peer accepted.",
            [](const PeerStats& s) { return s.batches; });
    counter("orquestra_registry_replication_batch_failures_total",
            "Batches dropped: refused by a peer, or an unreadable answer.",
            [](const PeerStats& s) { return s.batch_failures; });
    counter("orquestra_registry_replication_retries_total",
            "Batches sent again after a network error, a timeout or a 503.",
            [](const PeerStats& s) { return s.retries; });
    metric_header(out, "orquestra_registry_replication_items_total", "counter",
                  "Replication items by outcome.");
    for (const auto& s : all) {
        if (s.self) continue;
        const std::pair<std::string_view, std::uint64_t> outcomes[] = {
            {"sent", s.items_sent},       {"failed", s.items_failed},
            {"dropped", s.items_dropped}, {"expired", s.items_expired},
            {"coalesced", s.items_coalesced}};
        for (const auto& [outcome, n] : outcomes) {
            metric_sample(out, "orquestra_registry_replication_items_total",
                          fmt::format("peer=\"{}\",outcome=\"{}\"", label_value(s.url), outcome),
                          static_cast<double>(n));
        }
    }
    counter("orquestra_registry_replication_reregistrations_total",
            "Heartbeats a peer answered 404, followed by a Register.",
            [](const PeerStats& s) { return s.reregistered; });
    counter("orquestra_registry_replication_conflicts_taken_total",
            "Heartbeats a peer answered 409 whose newer copy was taken here.",
            [](const PeerStats& s) { return s.conflicts_taken; });
    metric_header(out, "orquestra_registry_replication_lag_seconds", "histogram",
                  "From a client's change to a peer's answer, per item.");
    for (const auto& p : peers_) {
        if (p->self || p->lag.count() == 0) continue;
        p->lag.render(out, "orquestra_registry_replication_lag_seconds",
                      fmt::format("peer=\"{}\"", label_value(p->url)));
    }
}

}  // namespace orquestra::registry
