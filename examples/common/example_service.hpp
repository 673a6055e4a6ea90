#pragma once
// What the two example services (servico_usuarios, servico_mensagens) share: their command
// line, an HttpServer on an IoPool, registration with the registry through
// discovery::EurekaClient, JSON answers, and a clean stop on SIGINT/SIGTERM.
//
// run_service() owns the process from flag parsing to exit. Once the port is bound it prints
// exactly one line to stdout, and flushes it, so a parent process can learn the port:
//
//     servico_usuarios listening on http://127.0.0.1:5001 (registered as SERVICO_USUARIOS)
//
// Everything else (spdlog, CLI11's help and errors) goes to stderr. Registration happens in the
// background: a registry that is down at start is retried until it answers (EurekaClient logs
// a warning per failed attempt) while the service keeps serving. A registry that asks for
// credentials gets them from $ORQUESTRA_REGISTRY_AUTH (user:password), or from the --registry
// URL (http://user:password@host:8761/eureka).
//
// Handlers run on the server's event loop, possibly on several connections at once: they must
// not block and must guard shared state themselves.
//
// Exit codes: 0 after SIGINT or SIGTERM (deregistered, then stopped), 1 when the address cannot
// be bound, 2 on bad flags.

#include "http/message.hpp"
#include "http/server.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace orquestra::examples {

struct ServiceSpec {
    std::string name;  // "servico_usuarios": the program, the logger; upper-cased, the app name
    std::uint16_t default_port = 0;
    std::string description;  // for --help
};

int run_service(int argc, char** argv, const ServiceSpec& spec, http::SyncHandler handler);

inline constexpr std::string_view kJsonType = "application/json; charset=utf-8";

// `value` as the whole answer.
void reply_json(http::Response& res, int status, const boost::json::value& value);
// {"erro": "<message>"}
void reply_error(http::Response& res, int status, std::string_view message);
// 404 {"erro": "caminho não encontrado: <path>"}
void reply_unknown_path(const http::Request& req, http::Response& res);
// 405 {"erro": "método <M> não permitido em <path>"} with an Allow header.
void reply_wrong_method(const http::Request& req, http::Response& res, std::string_view allow);

}  // namespace orquestra::examples
