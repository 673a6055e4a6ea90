// Eureka JSON codec: every reader on arbitrary bytes, and the codec's promise that whatever it
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
    if (auto info = parse_instance_json(body)) {
        std::string out;
        write_instance_json(*info, out);
        must(parse_instance_json(out).has_value(), "instance", out);
    }
    if (auto app = parse_application_json(body)) {
        std::string out;
        write_application_json(*app, out);
        must(parse_application_json(out).has_value(), "application", out);
    }
    if (auto apps = parse_applications_json(body)) {
        std::string out;
        write_applications_json(*apps, out);
        must(parse_applications_json(out).has_value(), "applications", out);
    }
    return 0;
}
