#include "app/application.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace orquestra::app {
namespace {

// Parts that write what happens to them into one journal.
struct Journal {
    std::vector<std::string> events;
    void add(Application& app, const std::string& name, bool fails = false) {
        app.add(
            name,
            [this, name, fails]() -> Result<void> {
                events.push_back("start " + name);
                if (fails) return Error{ErrorCode::kUnavailable, "port in use"};
                return {};
            },
            [this, name] { events.push_back("stop " + name); });
    }
};

TEST(ApplicationTest, StartsInOrderAndStopsInReverseOnce) {
    Journal j;
    {
        Application app;
        j.add(app, "loops");
        j.add(app, "registry");
        j.add(app, "api");
        ASSERT_TRUE(app.start());
        EXPECT_EQ(app.started(), (std::vector<std::string>{"loops", "registry", "api"}));
        app.stop();
        EXPECT_TRUE(app.started().empty());
    }  // the destructor stops nothing twice
    EXPECT_EQ(j.events, (std::vector<std::string>{"start loops", "start registry", "start api",
                                                  "stop api", "stop registry", "stop loops"}));
}

TEST(ApplicationTest, AFailedPartStopsItAndTheStartedOnesAndIsNamed) {
    Journal j;
    Application app;
    j.add(app, "loops");
    j.add(app, "REST API", true);
    j.add(app, "scheduler");
    auto started = app.start();
    ASSERT_FALSE(started);
    EXPECT_EQ(started.error().message, "REST API: port in use");
    EXPECT_EQ(started.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(j.events, (std::vector<std::string>{"start loops", "start REST API",
                                                  "stop REST API", "stop loops"}));
    EXPECT_TRUE(app.started().empty());
}

TEST(ApplicationTest, TheDestructorStopsWhatStarted) {
    Journal j;
    {
        Application app;
        j.add(app, "a");
        app.add("no stop", [] { return Result<void>{}; }, nullptr);
        j.add(app, "b");
        ASSERT_TRUE(app.start());
    }
    EXPECT_EQ(j.events, (std::vector<std::string>{"start a", "start b", "stop b", "stop a"}));
}

}  // namespace
}  // namespace orquestra::app
