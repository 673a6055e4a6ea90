#include "registry/stored_instance.hpp"

#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <unordered_set>

namespace orquestra::registry {

// Reference count, length and hash, then the characters.
struct StoredInstance::Node {
    std::uint32_t refs = 0;
    std::uint32_t size = 0;
    std::size_t hash = 0;
    std::string_view view() const { return {reinterpret_cast<const char*>(this + 1), size}; }
};

namespace {

using Node = StoredInstance::Node;

// Stands for the host name inside a URL. A URL that already holds it is kept as it is.
constexpr char kHostMark = '\x01';

// The process's interned strings. Counts change only under the mutex, so a string is freed
// exactly when its last holder lets go, whichever thread that is.
class StringPool {
public:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
        std::size_t operator()(const Node* n) const noexcept { return n->hash; }
    };
    struct Equal {
        using is_transparent = void;
        static std::string_view view(std::string_view s) { return s; }
        static std::string_view view(const Node* n) { return n->view(); }
        template <class A, class B>
        bool operator()(const A& a, const B& b) const noexcept {
            return view(a) == view(b);
        }
    };

    std::mutex mu;

    // Empty strings are not interned (null stands for them).
    const Node* intern_locked(std::string_view s) {
        if (s.empty()) return nullptr;
        const std::size_t hash = Hash{}(s);
        if (auto it = set_.find(s); it != set_.end()) {
            ++(*it)->refs;
            return *it;
        }
        void* memory = ::operator new(sizeof(Node) + s.size());
        auto* node = new (memory) Node{1, static_cast<std::uint32_t>(s.size()), hash};
        std::memcpy(node + 1, s.data(), s.size());
        set_.insert(node);
        return node;
    }

    void release_locked(const Node* node) {
        if (node == nullptr) return;
        auto* n = const_cast<Node*>(node);
        if (--n->refs > 0) return;
        set_.erase(n);
        n->~Node();
        ::operator delete(n);
    }

    std::size_t size_locked() const { return set_.size(); }

private:
    std::unordered_set<Node*, Hash, Equal> set_;
};

// Never destroyed: instances held by other statics may outlive it otherwise.
StringPool& pool() {
    static auto* p = new StringPool;
    return *p;
}

std::string_view view_of(const Node* n) { return n == nullptr ? std::string_view() : n->view(); }

}  // namespace

std::shared_ptr<const StoredInstance> StoredInstance::make(const InstanceInfo& info) {
    auto s = std::make_shared<StoredInstance>(Private{});
    s->status = info.status;
    s->last_dirty_timestamp = info.last_dirty_timestamp;
    s->lease = info.lease;
    s->last_updated_timestamp_ = info.last_updated_timestamp;
    s->port_ = info.port;
    s->secure_port_ = info.secure_port;
    s->country_id_ = info.country_id;
    s->overridden_status_ = info.overridden_status;
    s->action_type_ = info.action_type;
    s->is_coordinating_discovery_server_ = info.is_coordinating_discovery_server;

    s->id_size_ = static_cast<std::uint32_t>(info.instance_id.size());
    s->host_size_ = static_cast<std::uint32_t>(info.host_name.size());
    s->ip_size_ = static_cast<std::uint32_t>(info.ip_addr.size());
    const std::size_t text_size = info.instance_id.size() + info.host_name.size() +
                                  info.ip_addr.size();
    if (text_size > 0) {
        s->text_ = std::make_unique_for_overwrite<char[]>(text_size);
        char* p = s->text_.get();
        for (const std::string* part : {&info.instance_id, &info.host_name, &info.ip_addr}) {
            std::memcpy(p, part->data(), part->size());
            p += part->size();
        }
    }

    // URLs with the host name taken out, so that instances of an app share them.
    const std::string* urls[] = {&info.home_page_url, &info.status_page_url,
                                 &info.health_check_url, &info.secure_health_check_url};
    std::string templates[4];
    for (int i = 0; i < 4; ++i) {
        const std::string& url = *urls[i];
        const auto at = info.host_name.empty() ? std::string::npos : url.find(info.host_name);
        if (at == std::string::npos || url.find(kHostMark) != std::string::npos) continue;
        templates[i] = url;
        templates[i].replace(at, info.host_name.size(), 1, kHostMark);
        s->host_in_url_ |= static_cast<std::uint16_t>(1u << i);
    }
    auto url_text = [&](int i) -> std::string_view {
        return (s->host_in_url_ & (1u << i)) != 0 ? std::string_view(templates[i])
                                                   : std::string_view(*urls[i]);
    };

    s->metadata_size_ = static_cast<std::uint32_t>(info.metadata.size());
    s->dc_metadata_size_ = static_cast<std::uint32_t>(info.data_center_metadata.size());
    const std::size_t entries = info.metadata.size() + info.data_center_metadata.size();
    if (entries > 0) s->entries_ = std::make_unique<Entry[]>(entries);

    StringPool& strings = pool();
    std::lock_guard lock(strings.mu);
    s->fields_[kApp] = strings.intern_locked(info.app);
    s->fields_[kAppGroupName] = strings.intern_locked(info.app_group_name);
    s->fields_[kSid] = strings.intern_locked(info.sid);
    s->fields_[kDataCenterClass] = strings.intern_locked(info.data_center_class);
    s->fields_[kDataCenterName] = strings.intern_locked(info.data_center_name);
    s->fields_[kHomePageUrl] = strings.intern_locked(url_text(0));
    s->fields_[kStatusPageUrl] = strings.intern_locked(url_text(1));
    s->fields_[kHealthCheckUrl] = strings.intern_locked(url_text(2));
    s->fields_[kSecureHealthCheckUrl] = strings.intern_locked(url_text(3));
    s->fields_[kVipAddress] = strings.intern_locked(info.vip_address);
    s->fields_[kSecureVipAddress] = strings.intern_locked(info.secure_vip_address);
    s->fields_[kAsgName] = strings.intern_locked(info.asg_name);
    std::size_t e = 0;
    for (const Metadata* map : {&info.metadata, &info.data_center_metadata}) {
        for (const auto& [key, value] : *map) {
            s->entries_[e].key = strings.intern_locked(key);
            s->entries_[e].value = strings.intern_locked(value);
            ++e;
        }
    }
    return s;
}

StoredInstance::~StoredInstance() {
    StringPool& strings = pool();
    std::lock_guard lock(strings.mu);
    for (const Node* node : fields_) strings.release_locked(node);
    const std::size_t entries = std::size_t{metadata_size_} + dc_metadata_size_;
    for (std::size_t e = 0; e < entries; ++e) {
        strings.release_locked(entries_[e].key);
        strings.release_locked(entries_[e].value);
    }
}

std::string_view StoredInstance::field(Field f) const { return view_of(fields_[f]); }
std::string_view StoredInstance::app() const { return field(kApp); }
std::string_view StoredInstance::vip_address() const { return field(kVipAddress); }
std::string_view StoredInstance::secure_vip_address() const { return field(kSecureVipAddress); }

std::size_t StoredInstance::interned_count() {
    StringPool& strings = pool();
    std::lock_guard lock(strings.mu);
    return strings.size_locked();
}

InstanceInfo StoredInstance::expand() const {
    InstanceInfo info;
    info.instance_id.assign(instance_id());
    info.host_name.assign(host_name());
    info.ip_addr.assign(text_.get() + id_size_ + host_size_, ip_size_);
    info.app.assign(field(kApp));
    info.app_group_name.assign(field(kAppGroupName));
    info.sid.assign(field(kSid));
    info.status = status;
    info.overridden_status = overridden_status_;
    info.port = port_;
    info.secure_port = secure_port_;
    info.country_id = country_id_;
    info.data_center_class.assign(field(kDataCenterClass));
    info.data_center_name.assign(field(kDataCenterName));
    info.lease = lease;
    const Field url_fields[] = {kHomePageUrl, kStatusPageUrl, kHealthCheckUrl,
                                kSecureHealthCheckUrl};
    std::string* urls[] = {&info.home_page_url, &info.status_page_url, &info.health_check_url,
                           &info.secure_health_check_url};
    for (int i = 0; i < 4; ++i) {
        const std::string_view text = field(url_fields[i]);
        if ((host_in_url_ & (1u << i)) == 0) {
            urls[i]->assign(text);
            continue;
        }
        const auto mark = text.find(kHostMark);
        urls[i]->reserve(text.size() + host_size_);
        urls[i]->assign(text.substr(0, mark));
        urls[i]->append(host_name());
        urls[i]->append(text.substr(mark + 1));
    }
    info.vip_address.assign(field(kVipAddress));
    info.secure_vip_address.assign(field(kSecureVipAddress));
    info.is_coordinating_discovery_server = is_coordinating_discovery_server_;
    info.last_updated_timestamp = last_updated_timestamp_;
    info.last_dirty_timestamp = last_dirty_timestamp;
    info.action_type = action_type_;
    info.asg_name.assign(field(kAsgName));
    info.metadata.reserve(metadata_size_);
    info.data_center_metadata.reserve(dc_metadata_size_);
    const std::size_t entries = std::size_t{metadata_size_} + dc_metadata_size_;
    for (std::size_t e = 0; e < entries; ++e) {
        auto& map = e < metadata_size_ ? info.metadata : info.data_center_metadata;
        map.emplace_back(std::string(view_of(entries_[e].key)),
                         std::string(view_of(entries_[e].value)));
    }
    return info;
}

}  // namespace orquestra::registry
