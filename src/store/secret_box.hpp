#pragma once
// SecretBox: seals and opens the secrets kept in the store (connection passwords and extras,
// variables whose key looks secret) with libsodium's secretbox (XSalsa20-Poly1305), under one
// 32-byte key. A sealed value is text: "sbx1:" and the base64 of a fresh random nonce followed
// by the authenticated ciphertext, so it fits a TEXT column and a wrong key or a changed byte
// is detected, never decrypted into garbage.
//
// The key comes from $ORQUESTRA_SECRET_KEY (32 bytes as base64 or hex) or, when that is unset,
// from <home>/secret.key, created on first use with mode 0600 and refused when group or others
// may read it. Keep the key apart from database backups: without it the sealed values cannot
// be read back.
//
// Thread safety: a SecretBox is immutable; SecretKeySource loads the key once, under a mutex.

#include "core/error.hpp"

#include <array>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace orquestra::store {

inline constexpr std::size_t kSecretKeyBytes = 32;
inline constexpr std::string_view kSealedPrefix = "sbx1:";
inline constexpr const char* kSecretKeyEnv = "ORQUESTRA_SECRET_KEY";
inline constexpr const char* kSecretKeyFile = "secret.key";

class SecretBox {
public:
    using Key = std::array<unsigned char, kSecretKeyBytes>;
    explicit SecretBox(const Key& key);
    ~SecretBox();
    SecretBox(const SecretBox&) = default;
    SecretBox& operator=(const SecretBox&) = default;

    // A key as text: 32 bytes in base64 (standard or URL-safe, padded or not) or in hex (64
    // digits). kInvalidArgument saying what was expected, never echoing the text.
    static Result<SecretBox> from_text(std::string_view text, std::string_view source);
    // A new random key, and its text (base64) to keep.
    static std::string generate_key_text();

    std::string seal(std::string_view plain) const;
    // kInvalidArgument when `sealed` is not a sealed value, or was sealed under another key or
    // changed since (the message says which, without the value).
    Result<std::string> open(std::string_view sealed) const;
    static bool is_sealed(std::string_view text) { return text.starts_with(kSealedPrefix); }

private:
    Key key_;
};

// The key from `env_key` (the value of $ORQUESTRA_SECRET_KEY, if set) or <home>/secret.key,
// which is created (with its folder) when missing. kInvalidArgument for a malformed key or a
// key file that group or others may read; kUnavailable when the file cannot be read or written.
Result<SecretBox> load_secret_key(const std::filesystem::path& home,
                                  const std::optional<std::string>& env_key);

// Loads the key on first need (a store with no secret never creates a key file) and keeps it.
// A failure is not kept: the next call tries again (after the user fixed the file's mode).
class SecretKeySource {
public:
    SecretKeySource(std::filesystem::path home, std::optional<std::string> env_key)
        : home_(std::move(home)), env_key_(std::move(env_key)) {}
    // No key: get() fails saying so.
    SecretKeySource() = default;
    // A source with this key, for tests.
    explicit SecretKeySource(const SecretBox& box) : box_(std::make_shared<SecretBox>(box)) {}
    Result<std::shared_ptr<const SecretBox>> get();

private:
    std::mutex mu_;
    std::optional<std::filesystem::path> home_;
    std::optional<std::string> env_key_;
    std::shared_ptr<const SecretBox> box_;
};

}  // namespace orquestra::store
