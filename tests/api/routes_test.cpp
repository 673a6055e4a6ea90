#include "api/routes.hpp"

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "api/api.hpp"
#include "api/openapi.hpp"

namespace orquestra::api {
namespace {

std::vector<std::string> segments(std::string_view path) {
    std::vector<std::string> out;
    for (auto s : pattern_segments(path)) out.emplace_back(s);
    return out;
}

// The route a concrete path reaches, or "" for none.
std::string reached(std::string_view path) {
    const RouteSpec* r = match_route(segments(path));
    return r == nullptr ? std::string() : std::string(r->path);
}

TEST(RoutesTest, LiteralSegmentsWinOverParameters) {
    EXPECT_EQ(reached("/dags/~/dagRuns/list"), "/dags/~/dagRuns/list");
    EXPECT_EQ(reached("/dags/quick/dagRuns/list"), "/dags/{dag_id}/dagRuns/{dag_run_id}");
    EXPECT_EQ(reached("/dags/~/dagRuns/~/taskInstances/list"),
              "/dags/~/dagRuns/~/taskInstances/list");
    EXPECT_EQ(reached("/dags/~/dagRuns/r/taskInstances/list"),
              "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}");
    EXPECT_EQ(reached("/dags/d/details"), "/dags/{dag_id}/details");
    EXPECT_EQ(reached("/dags/d/dagRuns/r/clear"), "/dags/{dag_id}/dagRuns/{dag_run_id}/clear");
}

TEST(RoutesTest, UnservedPathsMatchNothing) {
    for (const char* path :
         {"/", "/providers", "/pools/a/b", "/dags/d/dagRuns/r/taskInstances/t/x/y", "/dags/d/unknown",
          "/users/a/b", "/config/section/core"}) {
        EXPECT_EQ(reached(path), "") << path;
    }
}

TEST(RoutesTest, EveryRouteIsReachedByItsOwnPathWithUniqueMethods) {
    std::set<std::string> seen;
    for (const RouteSpec& route : routes()) {
        EXPECT_TRUE(seen.insert(std::string(route.path)).second) << "twice: " << route.path;
        std::string sample;
        for (auto s : pattern_segments(route.path)) {
            sample += "/";
            sample += s.starts_with('{') ? std::string("x1") : std::string(s);
        }
        EXPECT_EQ(reached(sample), route.path) << sample;
        EXPECT_FALSE(route.methods.empty()) << route.path;
        EXPECT_FALSE(route.summary.empty()) << route.path;
        std::set<int> methods;
        for (auto m : route.methods) EXPECT_TRUE(methods.insert(static_cast<int>(m)).second);
    }
}

TEST(RoutesTest, OpenApiDocumentHasEveryRouteAndMethodAndNothingElse) {
    auto doc = openapi_document("1.2.3");
    const auto& paths = doc.at("paths").as_object();
    EXPECT_EQ(paths.size(), routes().size());
    std::set<std::string> ids;
    for (const RouteSpec& route : routes()) {
        ASSERT_TRUE(paths.contains(route.path)) << route.path;
        const auto& item = paths.at(route.path).as_object();
        EXPECT_EQ(item.size(), route.methods.size()) << route.path;
        for (auto m : route.methods) {
            std::string name(boost::beast::http::to_string(m));
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            ASSERT_TRUE(item.contains(name)) << route.path << " " << name;
            const auto& op = item.at(name).as_object();
            EXPECT_TRUE(ids.insert(std::string(op.at("operationId").as_string())).second);
            // Path parameters are declared.
            const bool has_params = std::string_view(route.path).find('{') != std::string_view::npos;
            EXPECT_EQ(op.contains("parameters"), has_params) << route.path;
            // Public routes need no credentials; the rest say who may call them.
            EXPECT_EQ(op.contains("security"), route.access == Access::kPublic) << route.path;
        }
    }
    EXPECT_EQ(doc.at("info").as_object().at("version").as_string(), "1.2.3");
}

TEST(ConfigMaskTest, SecretsAreHiddenAndUrlPasswordsMasked) {
    EXPECT_EQ(shown_config_value("secret_key", "abc"), "< hidden >");
    EXPECT_EQ(shown_config_value("registry_password", "abc"), "< hidden >");
    EXPECT_EQ(shown_config_value("api_TOKEN", "abc"), "< hidden >");
    EXPECT_EQ(shown_config_value("dags_folder", "/srv/dags"), "/srv/dags");
    EXPECT_EQ(shown_config_value("sql_alchemy_conn", "postgresql://orq:pw@db:5432/orq"),
              "postgresql://orq:***@db:5432/orq");
    EXPECT_EQ(shown_config_value("conn", "postgresql://db/orq?user=a&password=pw&sslmode=off"),
              "postgresql://db/orq?user=a&password=***&sslmode=off");
    EXPECT_EQ(shown_config_value("conn", "host=db password=pw dbname=x"),
              "host=db password=*** dbname=x");
    EXPECT_EQ(shown_config_value("conn", "postgresql://orq@db/orq"), "postgresql://orq@db/orq");
    EXPECT_EQ(shown_config_value("conn", "http://a:b@c:d@host/p"), "http://a:***@host/p");
    EXPECT_EQ(shown_config_value("database", "/home/ana/orquestra.db"), "/home/ana/orquestra.db");
}

}  // namespace
}  // namespace orquestra::api
