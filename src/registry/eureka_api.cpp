#include "registry/eureka_api.hpp"

#include "core/strings.hpp"
#include "http/compress.hpp"
#include "registry/codec.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <limits>
#include <unordered_set>

namespace orquestra::registry {

namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kXml = "application/xml";
constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::size_t kMaxCacheEntries = 4096;

bool wants_json(const http::Request& req) {
    return icontains(req.header(http::beast_http::field::accept), "json");
}

void reply(http::Response& res, int status, std::string_view text) {
    res.set(status, std::string(kText), std::string(text) + (text.empty() ? "" : "\n"));
}

void reply_error(http::Response& res, const Error& e) {
    reply(res, http_status_for(e.code), e.message);
}

std::optional<Millis> query_millis(const http::Request& req, std::string_view name) {
    auto v = req.query_param(name);
    if (!v || v->empty()) return std::nullopt;
    auto n = parse_int(*v);
    if (!n) return std::nullopt;
    return static_cast<Millis>(*n);
}

std::string_view route_name(int r) {
    static constexpr std::string_view kNames[] = {
        "register", "renew",           "cancel",         "all_apps", "delta",
        "app",      "instance",        "instance_by_id", "status_override",
        "remove_override", "metadata", "vip",            "svip",     "status_page",
        "metrics",  "server_status",   "peer_batch",     "other"};
    return kNames[r];
}

std::string format_age(Millis ms) {
    if (ms < 0) ms = 0;
    if (ms < 1000) return fmt::format("{} ms ago", ms);
    if (ms < 120'000) return fmt::format("{:.1f} s ago", static_cast<double>(ms) / 1000.0);
    return fmt::format("{} min ago", ms / 60'000);
}

}  // namespace

EurekaApi::EurekaApi(InstanceRegistry& registry, EurekaApiOptions options)
    : registry_(registry), options_(std::move(options)) {
    if (::sodium_init() >= 0) ::randombytes_buf(digest_key_.data(), digest_key_.size());
    if (!options_.auth.empty()) {
        const auto colon = options_.auth.find(':');
        const std::string_view auth = options_.auth;
        auth_digest_ = credentials_digest(
            auth.substr(0, colon), colon == std::string::npos ? "" : auth.substr(colon + 1));
    }
}

// A keyed BLAKE2b digest of the username's length, the username and the password: equal
// digests mean equal credentials, and comparing two digests takes the same time whatever
// was sent.
EurekaApi::Digest EurekaApi::credentials_digest(std::string_view user,
                                                std::string_view password) const {
    Digest out{};
    crypto_generichash_state state;
    ::crypto_generichash_init(&state, digest_key_.data(), digest_key_.size(), out.size());
    const std::uint64_t n = user.size();
    ::crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(&n), sizeof(n));
    ::crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(user.data()),
                                user.size());
    ::crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(password.data()),
                                password.size());
    ::crypto_generichash_final(&state, out.data(), out.size());
    return out;
}

boost::asio::awaitable<void> EurekaApi::handle(http::Request& req, http::Response& res) {
    handle_sync(req, res);
    co_return;
}

void EurekaApi::handle_sync(const http::Request& req, http::Response& res) {
    auto start = std::chrono::steady_clock::now();
    Route route = Route::kOther;
    if (req.path().size() > 4096 || req.target().size() > 8192) {
        reply(res, 414, "request target too long");
    } else if (req.path() != "/health" && !authorized(req)) {
        reply(res, 401, "authentication required");
        res.add_header("WWW-Authenticate", "Basic realm=\"orquestra\"");
    } else {
        route = dispatch(req, res);
    }
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    latency_[static_cast<std::size_t>(route)].observe_ns(static_cast<std::uint64_t>(ns));
    status_classes_[static_cast<std::size_t>(std::clamp(res.status / 100, 0, 5))].fetch_add(
        1, std::memory_order_relaxed);
}

bool EurekaApi::authorized(const http::Request& req) const {
    if (options_.auth.empty()) return true;
    auto creds = http::parse_basic_auth(req.header(http::beast_http::field::authorization));
    if (!creds) return false;
    const Digest sent = credentials_digest(creds->first, creds->second);
    return ::sodium_memcmp(sent.data(), auth_digest_.data(), sent.size()) == 0;
}

namespace {

bool is_replicated(const http::Request& req) {
    return iequals(req.header(kReplicationHeader), "true");
}

}  // namespace

void EurekaApi::replicate(const http::Request& req, ReplicationAction action,
                          std::string_view app, std::string_view id,
                          std::optional<InstanceStatus> status) {
    if (sink_ != nullptr && !is_replicated(req)) {
        sink_->replicate(action, to_upper(app), id, status);
    }
}

bool EurekaApi::not_ready_for_reads(http::Response& res) const {
    if (sink_ == nullptr || sink_->ready_for_reads()) return false;
    reply(res, 503, "loading the registry from a peer; try another registry node");
    res.add_header("Retry-After", "1");
    return true;
}

void EurekaApi::serve_peer_batch(const http::Request& req, http::Response& res) {
    std::string inflated;
    const std::string* body = &req.body();
    if (iequals(req.header(http::beast_http::field::content_encoding), "gzip")) {
        if (!http::gzip_decompress(req.body(), inflated, 8 << 20)) {
            reply(res, 400, "bad gzip body (or over 8 MiB inflated)");
            return;
        }
        body = &inflated;
    }
    auto items = parse_replication_batch(*body);
    if (!items) {
        reply_error(res, items.error());
        return;
    }
    auto results = apply_replication_batch(registry_, std::move(*items));
    res.set(200, std::string(kJson), write_replication_results(results));
}

EurekaApi::Route EurekaApi::dispatch(const http::Request& req, http::Response& res) {
    std::string_view path = req.path();
    using http::beast_http::verb;
    if (path == "/" || path == "/index.html" || path == "/eureka" || path == "/eureka/") {
        if (req.method() != verb::get && req.method() != verb::head) {
            reply(res, 405, "method not allowed");
            return Route::kOther;
        }
        res.set(200, "text/html; charset=utf-8", render_status_page());
        return Route::kStatusPage;
    }
    if (path == "/metrics") {
        res.set(200, "text/plain; version=0.0.4; charset=utf-8", render_metrics());
        return Route::kMetrics;
    }
    if (path == "/health") {
        res.set(200, std::string(kJson), "{\"status\":\"UP\"}");
        return Route::kOther;
    }
    for (std::string_view prefix : {"/eureka/v2/", "/eureka/"}) {
        if (path.substr(0, prefix.size()) == prefix) {
            return eureka(req, res, path.substr(prefix.size()));
        }
    }
    reply(res, 404, fmt::format("no resource at {}", path));
    return Route::kOther;
}

EurekaApi::Route EurekaApi::eureka(const http::Request& req, http::Response& res,
                                   std::string_view rest) {
    using http::beast_http::verb;
    // Segments, percent-decoded; a trailing slash is ignored (/apps ≡ /apps/).
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    std::vector<std::string> seg;
    for (auto part : split(rest, '/')) {
        auto decoded = percent_decode(part);
        if (!decoded) {
            reply(res, 400, "malformed percent-encoding in path");
            return Route::kOther;
        }
        seg.push_back(std::move(*decoded));
    }
    if (seg.size() > 4) {
        reply(res, 404, "no such resource");
        return Route::kOther;
    }
    auto method = req.method();
    auto bad_method = [&]() {
        reply(res, 405, "method not allowed");
        return Route::kOther;
    };

    if (seg[0] == "status" && seg.size() == 1) {
        auto s = registry_.summary();
        res.set(200, std::string(kJson),
                fmt::format("{{\"status\":\"UP\",\"instances\":{},\"apps\":{}}}", s.instances,
                            s.apps));
        return Route::kServerStatus;
    }
    if (seg[0] == "apps") {
        if (seg.size() == 1) {
            if (method != verb::get && method != verb::head) return bad_method();
            if (sink_ != nullptr) res.add_header(std::string(kNodeIdHeader), sink_->node_id());
            if (not_ready_for_reads(res)) return Route::kAllApps;
            serve_all(req, res);
            return Route::kAllApps;
        }
        if (seg.size() == 2 && seg[1] == "delta" && method == verb::get) {
            if (not_ready_for_reads(res)) return Route::kDelta;
            serve_document(req, res, "D", [this](bool json) -> std::optional<std::string> {
                auto apps = registry_.delta();
                std::string out;
                json ? write_applications_json(apps, out) : write_applications_xml(apps, out);
                return out;
            });
            return Route::kDelta;
        }
        const std::string& app = seg[1];
        if (seg.size() == 2) {
            if (method == verb::post) {
                std::string inflated;
                const std::string* body = &req.body();
                if (iequals(req.header(http::beast_http::field::content_encoding), "gzip")) {
                    if (!http::gzip_decompress(req.body(), inflated, 1 << 20)) {
                        reply(res, 400, "bad gzip body (or over 1 MiB inflated)");
                        return Route::kRegister;
                    }
                    body = &inflated;
                }
                const std::string type =
                    http::media_type(req.header(http::beast_http::field::content_type));
                const bool xml = type == kXml || type == "text/xml";
                if (!xml && type != kJson) {
                    reply(res, 415,
                          fmt::format("registration body must be application/json, "
                                      "application/xml or text/xml, not {}",
                                      type.empty() ? std::string("one without a Content-Type")
                                                   : "'" + type + "'"));
                    return Route::kRegister;
                }
                auto info = xml ? parse_instance_xml(*body) : parse_instance_json(*body);
                if (!info) {
                    reply_error(res, info.error());
                    return Route::kRegister;
                }
                const std::string id = sink_ == nullptr          ? std::string()
                                       : info->instance_id.empty() ? info->id()
                                                                   : info->instance_id;
                auto r = registry_.register_instance(app, std::move(*info), is_replicated(req));
                if (!r) {
                    reply_error(res, r.error());
                } else {
                    res.status = 204;
                    replicate(req, ReplicationAction::kRegister, app, id);
                }
                return Route::kRegister;
            }
            if (method != verb::get && method != verb::head) return bad_method();
            if (not_ready_for_reads(res)) return Route::kApp;
            std::string upper = to_upper(app);
            if (!serve_app(req, res, upper)) reply(res, 404, fmt::format("no app {}", upper));
            return Route::kApp;
        }
        const std::string& id = seg[2];
        if (seg.size() == 3) {
            if (method == verb::put) {
                RenewRequest rr;
                if (auto s = req.query_param("status"); s && !s->empty()) {
                    rr.status = parse_status(*s);
                }
                if (auto s = req.query_param("overriddenstatus"); s && !s->empty()) {
                    rr.overridden_status = parse_status(*s);
                }
                rr.last_dirty_timestamp = query_millis(req, "lastDirtyTimestamp");
                rr.replication = is_replicated(req);
                auto r = registry_.renew(app, id, rr);
                if (!r) {
                    auto newer = r.error().code == ErrorCode::kConflict
                                     ? registry_.instance(app, id)
                                     : std::nullopt;
                    if (newer) {
                        // A peer's older copy: answer with ours, as Eureka does.
                        res.status = 409;
                        bool json = wants_json(req);
                        res.content_type = json ? kJson : kXml;
                        json ? write_instance_json(*newer, res.body)
                             : write_instance_xml(*newer, res.body);
                    } else {
                        reply_error(res, r.error());
                    }
                } else {
                    res.status = 200;
                    replicate(req, ReplicationAction::kHeartbeat, app, id);
                }
                return Route::kRenew;
            }
            if (method == verb::delete_) {
                auto r = registry_.cancel(app, id);
                if (!r) {
                    reply_error(res, r.error());
                } else {
                    res.status = 200;
                    replicate(req, ReplicationAction::kCancel, app, id);
                }
                return Route::kCancel;
            }
            if (method != verb::get && method != verb::head) return bad_method();
            auto info = registry_.instance(app, id);
            if (!info) {
                reply(res, 404, fmt::format("no instance {} of {}", id, to_upper(app)));
                return Route::kInstance;
            }
            bool json = wants_json(req);
            res.content_type = json ? kJson : kXml;
            json ? write_instance_json(*info, res.body) : write_instance_xml(*info, res.body);
            return Route::kInstance;
        }
        if (seg[3] == "status") {
            auto value = req.query_param("value");
            auto dirty = query_millis(req, "lastDirtyTimestamp");
            if (method == verb::put) {
                if (!value) {
                    reply(res, 400, "missing query parameter 'value'");
                    return Route::kStatusOverride;
                }
                auto status = parse_status_strict(*value);
                if (!status) {
                    reply(res, 400, fmt::format("'{}' is not a status (UP, DOWN, STARTING, "
                                                "OUT_OF_SERVICE, UNKNOWN)", *value));
                    return Route::kStatusOverride;
                }
                auto r = registry_.set_status_override(app, id, *status, dirty);
                r ? reply(res, 200, "") : reply_error(res, r.error());
                if (r) replicate(req, ReplicationAction::kStatusUpdate, app, id, *status);
                return Route::kStatusOverride;
            }
            if (method == verb::delete_) {
                std::optional<InstanceStatus> fallback;
                if (value && !value->empty()) {
                    fallback = parse_status_strict(*value);
                    if (!fallback) {
                        reply(res, 400, fmt::format("'{}' is not a status", *value));
                        return Route::kRemoveOverride;
                    }
                }
                auto r = registry_.remove_status_override(app, id, fallback, dirty);
                r ? reply(res, 200, "") : reply_error(res, r.error());
                if (r) {
                    replicate(req, ReplicationAction::kDeleteStatusOverride, app, id,
                              fallback);
                }
                return Route::kRemoveOverride;
            }
            return bad_method();
        }
        if (seg[3] == "metadata") {
            if (method != verb::put) return bad_method();
            auto kv = req.query_params();
            if (kv.size() > 256) {
                reply(res, 400, "too many metadata keys (limit 256)");
                return Route::kMetadata;
            }
            auto r = registry_.update_metadata(app, id, kv);
            r ? reply(res, 200, "") : reply_error(res, r.error());
            // Eureka replicates a metadata change as a registration.
            if (r) replicate(req, ReplicationAction::kRegister, app, id);
            return Route::kMetadata;
        }
        reply(res, 404, "no such resource");
        return Route::kOther;
    }
    if (seg[0] == "instances" && seg.size() == 2) {
        if (method != verb::get && method != verb::head) return bad_method();
        auto info = registry_.instance_by_id(seg[1]);
        if (!info) {
            reply(res, 404, fmt::format("no instance {}", seg[1]));
            return Route::kInstanceById;
        }
        bool json = wants_json(req);
        res.content_type = json ? kJson : kXml;
        json ? write_instance_json(*info, res.body) : write_instance_xml(*info, res.body);
        return Route::kInstanceById;
    }
    if (seg[0] == "peerreplication" && seg.size() == 2 && seg[1] == "batch") {
        if (method != verb::post) return bad_method();
        if (sink_ != nullptr) res.add_header(std::string(kNodeIdHeader), sink_->node_id());
        serve_peer_batch(req, res);
        return Route::kPeerBatch;
    }
    if ((seg[0] == "vips" || seg[0] == "svips") && seg.size() == 2) {
        if (method != verb::get && method != verb::head) return bad_method();
        if (not_ready_for_reads(res)) return seg[0] == "svips" ? Route::kSvip : Route::kVip;
        bool secure = seg[0] == "svips";
        std::string vip = seg[1];
        serve_document(req, res, (secure ? "S" : "V") + to_lower(vip),
                       [this, &vip, secure](bool json) -> std::optional<std::string> {
                           auto apps = registry_.by_vip(vip, secure);
                           std::string out;
                           json ? write_applications_json(apps, out)
                                : write_applications_xml(apps, out);
                           return out;
                       });
        return secure ? Route::kSvip : Route::kVip;
    }
    reply(res, 404, "no such resource");
    return Route::kOther;
}

void EurekaApi::serve_document(
    const http::Request& req, http::Response& res, const std::string& key,
    const std::function<std::optional<std::string>(bool json)>& render) {
    bool json = wants_json(req);
    bool gzip = http::accepts_gzip(req.header(http::beast_http::field::accept_encoding));
    std::string full_key = key + (json ? "|j" : "|x");
    std::shared_ptr<const std::string> body;
    std::shared_ptr<const std::string> compressed;
    {
        std::lock_guard lock(cache_mu_);
        std::uint64_t generation = registry_.generation();
        auto it = cache_.find(full_key);
        if (it == cache_.end() || it->second.generation != generation) {
            // Rendered under the cache lock: concurrent readers of a stale document wait for
            // one rendering instead of each doing it.
            auto text = render(json);
            if (!text) {
                if (it != cache_.end()) cache_.erase(it);
                return;
            }
            if (cache_.size() >= kMaxCacheEntries) cache_.clear();
            // Only the compressed form is kept (most clients take it); this reader gets the
            // text it has just rendered.
            CacheEntry entry;
            entry.generation = generation;
            entry.gzip = std::make_shared<const std::string>(http::gzip_compress(*text, 1));
            if (!gzip) body = std::make_shared<const std::string>(std::move(*text));
            it = cache_.insert_or_assign(full_key, std::move(entry)).first;
        }
        compressed = it->second.gzip;
    }
    if (gzip) {
        body = std::move(compressed);
    } else if (!body) {
        std::string text;
        http::gzip_decompress(*compressed, text, std::numeric_limits<std::size_t>::max());
        transient_bytes_.fetch_add(text.size(), std::memory_order_relaxed);
        body = std::make_shared<const std::string>(std::move(text));
    }
    res.status = 200;
    res.content_type = json ? kJson : kXml;
    res.parts.push_back(std::move(body));
    if (gzip) res.add_header("Content-Encoding", "gzip");
    res.add_header("Vary", "Accept, Accept-Encoding");
}

DeflatedText EurekaApi::app_fragment_locked(const std::string& app, std::uint64_t generation,
                                            bool json, std::shared_ptr<const std::string>* plain) {
    auto& entry = apps_cache_[app];
    DeflatedText& slot = json ? entry.json : entry.xml;
    if (entry.generation == generation && generation != 0 && slot.data) return slot;
    auto snapshot = registry_.application_at(app);
    if (!snapshot) {
        apps_cache_.erase(app);
        return {};
    }
    if (snapshot->second != entry.generation) {
        // The app changed since its other format was rendered: that rendering is stale.
        entry = AppFragment{snapshot->second, {}, {}};
    }
    std::string text;
    text.reserve(snapshot->first.instances.size() * 1600 + 64);
    json ? write_application_object_json(snapshot->first, text)
         : write_application_xml(snapshot->first, text);
    DeflatedText& fresh = json ? entry.json : entry.xml;
    fresh = deflate_text(text);
    transient_bytes_.fetch_add(text.size(), std::memory_order_relaxed);
    if (plain != nullptr) {
        // A plain answer is on its way: hand the text over instead of inflating it again.
        *plain = std::make_shared<const std::string>(std::move(text));
        offer_plain_locked(app, snapshot->second, json, *plain);
    }
    return fresh;
}

std::shared_ptr<const std::string> EurekaApi::cached_plain_locked(const std::string& app,
                                                                  std::uint64_t generation,
                                                                  bool json) {
    auto& copies = plain_[json ? 0 : 1];
    auto it = copies.find(app);
    if (it == copies.end()) return nullptr;
    if (it->second.generation != generation) {
        plain_bytes_ -= it->second.text->size();
        copies.erase(it);
        return nullptr;
    }
    return it->second.text;
}

void EurekaApi::offer_plain_locked(const std::string& app, std::uint64_t generation, bool json,
                                   std::shared_ptr<const std::string> text) {
    auto& copies = plain_[json ? 0 : 1];
    auto it = copies.find(app);
    std::size_t freed = it == copies.end() ? 0 : it->second.text->size();
    // First come, first kept: a full fetch that walks every app would otherwise evict what
    // the previous one kept, and keep nothing useful.
    if (plain_bytes_ - freed + text->size() > options_.plain_cache_bytes) {
        if (it != copies.end() && it->second.generation != generation) {
            plain_bytes_ -= freed;
            copies.erase(it);
        }
        return;
    }
    plain_bytes_ = plain_bytes_ - freed + text->size();
    copies.insert_or_assign(app, PlainCopy{generation, std::move(text)});
}

bool EurekaApi::serve_app(const http::Request& req, http::Response& res, const std::string& app) {
    bool json = wants_json(req);
    bool gzip = http::accepts_gzip(req.header(http::beast_http::field::accept_encoding));
    DeflatedText fragment;
    std::shared_ptr<const std::string> plain;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(cache_mu_);
        // A cached rendering is valid while the app's generation is unchanged.
        auto current = registry_.app_generation(app);
        if (!current) {
            apps_cache_.erase(app);
            return false;
        }
        fragment = app_fragment_locked(app, *current, json, gzip ? nullptr : &plain);
        if (!fragment.data) return false;
        generation = apps_cache_[app].generation;
        if (!gzip && !plain) plain = cached_plain_locked(app, generation, json);
    }
    static const auto kOpen = std::make_shared<const std::string>("{\"application\":");
    static const auto kClose = std::make_shared<const std::string>("}");
    if (gzip) {
        static const DeflatedText kOpenDeflated = deflate_text(*kOpen);
        static const DeflatedText kCloseDeflated = deflate_text(*kClose);
        GzipAssembly assembly;
        if (json) assembly.add(kOpenDeflated);
        assembly.add(fragment);
        if (json) assembly.add(kCloseDeflated);
        finish_document(res, json, true, assembly.finish());
        return true;
    }
    if (!plain) {
        std::string text;
        inflate_text(fragment, text);
        transient_bytes_.fetch_add(text.size(), std::memory_order_relaxed);
        plain = std::make_shared<const std::string>(std::move(text));
        std::lock_guard lock(cache_mu_);
        offer_plain_locked(app, generation, json, plain);
    }
    std::vector<std::shared_ptr<const std::string>> parts;
    if (json) {
        parts = {kOpen, std::move(plain), kClose};
    } else {
        parts = {std::move(plain)};
    }
    finish_document(res, json, false, std::move(parts));
    return true;
}

void EurekaApi::serve_all(const http::Request& req, http::Response& res) {
    bool json = wants_json(req);
    bool gzip = http::accepts_gzip(req.header(http::beast_http::field::accept_encoding));
    static const auto kComma = std::make_shared<const std::string>(",");
    static const auto kJsonTail = std::make_shared<const std::string>("]}}");
    static const auto kXmlTail = std::make_shared<const std::string>("</applications>");
    const auto& tail = json ? kJsonTail : kXmlTail;
    std::shared_ptr<const std::string> head;
    std::vector<FullDocument::App> apps;
    std::vector<std::shared_ptr<const std::string>> plains;  // per app, when at hand
    std::unordered_map<std::string, std::shared_ptr<const std::string>> rendered;
    std::vector<std::shared_ptr<const std::string>> parts;
    {
        std::lock_guard lock(cache_mu_);
        FullDocument& doc = json ? full_json_ : full_xml_;
        std::uint64_t current = registry_.generation();
        if (doc.generation != current || !doc.built) {
            auto view = registry_.view();
            FullDocument fresh;
            fresh.generation = view.generation;
            fresh.built = true;
            std::string text;
            if (json) {
                text = fmt::format(
                    "{{\"applications\":{{\"versions__delta\":\"1\",\"apps__hashcode\":\"{}\","
                    "\"application\":[",
                    view.hashcode);
            } else {
                text = fmt::format(
                    "<applications><versions__delta>1</versions__delta><apps__hashcode>{}"
                    "</apps__hashcode>",
                    view.hashcode);
            }
            fresh.head_deflated = deflate_text(text);
            fresh.head = std::make_shared<const std::string>(std::move(text));
            fresh.apps.reserve(view.apps.size());
            for (const auto& app : view.apps) {
                std::shared_ptr<const std::string> plain;
                auto fragment =
                    app_fragment_locked(app.name, app.generation, json, gzip ? nullptr : &plain);
                if (!fragment.data) continue;
                if (plain) rendered.emplace(app.name, std::move(plain));
                fresh.apps.push_back({app.name, apps_cache_[app.name].generation,
                                      std::move(fragment)});
            }
            // Drop renderings and plain copies of apps that are gone.
            if (apps_cache_.size() > view.apps.size()) {
                std::unordered_set<std::string_view> present;
                for (const auto& app : view.apps) present.insert(app.name);
                std::erase_if(apps_cache_,
                              [&present](const auto& kv) { return !present.contains(kv.first); });
                for (auto& copies : plain_) {
                    std::erase_if(copies, [&](const auto& kv) {
                        if (present.contains(kv.first)) return false;
                        plain_bytes_ -= kv.second.text->size();
                        return true;
                    });
                }
            }
            doc = std::move(fresh);
        }
        if (gzip) {
            if (doc.gzip.empty()) {
                static const DeflatedText kCommaDeflated = deflate_text(*kComma);
                static const DeflatedText kJsonTailDeflated = deflate_text(*kJsonTail);
                static const DeflatedText kXmlTailDeflated = deflate_text(*kXmlTail);
                GzipAssembly assembly;
                assembly.add(doc.head_deflated);
                bool first = true;
                for (const auto& app : doc.apps) {
                    if (json && !first) assembly.add(kCommaDeflated);
                    first = false;
                    assembly.add(app.fragment);
                }
                assembly.add(json ? kJsonTailDeflated : kXmlTailDeflated);
                doc.gzip = assembly.finish();
            }
            parts = doc.gzip;
        } else {
            head = doc.head;
            apps = doc.apps;
            parts.reserve(apps.size() * 2 + 2);
            plains.reserve(apps.size());
            // Plain copies at hand stand in for the pieces; the rest are inflated below,
            // outside the lock.
            for (const auto& app : apps) {
                auto r = rendered.find(app.name);
                plains.push_back(r != rendered.end()
                                     ? std::move(r->second)
                                     : cached_plain_locked(app.name, app.generation, json));
            }
        }
    }
    if (gzip) {
        finish_document(res, json, true, std::move(parts));
        return;
    }
    parts.push_back(std::move(head));
    std::vector<std::pair<const FullDocument::App*, std::shared_ptr<const std::string>>> inflated;
    for (std::size_t i = 0; i < apps.size(); ++i) {
        const auto& app = apps[i];
        if (json && i > 0) parts.push_back(kComma);
        if (plains[i]) {
            parts.push_back(std::move(plains[i]));
            continue;
        }
        std::string text;
        inflate_text(app.fragment, text);
        transient_bytes_.fetch_add(text.size(), std::memory_order_relaxed);
        auto plain = std::make_shared<const std::string>(std::move(text));
        parts.push_back(plain);
        inflated.emplace_back(&app, std::move(plain));
    }
    parts.push_back(tail);
    if (!inflated.empty()) {
        std::lock_guard lock(cache_mu_);
        for (auto& [app, plain] : inflated) {
            offer_plain_locked(app->name, app->generation, json, std::move(plain));
        }
    }
    finish_document(res, json, false, std::move(parts));
}

EurekaApi::CacheStats EurekaApi::cache_stats() const {
    CacheStats stats;
    std::lock_guard lock(cache_mu_);
    for (const auto& [name, entry] : apps_cache_) {
        if (entry.json.data) {
            ++stats.json_apps;
            stats.deflated_bytes += entry.json.data->size();
        }
        if (entry.xml.data) {
            ++stats.xml_apps;
            stats.deflated_bytes += entry.xml.data->size();
        }
    }
    for (const auto& copies : plain_) stats.plain_copies += copies.size();
    stats.plain_bytes = plain_bytes_;
    return stats;
}

void EurekaApi::finish_document(http::Response& res, bool json, bool gzip,
                                std::vector<std::shared_ptr<const std::string>> parts) {
    res.status = 200;
    res.content_type = json ? kJson : kXml;
    res.parts = std::move(parts);
    if (gzip) res.add_header("Content-Encoding", "gzip");
    res.add_header("Vary", "Accept, Accept-Encoding");
}

std::string EurekaApi::render_metrics() const {
    std::string out;
    const auto& c = registry_.counters();
    auto counter = [&out](std::string_view name, std::string_view help, std::uint64_t v) {
        metric_header(out, name, "counter", help);
        metric_sample(out, name, "", static_cast<double>(v));
    };
    counter("orquestra_registry_registrations_total", "Instance registrations.",
            c.registrations.load());
    counter("orquestra_registry_renewals_total", "Successful lease renewals.", c.renewals.load());
    counter("orquestra_registry_renewals_not_found_total",
            "Renewals answered 404 (the client registers again).", c.renewals_not_found.load());
    counter("orquestra_registry_cancels_total", "Instance cancellations.", c.cancels.load());
    counter("orquestra_registry_evictions_total", "Leases evicted after expiry.",
            c.evictions.load());
    counter("orquestra_registry_status_updates_total", "Status overrides set or removed.",
            c.status_updates.load());
    counter("orquestra_registry_health_probes_total", "Health-check probes made.",
            c.health_probes.load());
    counter("orquestra_registry_health_probe_failures_total",
            "Health-check probes that failed (no 2xx answer in time).",
            c.health_probe_failures.load());
    counter("orquestra_registry_health_marked_down_total",
            "Instances marked DOWN by failing health checks.", c.health_marked_down.load());
    counter("orquestra_registry_health_marked_up_total",
            "Instances brought back UP by passing health checks.", c.health_marked_up.load());
    auto s = registry_.summary();
    metric_header(out, "orquestra_registry_instances", "gauge", "Registered instances by status.");
    for (std::string_view status : {"UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN"}) {
        auto it = s.by_status.find(std::string(status));
        metric_sample(out, "orquestra_registry_instances", fmt::format("status=\"{}\"", status),
                      it == s.by_status.end() ? 0.0 : static_cast<double>(it->second));
    }
    metric_header(out, "orquestra_registry_apps", "gauge", "Applications with instances.");
    metric_sample(out, "orquestra_registry_apps", "", static_cast<double>(s.apps));
    metric_header(out, "orquestra_registry_self_preservation_enabled", "gauge",
                  "1 when self-preservation is switched on.");
    metric_sample(out, "orquestra_registry_self_preservation_enabled", "",
                  registry_.options().self_preservation ? 1 : 0);
    metric_header(out, "orquestra_registry_self_preservation_active", "gauge",
                  "1 while expired leases are being held by self-preservation.");
    metric_sample(out, "orquestra_registry_self_preservation_active", "",
                  s.self_preservation_active ? 1 : 0);
    metric_header(out, "orquestra_registry_expired_held", "gauge",
                  "Expired leases held by self-preservation.");
    metric_sample(out, "orquestra_registry_expired_held", "", static_cast<double>(s.expired_held));
    metric_header(out, "orquestra_registry_renews_last_minute", "gauge",
                  "Renewals received in the last 60 seconds.");
    metric_sample(out, "orquestra_registry_renews_last_minute", "",
                  static_cast<double>(s.renews_last_minute));
    metric_header(out, "orquestra_registry_expected_renews_per_minute", "gauge",
                  "Renewals per minute the registered instances should send.");
    metric_sample(out, "orquestra_registry_expected_renews_per_minute", "",
                  static_cast<double>(s.expected_renews_per_minute));
    const auto cache = cache_stats();
    metric_header(out, "orquestra_registry_rendering_cache_bytes", "gauge",
                  "Bytes of cached app renderings, compressed and plain copies.");
    metric_sample(out, "orquestra_registry_rendering_cache_bytes", "form=\"deflated\"",
                  static_cast<double>(cache.deflated_bytes));
    metric_sample(out, "orquestra_registry_rendering_cache_bytes", "form=\"plain\"",
                  static_cast<double>(cache.plain_bytes));
    metric_header(out, "orquestra_registry_http_requests_total", "counter",
                  "HTTP requests answered, by status class.");
    for (std::size_t i = 1; i < status_classes_.size(); ++i) {
        metric_sample(out, "orquestra_registry_http_requests_total",
                      fmt::format("code=\"{}xx\"", i),
                      static_cast<double>(status_classes_[i].load()));
    }
    if (sink_ != nullptr) sink_->render_metrics(out);
    metric_header(out, "orquestra_registry_request_duration_seconds", "histogram",
                  "Time to handle a request, by operation (excluding network I/O).");
    for (std::size_t r = 0; r < latency_.size(); ++r) {
        if (latency_[r].count() == 0) continue;
        latency_[r].render(out, "orquestra_registry_request_duration_seconds",
                           fmt::format("operation=\"{}\"", route_name(static_cast<int>(r))));
    }
    return out;
}

std::string EurekaApi::render_status_page() const {
    auto apps = registry_.all_applications();
    auto s = registry_.summary();
    Millis now = registry_.clock().now_ms();
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::steady_clock::now() - started_)
                      .count();
    std::string out;
    out.reserve(4096 + s.instances * 300);
    out +=
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
        "content=\"5\"><title>Orquestra registry</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse;margin-top:1em}td,th{border:1px solid #ccc;"
        "padding:4px 10px;text-align:left}th{background:#f3f3f3}"
        ".UP{color:#16794a;font-weight:bold}.DOWN,.OUT_OF_SERVICE{color:#b3261e;"
        "font-weight:bold}.STARTING,.UNKNOWN{color:#8a6d00}</style></head><body>"
        "<h1>Orquestra registry</h1>";
    out += fmt::format(
        "<p>Version {} &middot; up {} s &middot; {} apps &middot; {} instances &middot; "
        "renewals in the last minute: {} (expected about {}) &middot; self-preservation: {}{}</p>",
        xml_escape(options_.version), uptime, s.apps, s.instances, s.renews_last_minute,
        s.expected_renews_per_minute,
        registry_.options().self_preservation ? "on" : "off",
        s.self_preservation_active
            ? fmt::format(" &mdash; <b>ACTIVE, holding {} expired leases</b>", s.expired_held)
            : "");
    out += "<table><tr><th>Application</th><th>Instance</th><th>Status</th><th>Zone</th>"
           "<th>Address</th><th>Last renewal</th></tr>";
    if (apps.applications.empty()) {
        out += "<tr><td colspan=\"6\">No instances registered.</td></tr>";
    }
    for (const auto& app : apps.applications) {
        bool first = true;
        for (const auto& i : app.instances) {
            const std::string* zone = i.find_metadata("zone");
            std::string zone_text = zone ? *zone : "";
            if (zone_text.empty()) {
                for (const auto& [k, v] : i.data_center_metadata) {
                    if (k == "availability-zone") zone_text = v;
                }
            }
            out += "<tr>";
            if (first) {
                out += fmt::format("<td rowspan=\"{}\">{}</td>", app.instances.size(),
                                   xml_escape(app.name));
                first = false;
            }
            auto status = to_string(i.status);
            out += fmt::format(
                "<td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}:{}</td><td>{}</td></tr>",
                xml_escape(i.id()), status, status, xml_escape(zone_text.empty() ? "default" : zone_text),
                xml_escape(i.ip_addr), i.port.port,
                format_age(now - i.lease.last_renewal_timestamp));
        }
    }
    out += "</table><p>Eureka REST API under <code>/eureka/v2/</code> and <code>/eureka/</code>; "
           "metrics at <a href=\"/metrics\">/metrics</a>.</p></body></html>";
    return out;
}

}  // namespace orquestra::registry
