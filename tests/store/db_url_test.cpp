#include "store/db_url.hpp"

#include "store/open.hpp"
#include "temp_database.hpp"

#include <gtest/gtest.h>

namespace orquestra::store {
namespace {

TEST(DbUrlTest, PostgresUrlsAreToldFromPaths) {
    EXPECT_TRUE(is_postgres_url("postgresql://u@h/db"));
    EXPECT_TRUE(is_postgres_url("postgres://h"));
    EXPECT_TRUE(is_postgres_url("PostgreSQL://h/db"));
    EXPECT_FALSE(is_postgres_url("/home/ana/.orquestra/orquestra.db"));
    EXPECT_FALSE(is_postgres_url("postgresql:/h"));
    EXPECT_FALSE(is_postgres_url("postgresql"));
    EXPECT_FALSE(is_postgres_url("./postgresql://x"));
    EXPECT_FALSE(is_postgres_url(""));
}

TEST(DbUrlTest, PasswordsAreMasked) {
    EXPECT_EQ(mask_password("postgresql://ana:s3cr%40t@db.example:5432/orq?sslmode=require"),
              "postgresql://ana:****@db.example:5432/orq?sslmode=require");
    EXPECT_EQ(mask_password("postgres://ana@h/db"), "postgres://ana@h/db");
    EXPECT_EQ(mask_password("postgresql://h/db?user=ana&password=x&sslmode=disable"),
              "postgresql://h/db?user=ana&password=****&sslmode=disable");
    EXPECT_EQ(mask_password("postgresql://ana:p@ss@h/db"), "postgresql://ana:****@h/db");
    EXPECT_EQ(mask_password("postgresql://ana:pw@h"), "postgresql://ana:****@h");
    EXPECT_EQ(mask_password("postgresql://:pw@h?PASSWORD=y"), "postgresql://:****@h?PASSWORD=****");
    EXPECT_EQ(mask_password("/var/lib/orquestra.db"), "/var/lib/orquestra.db");
}

TEST(OpenStoreTest, APathOpensSqlite) {
    testing::TempDir dir;
    const auto file = dir.path() / "orquestra.db";
    auto opened = open_store(file.string());
    ASSERT_TRUE(opened) << opened.error().message;
    ASSERT_TRUE((*opened)->migrate());
    EXPECT_TRUE(std::filesystem::exists(file));
    EXPECT_FALSE(open_store(""));
}

TEST(OpenStoreTest, AnUnreachableServerIsUnavailableWithoutItsPassword) {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    auto opened = open_store("postgresql://ana:hunter2secret@127.0.0.1:1/orq");
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(opened.error().message.find("hunter2secret"), std::string::npos)
        << opened.error().message;
    EXPECT_NE(opened.error().message.find("postgresql://ana:****@127.0.0.1:1/orq"),
              std::string::npos)
        << opened.error().message;
}

}  // namespace
}  // namespace orquestra::store
