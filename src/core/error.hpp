#pragma once
// Error values shared by every module. Expected failures travel as Result<T>; exceptions never
// cross a module boundary.

#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace orquestra {

enum class ErrorCode {
    kInvalidArgument,  // bad input from outside: maps to 400
    kUnauthorized,     // no or wrong credentials: 401
    kForbidden,        // authenticated but not allowed: 403
    kNotFound,         // 404
    kConflict,         // 409
    kTooLarge,         // 413
    kUnavailable,      // a dependency is down or refused: 503
    kTimeout,          // 504
    kInternal,         // a bug or an unexpected failure: 500
};

struct Error {
    ErrorCode code = ErrorCode::kInternal;
    std::string message;
};

std::string_view to_string(ErrorCode code);
// The HTTP status an error answers with (the mapping listed above), for every HTTP API.
int http_status_for(ErrorCode code);

// boost::system::result needs a way to throw when value() is called on an error.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T = void>
using Result = boost::system::result<T, Error>;

}  // namespace orquestra
