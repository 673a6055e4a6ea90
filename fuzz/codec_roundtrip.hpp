#pragma once
// What the Eureka codec fuzz targets check for each document kind of one format: the reader on
// arbitrary bytes, and the codec's promise that whatever it reads it writes back as a document
// it reads again (eureka_json_fuzz.cpp, eureka_xml_fuzz.cpp).

#include "registry/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace orquestra::fuzz {

template <class Document>
void round_trip(std::string_view body, Result<Document> (*parse)(std::string_view),
                void (*write)(const Document&, std::string&), const char* what) {
    auto doc = parse(body);
    if (!doc) return;
    std::string out;
    write(*doc, out);
    if (parse(out)) return;
    std::fprintf(stderr, "%s: written document does not read back:\n%s\n", what, out.c_str());
    std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace orquestra::fuzz
