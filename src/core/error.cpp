#include "core/error.hpp"

#include <stdexcept>

namespace orquestra {

std::string_view to_string(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument: return "invalid argument";
        case ErrorCode::kUnauthorized: return "unauthorized";
        case ErrorCode::kForbidden: return "forbidden";
        case ErrorCode::kNotFound: return "not found";
        case ErrorCode::kConflict: return "conflict";
        case ErrorCode::kTooLarge: return "too large";
        case ErrorCode::kUnavailable: return "unavailable";
        case ErrorCode::kTimeout: return "timeout";
        case ErrorCode::kInternal: return "internal";
    }
    return "unknown";
}

int http_status_for(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidArgument: return 400;
        case ErrorCode::kUnauthorized: return 401;
        case ErrorCode::kForbidden: return 403;
        case ErrorCode::kNotFound: return 404;
        case ErrorCode::kConflict: return 409;
        case ErrorCode::kTooLarge: return 413;
        case ErrorCode::kUnavailable: return 503;
        case ErrorCode::kTimeout: return 504;
        case ErrorCode::kInternal: return 500;
    }
    return 500;
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
    throw std::runtime_error(std::string(to_string(e.code)) + ": " + e.message);
}

}  // namespace orquestra
