// SessionStore: tokens, CSRF tokens, the ends of a session (logout, idle, age, user gone, too
// many sessions) and reading the cookie header.

#include "api/sessions.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace orquestra::api {
namespace {

SessionOptions options() {
    SessionOptions o;
    o.idle_timeout = 1000;
    o.max_age = 5000;
    o.max_sessions = 3;
    return o;
}

TEST(SessionStoreTest, TokensAreRandomUrlSafeAndDistinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const std::string t = random_token();
        EXPECT_EQ(t.size(), 43U);
        EXPECT_EQ(t.find_first_not_of(
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                  std::string::npos)
            << t;
        seen.insert(t);
    }
    EXPECT_EQ(seen.size(), 100U);
}

TEST(SessionStoreTest, ASessionIsFoundByItsTokenOnlyAndCarriesItsOwnCsrfToken) {
    FakeClock clock;
    SessionStore store(clock, options());
    auto a = store.create("ana", Role::kUser);
    auto b = store.create("bia", Role::kViewer);
    EXPECT_NE(a.token, a.session.csrf_token);
    EXPECT_NE(a.session.csrf_token, b.session.csrf_token);
    auto found = store.find(a.token);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->username, "ana");
    EXPECT_EQ(found->role, Role::kUser);
    EXPECT_EQ(found->csrf_token, a.session.csrf_token);
    EXPECT_FALSE(store.find(a.session.csrf_token));
    EXPECT_FALSE(store.find(""));
    EXPECT_FALSE(store.find(std::string(1000, 'a')));
    store.end(a.token);
    EXPECT_FALSE(store.find(a.token));
    EXPECT_TRUE(store.find(b.token));
}

TEST(SessionStoreTest, UseKeepsASessionAliveUntilItsMaximumAge) {
    FakeClock clock;
    SessionStore store(clock, options());
    auto idle = store.create("ana", Role::kUser);
    auto busy = store.create("bia", Role::kUser);
    for (int i = 0; i < 4; ++i) {
        clock.advance(900);
        EXPECT_TRUE(store.find(busy.token)) << i;
    }
    EXPECT_FALSE(store.find(idle.token));  // 3.6 s without a request
    clock.advance(900);                    // 4.5 s old, used 0.9 s ago
    EXPECT_TRUE(store.find(busy.token));
    clock.advance(600);                    // 5.1 s old
    EXPECT_FALSE(store.find(busy.token));
}

TEST(SessionStoreTest, TheLeastRecentlyUsedEndsWhenTheTableIsFull) {
    FakeClock clock;
    SessionStore store(clock, options());
    auto first = store.create("a", Role::kUser);
    clock.advance(10);
    auto second = store.create("b", Role::kUser);
    clock.advance(10);
    auto third = store.create("c", Role::kUser);
    clock.advance(10);
    EXPECT_TRUE(store.find(first.token));  // now the most recently used
    clock.advance(10);
    auto fourth = store.create("d", Role::kUser);
    EXPECT_EQ(store.size(), 3U);
    EXPECT_TRUE(store.find(first.token));
    EXPECT_FALSE(store.find(second.token));
    EXPECT_TRUE(store.find(third.token));
    EXPECT_TRUE(store.find(fourth.token));
}

TEST(SessionStoreTest, AGoneUserOrANewRoleIsTakenAtTheRecheck) {
    FakeClock clock;
    SessionStore store(clock, options());
    auto s = store.create("ana", Role::kAdmin);
    auto t = store.create("ana", Role::kAdmin);
    clock.advance(100);
    store.recheck(s.token, Role::kViewer);
    auto found = store.find(s.token);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->role, Role::kViewer);
    EXPECT_EQ(found->checked_at, clock.now_ms());
    store.recheck(s.token, std::nullopt);
    EXPECT_FALSE(store.find(s.token));
    store.end_user("ana");
    EXPECT_FALSE(store.find(t.token));
}

TEST(SessionStoreTest, TheCookieHeaderIsReadAsBrowsersSendIt) {
    using S = SessionStore;
    EXPECT_EQ(S::token_in("orquestra_session=abc"), "abc");
    EXPECT_EQ(S::token_in("theme=dark; orquestra_session=abc; lang=pt"), "abc");
    EXPECT_EQ(S::token_in("theme=dark;orquestra_session=\"abc\""), "abc");
    EXPECT_EQ(S::token_in("orquestra_session="), "");
    EXPECT_FALSE(S::token_in("xorquestra_session=abc; orquestra_sessionx=def"));
    EXPECT_FALSE(S::token_in(""));
    EXPECT_FALSE(S::token_in(";;;=;"));
    EXPECT_TRUE(S::same_token("abc", "abc"));
    EXPECT_FALSE(S::same_token("abc", "abd"));
    EXPECT_FALSE(S::same_token("abc", "ab"));
    EXPECT_FALSE(S::same_token("", ""));
}

}  // namespace
}  // namespace orquestra::api
