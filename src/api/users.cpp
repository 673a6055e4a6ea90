#include "api/users.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include "core/clock.hpp"

namespace orquestra::api {

namespace {

bool sodium_ready() {
    static const bool ready = ::sodium_init() >= 0;
    return ready;
}

bool username_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '@' || c == '-';
}

}  // namespace

std::optional<Role> parse_role(std::string_view text) {
    if (text == "Admin") return Role::kAdmin;
    if (text == "Op") return Role::kOp;
    if (text == "User") return Role::kUser;
    if (text == "Viewer") return Role::kViewer;
    return std::nullopt;
}

std::string_view to_string(Role role) {
    switch (role) {
        case Role::kAdmin:
            return "Admin";
        case Role::kOp:
            return "Op";
        case Role::kUser:
            return "User";
        case Role::kViewer:
            return "Viewer";
    }
    return "Viewer";
}

bool allows(Role role, Permission permission) {
    switch (permission) {
        case Permission::kRead:
            return true;
        case Permission::kEdit:
            return role != Role::kViewer;
        case Permission::kOperate:
            return role == Role::kOp || role == Role::kAdmin;
        case Permission::kAdmin:
            return role == Role::kAdmin;
    }
    return false;
}

Result<void> validate_user(const UserSpec& spec) {
    if (spec.username.empty() || spec.username.size() > 64) {
        return Error{ErrorCode::kInvalidArgument,
                     "username must be 1 to 64 characters long (^[A-Za-z0-9_.@-]{1,64}$)"};
    }
    for (char c : spec.username) {
        if (!username_char(c)) {
            return Error{
                ErrorCode::kInvalidArgument,
                fmt::format("username '{}' must match ^[A-Za-z0-9_.@-]{{1,64}}$", spec.username)};
        }
    }
    if (!parse_role(spec.role)) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("role '{}' must be one of Admin, Op, User, Viewer", spec.role)};
    }
    if (spec.password.empty()) {
        return Error{ErrorCode::kInvalidArgument, "password must not be empty"};
    }
    if (spec.password.size() > kMaxPasswordBytes) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("password must be at most {} bytes", kMaxPasswordBytes)};
    }
    return {};
}

Result<std::string> hash_password(std::string_view password) {
    if (!sodium_ready()) return Error{ErrorCode::kInternal, "libsodium failed to initialise"};
    char out[crypto_pwhash_STRBYTES];
    if (::crypto_pwhash_str(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        return Error{ErrorCode::kInternal, "cannot hash the password (out of memory)"};
    }
    return std::string(out);
}

Result<std::string> generate_password(std::size_t length) {
    if (!sodium_ready()) return Error{ErrorCode::kInternal, "libsodium could not be initialised"};
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    std::string out(length, ' ');
    for (auto& c : out) {
        c = kAlphabet[::randombytes_uniform(static_cast<std::uint32_t>(kAlphabet.size()))];
    }
    return out;
}

bool verify_password(std::string_view hash, std::string_view password) {
    if (!sodium_ready()) return false;
    // crypto_pwhash_str_verify wants a NUL-terminated string of at most STRBYTES - 1.
    if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES) return false;
    std::string text(hash);
    return ::crypto_pwhash_str_verify(text.c_str(), password.data(), password.size()) == 0;
}

Result<void> create_user(store::Store& store, UserSpec spec) {
    if (auto valid = validate_user(spec); !valid) return valid.error();
    auto hash = hash_password(spec.password);
    if (!hash) return hash.error();
    store::User user;
    user.username = std::move(spec.username);
    user.password_hash = std::move(*hash);
    user.role = std::move(spec.role);
    user.email = std::move(spec.email);
    user.first_name = std::move(spec.first_name);
    user.last_name = std::move(spec.last_name);
    user.created_at = SystemClock::instance().now_ms();
    auto created = store.create_user(user);
    if (!created) return created.error();
    return {};
}

}  // namespace orquestra::api
