#include "api/users.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "api/credential_cache.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace orquestra::api {
namespace {

UserSpec spec(std::string username, std::string role = "Viewer", std::string password = "pw") {
    return UserSpec{std::move(username), std::move(password), std::move(role), "", "", ""};
}

TEST(UsersTest, UsernamesFollowTheirPattern) {
    EXPECT_TRUE(validate_user(spec("ana.souza@example-1_x")));
    EXPECT_TRUE(validate_user(spec(std::string(64, 'a'))));
    for (const std::string bad : {"", "ana souza", "ana/x", "ana:x", "ação"}) {
        auto r = validate_user(spec(bad));
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
        EXPECT_NE(r.error().message.find("username"), std::string::npos);
    }
    EXPECT_FALSE(validate_user(spec(std::string(65, 'a'))));
}

TEST(UsersTest, RolesAreAirflowsFourAndPasswordsMustNotBeEmpty) {
    for (const char* role : {"Admin", "Op", "User", "Viewer"}) {
        EXPECT_TRUE(validate_user(spec("ana", role))) << role;
    }
    for (const char* role : {"admin", "Public", "", "Root"}) {
        auto r = validate_user(spec("ana", role));
        ASSERT_FALSE(r) << role;
        EXPECT_NE(r.error().message.find("role"), std::string::npos);
    }
    auto empty = validate_user(spec("ana", "Viewer", ""));
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message.find("password"), std::string::npos);
}

TEST(UsersTest, PermissionsFollowTheRoles) {
    EXPECT_TRUE(allows(Role::kViewer, Permission::kRead));
    EXPECT_FALSE(allows(Role::kViewer, Permission::kEdit));
    for (Role role : {Role::kUser, Role::kOp, Role::kAdmin}) {
        EXPECT_TRUE(allows(role, Permission::kRead));
        EXPECT_TRUE(allows(role, Permission::kEdit));
    }
    for (Role role : {Role::kViewer, Role::kUser, Role::kOp, Role::kAdmin}) {
        EXPECT_EQ(parse_role(to_string(role)), role);
    }
}

TEST(UsersTest, PasswordHashIsArgon2idAndVerifies) {
    auto hash = hash_password("s3cret");
    ASSERT_TRUE(hash);
    EXPECT_EQ(hash->rfind("$argon2id$", 0), 0U) << *hash;
    EXPECT_EQ(hash->find("s3cret"), std::string::npos);
    EXPECT_TRUE(verify_password(*hash, "s3cret"));
    EXPECT_FALSE(verify_password(*hash, "s3cre"));
    EXPECT_FALSE(verify_password(*hash, ""));
    EXPECT_FALSE(verify_password("not a hash", "s3cret"));
    EXPECT_FALSE(verify_password("", "s3cret"));
    // Salted: the same password hashes differently each time.
    EXPECT_NE(*hash, hash_password("s3cret").value());
}

TEST(UsersTest, CreateUserStoresAHashAndRefusesDuplicates) {
    std::random_device rd;
    auto dir = std::filesystem::temp_directory_path() /
               ("orquestra-users-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    {
        auto store = store::SqliteStore::open(dir / "db.sqlite");
        ASSERT_TRUE(store);
        ASSERT_TRUE((*store)->migrate());
        UserSpec ana{"ana", "pw1", "Op", "ana@example.com", "Ana", "Souza"};
        ASSERT_TRUE(create_user(**store, ana));
        auto got = (*store)->get_user("ana").value();
        ASSERT_TRUE(got);
        EXPECT_EQ(got->role, "Op");
        EXPECT_EQ(got->email, "ana@example.com");
        EXPECT_EQ(got->first_name, "Ana");
        EXPECT_GT(got->created_at, 0);
        EXPECT_NE(got->password_hash, "pw1");
        EXPECT_TRUE(verify_password(got->password_hash, "pw1"));

        auto again = create_user(**store, ana);
        ASSERT_FALSE(again);
        EXPECT_EQ(again.error().code, ErrorCode::kConflict);
        auto bad = create_user(**store, spec("bia", "Chief"));
        ASSERT_FALSE(bad);
        EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
        EXPECT_FALSE((*store)->get_user("bia").value());
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}

TEST(CredentialCacheTest, RemembersExactCredentialsUntilTheyExpire) {
    FakeClock clock;
    CredentialCache cache(clock, 60'000);
    EXPECT_FALSE(cache.lookup("ana", "pw"));
    cache.remember("ana", "pw", Role::kUser);
    EXPECT_EQ(cache.lookup("ana", "pw"), Role::kUser);
    EXPECT_FALSE(cache.lookup("ana", "PW"));
    EXPECT_FALSE(cache.lookup("ana", "pw "));
    EXPECT_FALSE(cache.lookup("bia", "pw"));
    // "a:b" + "c" must not pass for "a" + "b:c".
    cache.remember("a:b", "c", Role::kAdmin);
    EXPECT_FALSE(cache.lookup("a", "b:c"));

    clock.advance(59'999);
    EXPECT_EQ(cache.lookup("ana", "pw"), Role::kUser);
    clock.advance(1);
    EXPECT_FALSE(cache.lookup("ana", "pw"));

    cache.remember("ana", "pw", Role::kViewer);
    cache.forget("ana");
    EXPECT_FALSE(cache.lookup("ana", "pw"));
}

TEST(CredentialCacheTest, StaysBounded) {
    FakeClock clock;
    CredentialCache cache(clock, 60'000, 3);
    for (int i = 0; i < 10; ++i) cache.remember("u" + std::to_string(i), "pw", Role::kViewer);
    EXPECT_LE(cache.size(), 3U);
    EXPECT_EQ(cache.lookup("u9", "pw"), Role::kViewer);
}

}  // namespace
}  // namespace orquestra::api
