// render_attempt: what a run's conf and params can and cannot do to a task's try.
#include "scheduler/engine.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "dag/loader.hpp"

namespace orquestra::scheduler {
namespace {

namespace json = boost::json;

constexpr const char* kSmuggle = "1 HTTP/1.1\r\nHost: x\r\n\r\nGET /admin";

dag::Dag load(const std::string& yaml) {
    auto dag = dag::parse_dag(yaml, "render.yaml");
    EXPECT_TRUE(dag.has_value()) << dag.error().message;
    return dag ? std::move(*dag) : dag::Dag{};
}

json::object context(json::object conf) {
    dag::RenderInputs in;
    in.dag_id = "d";
    in.run_id = "r";
    in.conf = std::move(conf);
    in.params = in.conf;
    return dag::make_context(in);
}

Result<executor::Attempt> render(const dag::Dag& dag, json::object conf) {
    return render_attempt(dag.tasks.at(0), context(std::move(conf)));
}

TEST(RenderAttemptTest, EachPathValueIsOneEncodedSegmentAndTheTextIsKept) {
    dag::Dag dag = load(R"(
dag_id: d
tasks:
  a:
    http:
      service: svc
      path: "/usuarios/{{ dag_run.conf.id }}/x?fixo=1&v={{ params.id }}"
      query: {"q r": "{{ dag_run.conf.id }}"}
)");
    auto attempt = render(dag, {{"id", kSmuggle}});
    ASSERT_TRUE(attempt.has_value()) << attempt.error().message;
    const std::string encoded = "1%20HTTP%2F1.1%0D%0AHost%3A%20x%0D%0A%0D%0AGET%20%2Fadmin";
    EXPECT_EQ(std::get<executor::RenderedHttp>(attempt->work).path,
              "/usuarios/" + encoded + "/x?fixo=1&v=" + encoded + "&q%20r=" + encoded);
    for (std::string_view value : {"../admin", "a?b=c", "a#b", "100%", "\x7f", "é"}) {
        auto a = render(dag, {{"id", value}});
        ASSERT_TRUE(a.has_value()) << a.error().message;
        const std::string& path = std::get<executor::RenderedHttp>(a->work).path;
        EXPECT_EQ(path.find_first_of("#? \r\n", 10), path.find("?fixo")) << path;
        EXPECT_EQ(path.find("/", 10), path.find("/x?fixo")) << path;
    }
}

TEST(RenderAttemptTest, ATargetThatIsNotOriginFormFailsTheTry) {
    dag::Dag dag = load(R"(
dag_id: d
tasks:
  a: {http: {service: svc, path: "/a b/{{ params.id }}"}}
)");
    auto attempt = render(dag, {{"id", 1}});
    ASSERT_FALSE(attempt.has_value());
    EXPECT_EQ(attempt.error().message,
              "path: the request target has \\x20 at offset 2; values must be percent-encoded");
}

TEST(RenderAttemptTest, HeaderValuesWithControlCharactersFailTheTry) {
    dag::Dag dag = load(R"(
dag_id: d
tasks:
  a: {http: {service: svc, headers: {X-Nome: "{{ params.nome }}"}}}
)");
    auto ok = render(dag, {{"nome", "Ana\tMaria"}});
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
    for (std::string_view bad : {std::string_view("Ana\r\nX-Admin: 1"), std::string_view("a\x1b[2J"),
                                 std::string_view("a\0b", 3)}) {
        auto attempt = render(dag, {{"nome", bad}});
        ASSERT_FALSE(attempt.has_value()) << bad;
        EXPECT_EQ(attempt.error().message.rfind(
                      "header X-Nome: the value holds the control character \\x", 0),
                  0u)
            << attempt.error().message;
    }
}

TEST(RenderAttemptTest, WhatATryRendersIsBoundedWithTheFieldAndLimitNamed) {
    dag::Dag command = load(R"(
dag_id: d
tasks:
  a:
    command:
      script: 'echo "$A$B"'
      env: {A: "{{ dag_run.conf.big }}", B: "{{ dag_run.conf.big }}"}
)");
    json::object conf{{"big", std::string(300'000, 'x')}};
    auto attempt = render(command, conf);
    ASSERT_FALSE(attempt.has_value());
    EXPECT_EQ(attempt.error().code, ErrorCode::kTooLarge);
    EXPECT_EQ(attempt.error().message,
              "env B: the rendered text would be longer than 524288 bytes, the limit for env in "
              "total");

    dag::Dag body = load(R"(
dag_id: d
tasks:
  a:
    http:
      service: svc
      method: POST
      json: {a: "{{ dag_run.conf.big }}", b: ["{{ dag_run.conf.big }}", "{{ dag_run.conf.big }}"],
             c: "{{ dag_run.conf.big }}", d: "{{ dag_run.conf.big }}"}
)");
    conf["big"] = std::string(900'000, 'x');
    attempt = render(body, conf);
    ASSERT_FALSE(attempt.has_value());
    EXPECT_EQ(attempt.error().message.rfind("json: ", 0), 0u) << attempt.error().message;
    EXPECT_NE(attempt.error().message.find("4194304 bytes, the limit for the body"),
              std::string::npos)
        << attempt.error().message;

    dag::Dag path = load(R"(
dag_id: d
tasks:
  a: {http: {service: svc, path: "/{{ dag_run.conf.s }}"}}
)");
    attempt = render(path, {{"s", std::string(30'000, '/')}});  // 90,000 bytes encoded
    ASSERT_FALSE(attempt.has_value());
    EXPECT_EQ(attempt.error().message,
              "path: the rendered text would be longer than 65536 bytes, the limit for the "
              "request target (path and query)");
}

}  // namespace
}  // namespace orquestra::scheduler
