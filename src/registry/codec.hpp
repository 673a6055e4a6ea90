#pragma once
// Eureka's wire formats: InstanceInfo, Application and Applications in JSON and XML, read the
// way Eureka's server and clients read them and written byte-compatible with what a Eureka
// server sends (shared/design/EUREKA.md §3, §4, §7).
//
// Readers are lenient about types (numbers or strings for integers and timestamps, booleans or
// strings for flags, old-style ports, either `overriddenstatus` spelling, single objects where
// arrays belong) and strict about structure: malformed documents and values that cannot be
// coerced yield Error{kInvalidArgument, "<field>: <reason>"}. They never throw; hostile input
// (deep nesting, huge numbers, invalid UTF-8, garbage) is an error, not a crash.
//
// Readers leave fields that are absent from the document at the InstanceInfo defaults, except
// host_name, ip_addr, app, data_center_class and data_center_name, which stay EMPTY when absent
// so that the registry can tell "missing" from "default" when it validates a registration.
// `app` is upper-cased. XML metadata element names are decoded the way XStream encodes them
// (`__` -> `_`, `_-` -> `$`).
//
// Writers append to `out` (callers reserve) and never fail. Output is compact (no whitespace
// between elements), without an XML declaration, in Eureka's field order; text is escaped and
// invalid UTF-8 is replaced by U+FFFD so that the document always parses. The data center is
// written as AmazonInfo (with its metadata) when its name is "Amazon" or its class is
// com.netflix.appinfo.AmazonInfo, otherwise as DefaultDataCenterInfo, as a Eureka server does;
// the stored data_center_class is not echoed. In XML, metadata keys are encoded as XStream
// does (`_` -> `__`, `$` -> `_-`); a key that still cannot be an XML element name (a space, a
// leading digit, non-ASCII…) is left out of the XML rendering rather than breaking the document.
//
// All functions are thread-safe (no shared state).

#include "core/error.hpp"
#include "registry/model.hpp"

#include <string>
#include <string_view>

namespace orquestra::registry {

// Input: accepts {"instance":{...}} or a bare instance object; XML <instance>...</instance>.
Result<InstanceInfo> parse_instance_json(std::string_view body);
Result<InstanceInfo> parse_instance_xml(std::string_view body);

// Full registry, delta and VIP documents: {"applications":{...}} / <applications>.
Result<Applications> parse_applications_json(std::string_view body);
Result<Applications> parse_applications_xml(std::string_view body);

// One application: {"application":{...}} / <application>.
Result<Application> parse_application_json(std::string_view body);
Result<Application> parse_application_xml(std::string_view body);

// Output, appended to `out`.
void write_instance_json(const InstanceInfo& info, std::string& out);  // {"instance":{...}}
void write_instance_xml(const InstanceInfo& info, std::string& out);   // <instance>...</instance>
// {"application":{"name":..,"instance":[...]}}
void write_application_json(const Application& app, std::string& out);
// The app object without the {"application": …} wrapper, as it stands in a full document.
void write_application_object_json(const Application& app, std::string& out);
void write_application_xml(const Application& app, std::string& out);
// {"applications":{"versions__delta":"1","apps__hashcode":"..","application":[...]}}
void write_applications_json(const Applications& apps, std::string& out);
void write_applications_xml(const Applications& apps, std::string& out);

}  // namespace orquestra::registry
