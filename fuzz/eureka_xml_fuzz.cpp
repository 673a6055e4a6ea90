// Eureka XML codec: every reader on arbitrary bytes, and what it reads writes back readably.
#include "codec_roundtrip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace orquestra::registry;
    using orquestra::fuzz::round_trip;
    const std::string_view body = orquestra::fuzz::as_text(data, size);
    round_trip(body, parse_instance_xml, write_instance_xml, "instance");
    round_trip(body, parse_application_xml, write_application_xml, "application");
    round_trip(body, parse_applications_xml, write_applications_xml, "applications");
    return 0;
}
