// servico_mensagens: the seed lesson's message service. "Sends" a message to a group (logs it
// and keeps it in memory) and lists what was sent; registers in the registry as
// SERVICO_MENSAGENS.
//
//   POST /enviar_mensagem  body {"usuario_id": <integer >= 1>, "grupo": <text, 1..100 chars>,
//                          "mensagem": <text, 1..10000 chars>} (other fields are ignored; text
//                          made only of spaces counts as empty)
//                          200 {"status": "enviada", "usuario_id", "grupo", "mensagem", "id"}
//                          and the log line "Mensagem enviada para o grupo '<g>': <mensagem>"
//                          400 {"erro": "<reason naming the field>"} for any other body
//   GET /mensagens[?grupo=G]  200 {"grupo": G or null, "mensagens": [{"id", "usuario_id",
//                          "grupo", "mensagem", "enviada_em"}]}, oldest first
//   GET /health            200 {"status": "UP"}
//
// Only the most recent 1 000 messages are kept. Other paths are 404 and other methods 405,
// with a JSON {"erro": ...}. Flags: see common/example_service.hpp (--port defaults to 5002).

#include "common/example_service.hpp"

#include "core/json_kind.hpp"
#include "core/strings.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace {

namespace json = boost::json;
namespace examples = orquestra::examples;
using orquestra::http::Request;
using orquestra::http::Response;

constexpr std::size_t kMaxKept = 1'000;  // bounds a listing: at most 1 000 × 10 000 chars
constexpr std::size_t kMaxGroupChars = 100;
constexpr std::size_t kMaxMessageChars = 10'000;

struct Message {
    std::int64_t id = 0;
    std::int64_t usuario_id = 0;
    std::string grupo;
    std::string mensagem;
    std::string enviada_em;
};

// "2024-03-01T09:26:27.123Z"
std::string utc_now() {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
    const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                       ms.count() % 1000);
}

json::object to_json(const Message& m) {
    return json::object{{"id", m.id},
                        {"usuario_id", m.usuario_id},
                        {"grupo", m.grupo},
                        {"mensagem", m.mensagem},
                        {"enviada_em", m.enviada_em}};
}

// The sent messages, bounded. Called from the server's connections: one mutex, short holds.
class Outbox {
  public:
    Message add(std::int64_t usuario_id, std::string grupo, std::string mensagem) {
        Message m{0, usuario_id, std::move(grupo), std::move(mensagem), utc_now()};
        std::lock_guard lock(mu_);
        m.id = next_id_++;
        messages_.push_back(m);
        if (messages_.size() > kMaxKept) messages_.pop_front();
        return m;
    }

    json::array list(const std::optional<std::string>& grupo) const {
        json::array out;
        std::lock_guard lock(mu_);
        for (const auto& m : messages_) {
            if (!grupo || m.grupo == *grupo) out.push_back(to_json(m));
        }
        return out;
    }

  private:
    mutable std::mutex mu_;
    std::deque<Message> messages_;
    std::int64_t next_id_ = 1;
};

struct Request400 {
    std::string reason;
};

std::variant<Request400, std::string> text_field(const json::object& body, std::string_view name,
                                                 std::size_t max_chars) {
    const json::value* v = body.if_contains(name);
    if (v == nullptr) return Request400{fmt::format("campo '{}' ausente", name)};
    if (!v->is_string()) {
        return Request400{fmt::format("campo '{}' deve ser um texto, não {}", name,
                                      orquestra::json_kind_name(*v))};
    }
    std::string text(v->as_string());
    if (orquestra::trim(text).empty()) {
        return Request400{fmt::format("campo '{}' não pode ser vazio", name)};
    }
    if (orquestra::utf8_length(text) > max_chars) {
        return Request400{
            fmt::format("campo '{}' é longo demais (máximo de {} caracteres)", name, max_chars)};
    }
    return text;
}

void send_message(Outbox& outbox, const Request& req, Response& res) {
    boost::system::error_code ec;
    json::value parsed = json::parse(req.body(), ec);
    if (ec) return examples::reply_error(res, 400, "o corpo não é JSON válido: " + ec.message());
    if (!parsed.is_object()) {
        return examples::reply_error(res, 400,
                                     fmt::format("o corpo deve ser um objeto JSON, não {}",
                                                 orquestra::json_kind_name(parsed)));
    }
    const json::object& body = parsed.as_object();

    const json::value* id = body.if_contains("usuario_id");
    if (id == nullptr) return examples::reply_error(res, 400, "campo 'usuario_id' ausente");
    if (!id->is_int64() || id->as_int64() < 1) {
        return examples::reply_error(
            res, 400,
            fmt::format("campo 'usuario_id' deve ser um inteiro positivo, não {}",
                        id->is_number() ? json::serialize(*id)
                                        : std::string(orquestra::json_kind_name(*id))));
    }
    auto grupo = text_field(body, "grupo", kMaxGroupChars);
    if (auto* bad = std::get_if<Request400>(&grupo)) {
        return examples::reply_error(res, 400, bad->reason);
    }
    auto mensagem = text_field(body, "mensagem", kMaxMessageChars);
    if (auto* bad = std::get_if<Request400>(&mensagem)) {
        return examples::reply_error(res, 400, bad->reason);
    }

    Message m = outbox.add(id->as_int64(), std::move(std::get<std::string>(grupo)),
                           std::move(std::get<std::string>(mensagem)));
    spdlog::info("Mensagem enviada para o grupo '{}': {}", m.grupo, m.mensagem);
    examples::reply_json(res, 200,
                         json::object{{"status", "enviada"},
                                      {"usuario_id", m.usuario_id},
                                      {"grupo", m.grupo},
                                      {"mensagem", m.mensagem},
                                      {"id", m.id}});
}

void list_messages(const Outbox& outbox, const Request& req, Response& res) {
    auto grupo = req.query_param("grupo");
    json::object out;
    out["grupo"] = grupo ? json::value(*grupo) : json::value(nullptr);
    out["mensagens"] = outbox.list(grupo);
    examples::reply_json(res, 200, out);
}

}  // namespace

int main(int argc, char** argv) {
    Outbox outbox;
    auto handle = [&outbox](Request& req, Response& res) {
        using orquestra::http::beast_http::verb;
        const std::string_view path = req.path();
        if (path == "/enviar_mensagem") {
            if (req.method() != verb::post) return examples::reply_wrong_method(req, res, "POST");
            return send_message(outbox, req, res);
        }
        if (path == "/mensagens") {
            if (req.method() != verb::get) return examples::reply_wrong_method(req, res, "GET");
            return list_messages(outbox, req, res);
        }
        if (path == "/health") {
            if (req.method() != verb::get) return examples::reply_wrong_method(req, res, "GET");
            return examples::reply_json(res, 200, json::object{{"status", "UP"}});
        }
        examples::reply_unknown_path(req, res);
    };
    return examples::run_service(
        argc, argv,
        examples::ServiceSpec{
            "servico_mensagens", 5002,
            "Serviço de mensagens do exemplo: POST /enviar_mensagem, GET /mensagens, GET /health"},
        handle);
}
