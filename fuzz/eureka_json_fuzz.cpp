// Eureka JSON codec: every reader on arbitrary bytes, and what it reads writes back readably.
#include "codec_roundtrip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace orquestra::registry;
    using orquestra::fuzz::round_trip;
    const std::string_view body = orquestra::fuzz::as_text(data, size);
    round_trip(body, parse_instance_json, write_instance_json, "instance");
    round_trip(body, parse_application_json, write_application_json, "application");
    round_trip(body, parse_applications_json, write_applications_json, "applications");
    return 0;
}
