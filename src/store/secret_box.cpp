#include "store/secret_box.hpp"

#include <fmt/format.h>
#include <sodium.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace orquestra::store {

namespace {

void init_sodium() {
    static const int rc = ::sodium_init();
    if (rc < 0) throw std::runtime_error("libsodium failed to initialize");
}

std::optional<std::vector<unsigned char>> from_base64(std::string_view text) {
    for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING}) {
        // Never empty: libsodium takes no null buffer, even for an empty text.
        std::vector<unsigned char> out(std::max<std::size_t>(text.size(), 1));
        std::size_t length = 0;
        const char* end = nullptr;
        if (::sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr,
                                &length, &end, variant) == 0 &&
            end == text.data() + text.size()) {
            out.resize(length);
            return out;
        }
    }
    return std::nullopt;
}

std::string to_base64(const unsigned char* data, std::size_t size) {
    std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL), '\0');
    ::sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

std::string trimmed(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    return std::string(s);
}

Error unavailable(const std::filesystem::path& file, std::string_view what) {
    return Error{ErrorCode::kUnavailable,
                 fmt::format("cannot {} the secret key file {}: {}", what, file.string(),
                             std::strerror(errno))};
}

}  // namespace

SecretBox::SecretBox(const Key& key) : key_(key) { init_sodium(); }

SecretBox::~SecretBox() { ::sodium_memzero(key_.data(), key_.size()); }

Result<SecretBox> SecretBox::from_text(std::string_view raw, std::string_view source) {
    init_sodium();
    const std::string text = trimmed(raw);
    std::vector<unsigned char> bytes;
    if (text.size() == 2 * kSecretKeyBytes) {
        bytes.resize(kSecretKeyBytes);
        std::size_t length = 0;
        const char* end = nullptr;
        if (::sodium_hex2bin(bytes.data(), bytes.size(), text.data(), text.size(), nullptr,
                             &length, &end) != 0 ||
            length != kSecretKeyBytes || end != text.data() + text.size()) {
            bytes.clear();
        }
    }
    if (bytes.empty()) {
        if (auto decoded = from_base64(text)) bytes = std::move(*decoded);
    }
    if (bytes.size() != kSecretKeyBytes) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("{} is not a secret key: it must be {} random bytes written in "
                                 "base64 (44 characters) or hex (64 digits), e.g. the output of "
                                 "`head -c 32 /dev/urandom | base64`",
                                 source, kSecretKeyBytes)};
    }
    Key key{};
    std::copy(bytes.begin(), bytes.end(), key.begin());
    ::sodium_memzero(bytes.data(), bytes.size());
    return SecretBox(key);
}

std::string SecretBox::generate_key_text() {
    init_sodium();
    Key key{};
    ::randombytes_buf(key.data(), key.size());
    std::string text = to_base64(key.data(), key.size());
    ::sodium_memzero(key.data(), key.size());
    return text;
}

std::string SecretBox::seal(std::string_view plain) const {
    std::vector<unsigned char> out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                   plain.size());
    ::randombytes_buf(out.data(), crypto_secretbox_NONCEBYTES);
    ::crypto_secretbox_easy(out.data() + crypto_secretbox_NONCEBYTES,
                            reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                            out.data(), key_.data());
    return std::string(kSealedPrefix) + to_base64(out.data(), out.size());
}

Result<std::string> SecretBox::open(std::string_view sealed) const {
    if (!is_sealed(sealed)) {
        return Error{ErrorCode::kInvalidArgument, "the stored value is not a sealed secret"};
    }
    auto bytes = from_base64(sealed.substr(kSealedPrefix.size()));
    if (!bytes || bytes->size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        return Error{ErrorCode::kInvalidArgument, "the sealed secret is malformed"};
    }
    const std::size_t cipher = bytes->size() - crypto_secretbox_NONCEBYTES;
    std::string plain(cipher - crypto_secretbox_MACBYTES, '\0');
    if (::crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                     bytes->data() + crypto_secretbox_NONCEBYTES, cipher,
                                     bytes->data(), key_.data()) != 0) {
        return Error{ErrorCode::kInvalidArgument,
                     "the sealed secret cannot be opened: it was sealed under another secret key "
                     "(is ORQUESTRA_SECRET_KEY or secret.key the one the value was stored "
                     "with?) or was changed since"};
    }
    return plain;
}

Result<SecretBox> load_secret_key(const std::filesystem::path& home,
                                  const std::optional<std::string>& env_key) {
    if (env_key && !env_key->empty()) return SecretBox::from_text(*env_key, kSecretKeyEnv);
    const std::filesystem::path file = home / kSecretKeyFile;
    std::error_code ec;
    std::filesystem::create_directories(home, ec);
    if (ec) {
        return Error{ErrorCode::kUnavailable,
                     fmt::format("cannot create {}: {}", home.string(), ec.message())};
    }
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        if (errno != ENOENT) return unavailable(file, "read");
        // Written whole to a file of our own, then linked into place unless another process
        // got there first (then its key is the key).
        const std::filesystem::path temp =
            home / fmt::format(".{}.{}.tmp", kSecretKeyFile, ::getpid());
        const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return unavailable(temp, "create");
        const std::string text = SecretBox::generate_key_text() + "\n";
        const bool written = ::write(fd, text.data(), text.size()) ==
                                 static_cast<ssize_t>(text.size()) &&
                             ::fsync(fd) == 0;
        ::close(fd);
        if (!written) {
            ::unlink(temp.c_str());
            return unavailable(temp, "write");
        }
        const int linked = ::link(temp.c_str(), file.c_str());
        const int link_errno = errno;
        ::unlink(temp.c_str());
        if (linked != 0 && link_errno != EEXIST) {
            errno = link_errno;
            return unavailable(file, "create");
        }
        if (::stat(file.c_str(), &st) != 0) return unavailable(file, "read");
    }
    if ((st.st_mode & 077) != 0) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("the secret key file {} may be read by group or others (mode "
                                 "{:04o}); it is not used until only its owner may: chmod 600 {}",
                                 file.string(), st.st_mode & 07777, file.string())};
    }
    std::ifstream in(file);
    if (!in) return unavailable(file, "read");
    std::stringstream text;
    text << in.rdbuf();
    return SecretBox::from_text(text.str(), fmt::format("the secret key file {}", file.string()));
}

Result<std::shared_ptr<const SecretBox>> SecretKeySource::get() {
    std::lock_guard lock(mu_);
    if (box_) return box_;
    if (!home_) {
        return Error{ErrorCode::kUnavailable,
                     "no secret key is configured in this process, so sealed variables and "
                     "connections cannot be read"};
    }
    auto loaded = load_secret_key(*home_, env_key_);
    if (!loaded) return loaded.error();
    box_ = std::make_shared<const SecretBox>(std::move(*loaded));
    return box_;
}

}  // namespace orquestra::store
