#include "api/shapes.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "api/request.hpp"
#include "dag/loader.hpp"

namespace orquestra::api {
namespace {

namespace json = boost::json;

TEST(ShapesTest, TimeDeltaSplitsDaysSecondsAndMicroseconds) {
    EXPECT_EQ(json::value(time_delta_json(0)),
              json::parse(R"({"__type":"TimeDelta","days":0,"seconds":0,"microseconds":0})"));
    EXPECT_EQ(json::value(time_delta_json(86'400'000 + 61'500)),
              json::parse(R"({"__type":"TimeDelta","days":1,"seconds":61,"microseconds":500000})"));
}

TEST(ShapesTest, DatetimesCarryAnOffsetOrAreNull) {
    EXPECT_EQ(datetime_json(0), json::value("1970-01-01T00:00:00+00:00"));
    EXPECT_TRUE(datetime_json(std::nullopt).is_null());
}

TEST(ShapesTest, TaskInstanceStateNoneIsNullAndMaxTriesCountsRetries) {
    store::TaskInstance ti;
    ti.dag_id = "d";
    ti.run_id = "r";
    ti.task_id = "t";
    ti.max_tries = 3;
    auto out = task_instance_json(ti, 0);
    EXPECT_TRUE(out["state"].is_null());
    EXPECT_EQ(out["max_tries"], json::value(2));
    EXPECT_EQ(out["try_number"], json::value(0));
    EXPECT_TRUE(out["end_date"].is_null());
    EXPECT_TRUE(out["duration"].is_null());
    EXPECT_EQ(out["map_index"], json::value(-1));
    ti.state = store::TaskState::kUpForRetry;
    ti.start_date = 1000;
    ti.end_date = 3500;
    out = task_instance_json(ti, 0);
    EXPECT_EQ(out["state"], json::value("up_for_retry"));
    EXPECT_EQ(out["duration"], json::value(2.5));
}

TEST(ShapesTest, RunConfIsAnObjectAndEmptyNoteIsNull) {
    store::DagRun run;
    run.dag_id = "d";
    run.run_id = "r";
    run.conf_json = R"({"a":1})";
    auto out = run_json(run);
    EXPECT_EQ(out["conf"], json::parse(R"({"a":1})"));
    EXPECT_TRUE(out["note"].is_null());
    EXPECT_EQ(out["state"], json::value("queued"));
    EXPECT_EQ(out["run_type"], json::value("manual"));
}

TEST(ShapesTest, ProblemBodyHasTheRfc7807Fields) {
    auto body = json::parse(problem_json(409, "run exists", "/api/v1/x")).as_object();
    EXPECT_EQ(body["title"], json::value("Conflict"));
    EXPECT_EQ(body["status"], json::value(409));
    EXPECT_EQ(body["detail"], json::value("run exists"));
    EXPECT_EQ(body["instance"], json::value("/api/v1/x"));
    EXPECT_TRUE(body["type"].is_string());
    EXPECT_EQ(status_title(401), "Unauthorized");
    EXPECT_EQ(status_title(403), "Forbidden");
    EXPECT_EQ(status_title(500), "Internal Server Error");
}

TEST(ShapesTest, PathSegmentsAreDecodedButPlusStays) {
    auto s = split_path("/api/v1/dags/d/dagRuns/manual__2024-01-01T00%3A00%3A00+00:00", "/api/v1");
    ASSERT_TRUE(s);
    ASSERT_EQ(s->size(), 4U);
    EXPECT_EQ((*s)[3], "manual__2024-01-01T00:00:00+00:00");
    EXPECT_FALSE(split_path("/api/v10/dags", "/api/v1"));
    EXPECT_FALSE(split_path("/other", "/api/v1"));
}

}  // namespace
}  // namespace orquestra::api
