#pragma once
// What the files of ApiServer share (api.cpp, console.cpp): one request's state, the JSON and
// problem answers, and running work on the engine loop or a worker pool. Not for other modules.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <spdlog/spdlog.h>

#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "api/api.hpp"
#include "api/shapes.hpp"
#include "core/error.hpp"
#include "http/message.hpp"

namespace orquestra::api {

namespace asio = boost::asio;
namespace json = boost::json;

struct ApiServer::Call {
    http::Request& req;
    http::Response& res;
    std::vector<std::string> segments;
    std::string instance;  // the request's path, for problem bodies
    // Set once authenticated: who asked, and whether through the console's session cookie.
    std::string username;
    bool by_session = false;
    std::string csrf_token;  // the session's, when by_session
};

inline void send_json(http::Response& res, const json::value& body, int status = 200) {
    res.set(status, "application/json", json::serialize(body));
}

inline void send_problem(http::Response& res, int status, std::string_view detail,
                         std::string_view instance) {
    res = http::Response{};
    res.set(status, "application/problem+json", problem_json(status, detail, instance));
    if (status == 401) res.add_header("WWW-Authenticate", "Basic realm=\"Orquestra\"");
}

inline void send_error(http::Response& res, const Error& error, std::string_view instance) {
    const int status = http_status_for(error.code);
    if (status >= 500) spdlog::error("API {}: {}", instance, error.message);
    send_problem(res, status, error.message, instance);
}

// Runs `f` on `ex` and completes the awaiting coroutine on its own executor with the result
// (or rethrows what `f` threw). A plain initiation rather than a coroutine lambda: g++ 12
// mishandles non-trivial captures of lambda coroutines in co_await expressions.
template <class Executor, class F>
auto run_on(Executor ex, F f) {
    using T = std::invoke_result_t<F&>;
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, T)>(
        [ex](auto handler, F fn) {
            asio::post(ex, [handler = std::move(handler), fn = std::move(fn)]() mutable {
                std::exception_ptr error;
                T value{};
                try {
                    value = fn();
                } catch (...) {
                    error = std::current_exception();
                }
                auto home = asio::get_associated_executor(handler);
                asio::post(home, [handler = std::move(handler), error,
                                  value = std::move(value)]() mutable {
                    std::move(handler)(error, std::move(value));
                });
            });
        },
        asio::use_awaitable, std::move(f));
}

template <class F>
asio::awaitable<std::invoke_result_t<F&>> ApiServer::on_loop(F f) {
    return run_on(engine_loop_.get_executor(), std::move(f));
}

template <class F>
asio::awaitable<std::invoke_result_t<F&, store::Store&>> ApiServer::on_reader(F f) {
    if (options_.readers.empty()) {
        return run_on(engine_loop_.get_executor(), [this, f = std::move(f)]() mutable {
            return f(store_);
        });
    }
    store::Store& reader =
        *options_.readers[next_reader_.fetch_add(1, std::memory_order_relaxed) %
                          options_.readers.size()];
    return run_on(readers_pool_.get_executor(),
                  [&reader, f = std::move(f)]() mutable { return f(reader); });
}

template <class F>
asio::awaitable<std::invoke_result_t<F&>> ApiServer::on_worker(F f) {
    return run_on(workers_.get_executor(), std::move(f));
}

template <class F>
asio::awaitable<std::invoke_result_t<F&>> ApiServer::on_password_worker(F f) {
    return run_on(password_workers_.get_executor(), std::move(f));
}

}  // namespace orquestra::api
