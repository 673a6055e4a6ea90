// Variables and connections in both stores (migration 6), sealed secrets (SecretBox, the key's
// sources), connection URIs and the Secrets layer with its environment overrides.
#include "store/secrets.hpp"

#include "store/secret_box.hpp"
#include "store_backends.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <string>

namespace orquestra::store {
namespace {

using testing::Backend;
using testing::BackendKind;
using testing::backend_name;
using testing::make_backend;
using testing::TempDir;

SecretBox test_box(unsigned char fill = 7) {
    SecretBox::Key key{};
    key.fill(fill);
    return SecretBox(key);
}

// --- SecretBox --------------------------------------------------------------------------------

TEST(SecretBoxTest, SealedTextOpensBackAndDiffersEachTime) {
    const SecretBox box = test_box();
    const std::string plain = "s3cr3t \"quoted\"\n\xc3\xa9";
    const std::string a = box.seal(plain);
    const std::string b = box.seal(plain);
    EXPECT_TRUE(a.starts_with(kSealedPrefix));
    EXPECT_EQ(a.find("s3cr3t"), std::string::npos);
    EXPECT_NE(a, b);  // a fresh nonce each time
    auto opened = box.open(a);
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(*opened, plain);
    EXPECT_EQ(box.open(box.seal("")).value(), "");
}

TEST(SecretBoxTest, WrongKeyFailsCleanly) {
    const std::string sealed = test_box(1).seal("token-value");
    auto opened = test_box(2).open(sealed);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(opened.error().message.find("another secret key"), std::string::npos);
    EXPECT_EQ(opened.error().message.find("token-value"), std::string::npos);
}

TEST(SecretBoxTest, TamperedOrMalformedTextFailsCleanly) {
    const SecretBox box = test_box();
    std::string sealed = box.seal("a long enough secret value");
    // Flip one base64 character in the middle of the ciphertext.
    char& c = sealed[sealed.size() / 2];
    c = c == 'A' ? 'B' : 'A';
    EXPECT_FALSE(box.open(sealed));
    EXPECT_FALSE(box.open("plain text"));
    EXPECT_FALSE(box.open(std::string(kSealedPrefix) + "!!!not base64"));
    EXPECT_FALSE(box.open(std::string(kSealedPrefix) + "AAAA"));  // too short
    EXPECT_FALSE(box.open(std::string(kSealedPrefix)));
}

TEST(SecretBoxTest, KeyTextIsBase64OrHexOf32Bytes) {
    const std::string hex(64, 'a');
    EXPECT_TRUE(SecretBox::from_text(hex, "k"));
    const std::string b64 = SecretBox::generate_key_text();
    auto from_b64 = SecretBox::from_text(b64 + "\n", "k");
    ASSERT_TRUE(from_b64) << from_b64.error().message;
    // The same key opens what it sealed; another generated key does not.
    auto again = SecretBox::from_text(b64, "k");
    EXPECT_TRUE(again->open(from_b64->seal("x")));
    auto other = SecretBox::from_text(SecretBox::generate_key_text(), "k");
    EXPECT_FALSE(other->open(from_b64->seal("x")));
    for (const std::string& bad : {std::string(), std::string("short"), std::string(63, 'a'),
                                   std::string(64, 'z'), std::string("c2hvcnQ=")}) {
        auto key = SecretBox::from_text(bad, "ORQUESTRA_SECRET_KEY");
        ASSERT_FALSE(key) << bad;
        EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
        EXPECT_NE(key.error().message.find("ORQUESTRA_SECRET_KEY is not a secret key"),
                  std::string::npos)
            << key.error().message;
    }
}

TEST(SecretKeyFileTest, CreatedOnFirstUseWithMode0600AndReusedAfter) {
    TempDir dir;
    const auto home = dir.path() / "home";
    auto first = load_secret_key(home, std::nullopt);
    ASSERT_TRUE(first) << first.error().message;
    struct stat st {};
    ASSERT_EQ(::stat((home / kSecretKeyFile).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    auto second = load_secret_key(home, std::nullopt);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->open(first->seal("same key")).value(), "same key");
}

TEST(SecretKeyFileTest, AFileOthersMayReadIsRefusedSayingSo) {
    TempDir dir;
    ASSERT_TRUE(load_secret_key(dir.path(), std::nullopt));
    const auto file = dir.path() / kSecretKeyFile;
    ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
    auto key = load_secret_key(dir.path(), std::nullopt);
    ASSERT_FALSE(key);
    EXPECT_NE(key.error().message.find("may be read by group or others"), std::string::npos);
    EXPECT_NE(key.error().message.find("chmod 600"), std::string::npos);
}

TEST(SecretKeyFileTest, TheEnvironmentsKeyWinsAndABadOneIsRefused) {
    TempDir dir;
    auto key = load_secret_key(dir.path(), std::string(64, 'b'));
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / kSecretKeyFile));
    auto bad = load_secret_key(dir.path(), std::string("not-a-key"));
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("ORQUESTRA_SECRET_KEY"), std::string::npos);
}

// --- names and URIs ---------------------------------------------------------------------------

TEST(LooksSecretTest, SecretLookingNamesInAnyCase) {
    for (auto name : {"password", "DB_PASSWORD", "passwd", "my_Secret", "api_token", "API_KEY",
                      "apikey", "private_key", "access_token", "Authorization",
                      "aws_credentials"}) {
        EXPECT_TRUE(looks_secret(name)) << name;
    }
    for (auto name : {"host", "usuario_id", "base_url", "keyboard", "pass"}) {
        EXPECT_FALSE(looks_secret(name)) << name;
    }
}

TEST(ConnectionUriTest, EveryPartIsReadAndDecoded) {
    auto c = parse_connection_uri(
        "my_api", "http://us%40er:p%3Ass%2Fw@api.example.com:8080/v1?timeout=5&x=a+b");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->conn_id, "my_api");
    EXPECT_EQ(c->conn_type, "http");
    EXPECT_EQ(c->login, "us@er");
    EXPECT_EQ(c->password, "p:ss/w");
    EXPECT_EQ(c->host, "api.example.com");
    EXPECT_EQ(c->port, 8080);
    EXPECT_EQ(c->schema, "v1");
    EXPECT_EQ(c->extra, R"({"timeout":"5","x":"a b"})");
}

TEST(ConnectionUriTest, ExtraAsJsonAndDashesInTheType) {
    auto c = parse_connection_uri("pg", "google-cloud-platform://?__extra__=%7B%22a%22%3A1%7D");
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->conn_type, "google_cloud_platform");
    EXPECT_FALSE(c->host);
    EXPECT_EQ(c->extra, R"({"a":1})");
    auto v6 = parse_connection_uri("v6", "postgres://[::1]:5432/db");
    ASSERT_TRUE(v6) << v6.error().message;
    EXPECT_EQ(v6->host, "[::1]");
    EXPECT_EQ(v6->port, 5432);
}

TEST(ConnectionUriTest, InvalidUrisSayWhatIsWrongWithoutThePassword) {
    const std::map<std::string, std::string> bad = {
        {"no-scheme-here", "'://'"},
        {"http://h:99999/", "port"},
        {"http://h:abc/", "port"},
        {"ht tp://h/", "scheme"},
        {"http://u:hunter2%zz@h/", "malformed %-escape"},
        {"http://h/?__extra__=[1]", "__extra__"},
        {"http://h/\n", "control"},
    };
    for (const auto& [uri, expected] : bad) {
        auto c = parse_connection_uri("c", uri);
        ASSERT_FALSE(c) << uri;
        EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
        EXPECT_NE(c.error().message.find(expected), std::string::npos) << c.error().message;
        EXPECT_EQ(c.error().message.find("hunter2"), std::string::npos);
    }
    EXPECT_FALSE(parse_connection_uri("bad id!", "http://h/"));
}

TEST(CheckVariableTest, SizesAreBoundedAndTheErrorSaysTheLimit) {
    EXPECT_TRUE(check_variable(std::string(250, 'k'), std::string(1u << 20, 'v')));
    auto long_key = check_variable(std::string(251, 'k'), "v");
    ASSERT_FALSE(long_key);
    EXPECT_NE(long_key.error().message.find("250"), std::string::npos);
    auto big = check_variable("k", std::string((1u << 20) + 1, 'v'));
    ASSERT_FALSE(big);
    EXPECT_NE(big.error().message.find("1 MiB"), std::string::npos);
    EXPECT_FALSE(check_variable("", "v"));
    EXPECT_FALSE(check_variable("a\nb", "v"));
}

// --- both stores ------------------------------------------------------------------------------

class VariablesStoreTest : public ::testing::TestWithParam<BackendKind> {
protected:
    void SetUp() override {
        backend_ = make_backend(GetParam());
        auto opened = backend_->open();
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        auto migrated = store_->migrate();
        ASSERT_TRUE(migrated) << migrated.error().message;
    }

    std::unique_ptr<Backend> backend_;
    std::unique_ptr<Store> store_;
};

std::string kind_name(const ::testing::TestParamInfo<BackendKind>& info) {
    return backend_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, VariablesStoreTest, ::testing::Values(BackendKind::kSqlite),
                         kind_name);
INSTANTIATE_TEST_SUITE_P(Postgres, VariablesStoreTest, ::testing::Values(BackendKind::kPostgres),
                         kind_name);

TEST_P(VariablesStoreTest, VariablesFollowThePutModes) {
    Variable v{"base_url", "http://x", std::string("where"), false};
    ASSERT_TRUE(store_->put_variable(v, PutMode::kCreate));
    auto again = store_->put_variable(v, PutMode::kCreate);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::kConflict);
    auto missing = store_->put_variable(Variable{"nope", "1", {}, false}, PutMode::kUpdate);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
    v.value = "http://y";
    v.description.reset();
    v.is_encrypted = true;
    ASSERT_TRUE(store_->put_variable(v, PutMode::kUpdate));
    ASSERT_TRUE(store_->put_variable(Variable{"a_first", "", {}, false}, PutMode::kUpsert));
    auto got = store_->get_variable("base_url");
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->value, "http://y");
    EXPECT_FALSE((*got)->description);
    EXPECT_TRUE((*got)->is_encrypted);
    EXPECT_FALSE(store_->get_variable("other").value());
}

TEST_P(VariablesStoreTest, VariablesAreListedByKeyInPagesAndDeleted) {
    for (const char* key : {"c", "a", "b"}) {
        ASSERT_TRUE(store_->put_variable(Variable{key, key, {}, false}, PutMode::kUpsert));
    }
    auto page = store_->list_variables(2, 1);
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_EQ(page->total, 3);
    ASSERT_EQ(page->items.size(), 2U);
    EXPECT_EQ(page->items[0].key, "b");
    EXPECT_EQ(page->items[1].key, "c");
    EXPECT_FALSE(store_->list_variables(1001, 0));
    EXPECT_FALSE(store_->list_variables(10, -1));
    ASSERT_TRUE(store_->delete_variable("a"));
    auto gone = store_->delete_variable("a");
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(store_->list_variables(100, 0)->total, 2);
}

Connection full_connection(std::string id) {
    Connection c;
    c.conn_id = std::move(id);
    c.conn_type = "http";
    c.description = "the API";
    c.host = "api.example.com";
    c.port = 8443;
    c.login = "user";
    c.password = "sealed-password";
    c.schema = "v1";
    c.extra = R"({"a": 1})";
    c.is_encrypted = true;
    c.is_extra_encrypted = true;
    return c;
}

TEST_P(VariablesStoreTest, ConnectionsRoundTripEveryFieldAndFollowThePutModes) {
    const Connection c = full_connection("my_api");
    ASSERT_TRUE(store_->put_connection(c, PutMode::kCreate));
    EXPECT_EQ(store_->put_connection(c, PutMode::kCreate).error().code, ErrorCode::kConflict);
    auto got = store_->get_connection("my_api");
    ASSERT_TRUE(got && *got);
    const Connection& g = **got;
    EXPECT_EQ(g.conn_type, "http");
    EXPECT_EQ(g.description, "the API");
    EXPECT_EQ(g.host, "api.example.com");
    EXPECT_EQ(g.port, 8443);
    EXPECT_EQ(g.login, "user");
    EXPECT_EQ(g.password, "sealed-password");
    EXPECT_EQ(g.schema, "v1");
    EXPECT_EQ(g.extra, R"({"a": 1})");
    EXPECT_TRUE(g.is_encrypted);
    EXPECT_TRUE(g.is_extra_encrypted);

    Connection bare;
    bare.conn_id = "my_api";
    bare.conn_type = "postgres";
    ASSERT_TRUE(store_->put_connection(bare, PutMode::kUpdate));
    auto updated = store_->get_connection("my_api").value();
    ASSERT_TRUE(updated);
    EXPECT_EQ(updated->conn_type, "postgres");
    EXPECT_FALSE(updated->host);
    EXPECT_FALSE(updated->port);
    EXPECT_FALSE(updated->password);
    EXPECT_FALSE(updated->is_encrypted);
    bare.conn_id = "other";
    EXPECT_EQ(store_->put_connection(bare, PutMode::kUpdate).error().code, ErrorCode::kNotFound);
    ASSERT_TRUE(store_->put_connection(bare, PutMode::kUpsert));
    auto page = store_->list_connections(10, 0);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->total, 2);
    EXPECT_EQ(page->items[0].conn_id, "my_api");
    ASSERT_TRUE(store_->delete_connection("my_api"));
    EXPECT_EQ(store_->delete_connection("my_api").error().code, ErrorCode::kNotFound);
}

// --- Secrets over both stores -----------------------------------------------------------------

class SecretsTest : public VariablesStoreTest {
protected:
    std::map<std::string, std::string> env_;
    SecretKeySource keys_{test_box()};
    Secrets secrets() {
        return Secrets(*store_, keys_, [this](const std::string& name) -> std::optional<std::string> {
            auto it = env_.find(name);
            if (it == env_.end()) return std::nullopt;
            return it->second;
        });
    }
};

INSTANTIATE_TEST_SUITE_P(Sqlite, SecretsTest, ::testing::Values(BackendKind::kSqlite), kind_name);
INSTANTIATE_TEST_SUITE_P(Postgres, SecretsTest, ::testing::Values(BackendKind::kPostgres),
                         kind_name);

TEST_P(SecretsTest, SecretVariablesAreSealedAtRestAndOthersAreNot) {
    auto s = secrets();
    ASSERT_TRUE(s.put_variable("api_token", "tok-123456", std::nullopt, PutMode::kUpsert));
    ASSERT_TRUE(s.put_variable("base_url", "http://x", std::string("d"), PutMode::kUpsert));
    auto raw = store_->get_variable("api_token").value();
    ASSERT_TRUE(raw);
    EXPECT_TRUE(raw->is_encrypted);
    EXPECT_TRUE(raw->value.starts_with(kSealedPrefix));
    EXPECT_EQ(raw->value.find("tok-123456"), std::string::npos);
    EXPECT_EQ(store_->get_variable("base_url").value()->value, "http://x");
    auto clear = s.get_variable("api_token").value();
    ASSERT_TRUE(clear);
    EXPECT_EQ(clear->value, "tok-123456");
    EXPECT_TRUE(clear->is_encrypted);
    auto page = s.list_variables(10, 0);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->items[0].value, "tok-123456");
    EXPECT_EQ(page->items[1].description, "d");
    EXPECT_FALSE(s.put_variable("k", std::string((1u << 20) + 1, 'x'), std::nullopt,
                                PutMode::kUpsert));
}

TEST_P(SecretsTest, AValueSealedUnderAnotherKeyIsAClearError) {
    ASSERT_TRUE(secrets().put_variable("password", "hunter22", std::nullopt, PutMode::kUpsert));
    SecretKeySource other{test_box(9)};
    Secrets s(*store_, other, [](const std::string&) { return std::optional<std::string>(); });
    auto got = s.get_variable("password");
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().message.find("variable 'password'"), std::string::npos);
    EXPECT_NE(got.error().message.find("another secret key"), std::string::npos);
}

TEST_P(SecretsTest, ConnectionPasswordsAndExtrasAreSealedAtRest) {
    auto s = secrets();
    auto c = parse_connection_uri("my_api", "http://user:pa55word@h:80/v1?a=1");
    ASSERT_TRUE(c);
    ASSERT_TRUE(s.put_connection(*c, PutMode::kCreate));
    auto raw = store_->get_connection("my_api").value();
    ASSERT_TRUE(raw);
    EXPECT_TRUE(raw->password->starts_with(kSealedPrefix));
    EXPECT_TRUE(raw->extra->starts_with(kSealedPrefix));
    EXPECT_EQ(raw->host, "h");
    auto clear = s.get_connection("my_api").value();
    ASSERT_TRUE(clear);
    EXPECT_EQ(clear->password, "pa55word");
    EXPECT_EQ(clear->extra, R"({"a":"1"})");
    EXPECT_EQ(s.put_connection(*c, PutMode::kCreate).error().code, ErrorCode::kConflict);
    c->extra = "[1]";
    EXPECT_EQ(s.put_connection(*c, PutMode::kUpsert).error().code, ErrorCode::kInvalidArgument);
}

TEST_P(SecretsTest, TheEnvironmentOverridesTheStore) {
    auto s = secrets();
    ASSERT_TRUE(s.put_variable("region", "stored", std::nullopt, PutMode::kUpsert));
    env_["ORQUESTRA_VAR_REGION"] = "from-env";
    env_["ORQUESTRA_VAR_ONLY_ENV"] = "e";
    env_["ORQUESTRA_CONN_MY_API"] = "https://u:p%40ss@api.test:8443/base";
    env_["ORQUESTRA_CONN_BROKEN"] = "not a uri";
    EXPECT_EQ(s.get_variable("region").value()->value, "from-env");
    EXPECT_EQ(s.get_variable("only_env").value()->value, "e");
    EXPECT_FALSE(s.get_variable("absent").value());
    auto c = s.get_connection("my_api").value();
    ASSERT_TRUE(c);
    EXPECT_EQ(c->conn_type, "https");
    EXPECT_EQ(c->password, "p@ss");
    EXPECT_EQ(c->port, 8443);
    auto broken = s.get_connection("broken");
    ASSERT_FALSE(broken);
    EXPECT_NE(broken.error().message.find("ORQUESTRA_CONN_BROKEN"), std::string::npos);
    EXPECT_FALSE(s.get_connection("absent").value());
}

}  // namespace
}  // namespace orquestra::store
