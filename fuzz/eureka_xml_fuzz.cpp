// Eureka XML codec: every reader on arbitrary bytes, and the codec's promise that whatever it
// reads it writes back as a document it reads again.
#include "registry/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace orquestra::registry;

void must(bool ok, const char* what, const std::string& doc) {
    if (ok) return;
    std::fprintf(stderr, "%s: written document does not read back:\n%s\n", what, doc.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    if (auto info = parse_instance_xml(body)) {
        std::string out;
        write_instance_xml(*info, out);
        must(parse_instance_xml(out).has_value(), "instance", out);
    }
    if (auto app = parse_application_xml(body)) {
        std::string out;
        write_application_xml(*app, out);
        must(parse_application_xml(out).has_value(), "application", out);
    }
    if (auto apps = parse_applications_xml(body)) {
        std::string out;
        write_applications_xml(*apps, out);
        must(parse_applications_xml(out).has_value(), "applications", out);
    }
    return 0;
}
