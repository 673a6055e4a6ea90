#pragma once
// StoredInstance: an InstanceInfo as the registry keeps it — compact and immutable.
//
// At 100k instances the registry's memory is mostly the instances' text, and most of it
// repeats: app names, VIP addresses, data-center names, metadata keys and values, and URLs
// that differ only by the instance's host name. A StoredInstance keeps each such value once per
// process (an interned, reference-counted string shared by every instance that holds it), URLs
// with the host name taken out (so `http://HOST:8080/info` is one string for a whole app), and
// the values that are the instance's own (id, host name, address) in one small allocation.
// expand() gives the InstanceInfo back, equal to the one it was made from.
//
// Thread-safe: a StoredInstance never changes after make(); the interned strings are counted
// under the pool's own mutex, so instances may be made and destroyed on any thread.

#include "registry/model.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace orquestra::registry {

class StoredInstance {
public:
    static std::shared_ptr<const StoredInstance> make(const InstanceInfo& info);
    ~StoredInstance();
    StoredInstance(const StoredInstance&) = delete;
    StoredInstance& operator=(const StoredInstance&) = delete;

    InstanceInfo expand() const;

    std::string_view instance_id() const { return {text_.get(), id_size_}; }
    std::string_view host_name() const { return {text_.get() + id_size_, host_size_}; }
    std::string_view app() const;
    std::string_view vip_address() const;
    std::string_view secure_vip_address() const;

    // Plain fields, as in InstanceInfo.
    InstanceStatus status = InstanceStatus::kUp;
    Millis last_dirty_timestamp = 0;
    LeaseInfo lease;

    // Distinct interned strings alive in the process (for tests and diagnostics).
    static std::size_t interned_count();

    struct Node;  // an interned string (defined in the .cpp)

private:
    struct Private {};

public:
    explicit StoredInstance(Private) {}

private:

    enum Field : std::uint8_t {
        kApp, kAppGroupName, kSid, kDataCenterClass, kDataCenterName, kHomePageUrl,
        kStatusPageUrl, kHealthCheckUrl, kSecureHealthCheckUrl, kVipAddress, kSecureVipAddress,
        kAsgName, kFieldCount
    };
    struct Entry {
        const Node* key = nullptr;
        const Node* value = nullptr;
    };

    std::string_view field(Field f) const;

    // id, host name and address, one after the other.
    std::unique_ptr<char[]> text_;
    std::uint32_t id_size_ = 0;
    std::uint32_t host_size_ = 0;
    std::uint32_t ip_size_ = 0;
    // Metadata, then the data center's metadata; keys and values interned.
    std::uint32_t metadata_size_ = 0;
    std::uint32_t dc_metadata_size_ = 0;
    std::unique_ptr<Entry[]> entries_;
    const Node* fields_[kFieldCount] = {};
    Millis last_updated_timestamp_ = 0;
    PortInfo port_;
    PortInfo secure_port_;
    int country_id_ = 1;
    std::uint16_t host_in_url_ = 0;  // bit per URL field: the host was taken out of it
    InstanceStatus overridden_status_ = InstanceStatus::kUnknown;
    ActionType action_type_ = ActionType::kAdded;
    bool is_coordinating_discovery_server_ = false;
};

}  // namespace orquestra::registry
