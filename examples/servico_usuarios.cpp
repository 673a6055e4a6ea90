// servico_usuarios: the seed lesson's user service. Answers who a user is and which groups they
// belong to, from a fixed table; registers in the registry as SERVICO_USUARIOS.
//
//   GET /usuarios/{id}  200 {"id": 1, "nome": "Ana", "grupos": ["admin"]}
//                       404 {"erro": "usuário <id> não encontrado"} for any other id, including
//                       ids that are not numbers ("abc", "1.5", "-1"): to a caller they name no
//                       user, exactly like 99 does, so they get the same answer
//   GET /health         200 {"status": "UP"}
//
// Other paths are 404 and other methods 405, both with a JSON {"erro": ...}. Flags: see
// common/example_service.hpp (--port defaults to 5001).

#include "common/example_service.hpp"

#include "core/strings.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace {

namespace json = boost::json;
namespace examples = orquestra::examples;
using orquestra::http::Request;
using orquestra::http::Response;

struct User {
    std::int64_t id;
    std::string_view nome;
    std::array<std::string_view, 2> grupos;  // empty entries are unused
};

constexpr std::array<User, 3> kUsers{{
    {1, "Ana", {"admin", ""}},
    {2, "Bruno", {"admin", "vendas"}},
    {3, "Carla", {"vendas", ""}},
}};

// Only plain decimal digits name a user; anything else (signs, spaces, overflow) is no id.
std::optional<std::int64_t> parse_id(std::string_view text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return id;
}

void get_user(std::string_view raw_id, Response& res) {
    const std::string id = orquestra::percent_decode(raw_id).value_or(std::string(raw_id));
    if (auto n = parse_id(id)) {
        for (const auto& user : kUsers) {
            if (user.id != *n) continue;
            json::array grupos;
            for (auto g : user.grupos) {
                if (!g.empty()) grupos.emplace_back(g);
            }
            examples::reply_json(
                res, 200,
                json::object{{"id", user.id}, {"nome", user.nome}, {"grupos", std::move(grupos)}});
            return;
        }
    }
    examples::reply_error(res, 404, fmt::format("usuário {} não encontrado", id));
}

void handle(Request& req, Response& res) {
    constexpr std::string_view kUsersPrefix = "/usuarios/";
    const std::string_view path = req.path();
    const bool is_get = req.method() == orquestra::http::beast_http::verb::get;
    if (path == "/health") {
        if (!is_get) return examples::reply_wrong_method(req, res, "GET");
        return examples::reply_json(res, 200, json::object{{"status", "UP"}});
    }
    if (path.starts_with(kUsersPrefix)) {
        const std::string_view id = path.substr(kUsersPrefix.size());
        if (!id.empty() && id.find('/') == std::string_view::npos) {
            if (!is_get) return examples::reply_wrong_method(req, res, "GET");
            return get_user(id, res);
        }
    }
    examples::reply_unknown_path(req, res);
}

}  // namespace

int main(int argc, char** argv) {
    return examples::run_service(
        argc, argv,
        examples::ServiceSpec{"servico_usuarios", 5001,
                              "Serviço de usuários do exemplo: GET /usuarios/{id}, GET /health"},
        handle);
}
