#include "app/supervisor.hpp"

#include "wait.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <unistd.h>

namespace orquestra::app {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::eventually;

// A /bin/sh service without a port: restart after 1 s, doubling up to 5 s, reset after 1 min.
ServiceDecl service(std::string name, std::string script, int instances = 1) {
    ServiceDecl d;
    d.name = name;
    d.file = name + ".yaml";
    d.argv = {"sh", "-c", std::move(script)};
    d.shell = true;
    d.instances = instances;
    d.port = false;
    d.restart = {1'000, 5'000, 60'000};
    d.stop_grace_ms = 2'000;
    return d;
}

bool alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

class SupervisorTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::path(::testing::TempDir()) / fmt::format("supervisor_test_{}", ::getpid());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    // The instances whose process is gone, in the order the hook heard of them.
    std::vector<std::string> gone() {
        std::lock_guard lock(mu_);
        return gone_;
    }
    Supervisor::GoneHook recorder() {
        return [this](const ServiceDecl&, const SupervisedInstance& i) {
            std::lock_guard lock(mu_);
            gone_.push_back(i.instance_id);
        };
    }

    FakeClock clock_;
    fs::path dir_;
    std::mutex mu_;
    std::vector<std::string> gone_;
};

TEST_F(SupervisorTest, AChildKilledWithSigkillIsCancelledAtOnceAndRestartedAfterItsBackoff) {
    registry::InstanceRegistry registry(clock_);
    Supervisor supervisor({service("svc", "exec sleep 60")}, {}, clock_,
                          registry_hooks::cancel_in(registry, "127.0.0.1"));
    ASSERT_TRUE(supervisor.start());
    auto before = supervisor.instances();
    ASSERT_EQ(before.size(), 1u);
    const pid_t first = before[0].pid;
    ASSERT_TRUE(alive(first));
    EXPECT_EQ(before[0].instance_id, "127.0.0.1:svc:1");

    // What the child would have registered, by the id it was handed.
    registry::InstanceInfo info;
    info.instance_id = before[0].instance_id;
    info.app = "SVC";
    info.host_name = "127.0.0.1";
    info.ip_addr = "127.0.0.1";
    info.data_center_name = "MyOwn";
    ASSERT_TRUE(registry.register_instance("SVC", info));

    ASSERT_EQ(::kill(first, SIGKILL), 0);
    // Cancelled as soon as the supervisor sees the exit, with the clock standing still: not
    // after a lease runs out.
    ASSERT_TRUE(eventually([&] { return !registry.instance_by_id(info.instance_id); }));
    auto waiting = supervisor.instances()[0];
    EXPECT_EQ(waiting.pid, 0);
    EXPECT_EQ(waiting.last_exit, "killed by signal 9");
    EXPECT_EQ(waiting.restart_at, clock_.now_ms() + 1'000);  // restart.initial

    // Not before the backoff is over...
    clock_.advance(999);
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_EQ(supervisor.instances()[0].pid, 0);
    // ...and at once after it.
    clock_.advance(1);
    ASSERT_TRUE(eventually([&] { return supervisor.instances()[0].pid != 0; }));
    const pid_t second = supervisor.instances()[0].pid;
    EXPECT_NE(second, first);
    EXPECT_TRUE(alive(second));
    EXPECT_EQ(supervisor.instances()[0].restarts, 1);

    // Dying again soon doubles the wait; after staying up for reset_after it starts over.
    ASSERT_EQ(::kill(second, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return supervisor.instances()[0].pid == 0; }));
    EXPECT_EQ(supervisor.instances()[0].restart_at, clock_.now_ms() + 2'000);
    clock_.advance(2'000);
    ASSERT_TRUE(eventually([&] { return supervisor.instances()[0].pid != 0; }));
    const pid_t third = supervisor.instances()[0].pid;
    clock_.advance(60'000);
    ASSERT_EQ(::kill(third, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return supervisor.instances()[0].pid == 0; }));
    EXPECT_EQ(supervisor.instances()[0].restart_at, clock_.now_ms() + 1'000);

    supervisor.stop();
}

TEST_F(SupervisorTest, AnInstanceRegisteredUnderItsOwnIdIsFoundByItsPort) {
    registry::InstanceRegistry registry(clock_);
    auto d = parse_service_file("name: web\ncommand: [sleep, '60']\nport: auto\n", "web.yaml");
    ASSERT_TRUE(d) << d.error().message;
    Supervisor supervisor({*d}, {}, clock_, registry_hooks::cancel_in(registry, "127.0.0.1"));
    ASSERT_TRUE(supervisor.start());
    const auto instance = supervisor.instances()[0];
    ASSERT_NE(instance.port, 0);
    registry::InstanceInfo info;
    info.instance_id = "chosen-by-the-service";
    info.app = "SOMETHING_ELSE";
    info.host_name = "localhost";
    info.ip_addr = "127.0.0.1";
    info.port = {instance.port, true};
    info.data_center_name = "MyOwn";
    ASSERT_TRUE(registry.register_instance("SOMETHING_ELSE", info));
    info.instance_id = "another-port";
    info.port = {static_cast<std::uint16_t>(instance.port + 1), true};
    ASSERT_TRUE(registry.register_instance("SOMETHING_ELSE", info));

    ASSERT_EQ(::kill(instance.pid, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return !registry.instance_by_id("chosen-by-the-service"); }));
    EXPECT_TRUE(registry.instance_by_id("another-port"));
    // Restarted on the same port.
    clock_.advance(1'000);
    ASSERT_TRUE(eventually([&] { return supervisor.instances()[0].pid != 0; }));
    EXPECT_EQ(supervisor.instances()[0].port, instance.port);
}

TEST_F(SupervisorTest, StopTerminatesEveryChildInReverseOrder) {
    const std::string log = (dir_ / "stopped.log").string();
    // Each child writes its instance id when asked to stop. The loop's sleeps are short, so the
    // trap runs promptly.
    const std::string script =
        "trap 'echo $ORQUESTRA_INSTANCE_ID >> \"$STOP_LOG\"; exit 0' TERM; "
        "touch \"$STOP_LOG.$ORQUESTRA_INSTANCE_ID\"; while :; do sleep 0.02; done";
    auto a = service("a", script, 2);
    auto b = service("b", script, 1);
    a.environment.emplace_back("STOP_LOG", log);
    b.environment.emplace_back("STOP_LOG", log);
    Supervisor supervisor({a, b}, {}, clock_, recorder());
    ASSERT_TRUE(supervisor.start());
    std::vector<pid_t> pids;
    for (const auto& i : supervisor.instances()) pids.push_back(i.pid);
    ASSERT_EQ(pids.size(), 3u);
    // Each has set its trap before it is asked to stop.
    for (const auto& i : supervisor.instances()) {
        ASSERT_TRUE(eventually([&] { return fs::exists(log + "." + i.instance_id); }));
    }
    supervisor.stop();
    for (pid_t pid : pids) EXPECT_FALSE(alive(pid)) << pid;
    EXPECT_EQ(testing::read_file(log), "127.0.0.1:b:1\n127.0.0.1:a:2\n127.0.0.1:a:1\n");
    EXPECT_EQ(gone(), (std::vector<std::string>{"127.0.0.1:b:1", "127.0.0.1:a:2",
                                                "127.0.0.1:a:1"}));
}

TEST_F(SupervisorTest, AChildThatIgnoresSigtermIsKilledAfterTheGrace) {
    auto d = parse_service_file(
        "name: stubborn\ncommand: \"trap '' TERM; touch \\\"$READY\\\"; while :; do sleep 0.02; "
        "done\"\nport: none\nstop_grace: 200ms\n",
        "stubborn.yaml");
    ASSERT_TRUE(d) << d.error().message;
    const std::string ready = (dir_ / "stubborn.ready").string();
    d->environment.emplace_back("READY", ready);
    Supervisor supervisor({*d}, {}, clock_, recorder());
    ASSERT_TRUE(supervisor.start());
    const pid_t pid = supervisor.instances()[0].pid;
    ASSERT_TRUE(eventually([&] { return fs::exists(ready); }));
    const auto started = std::chrono::steady_clock::now();
    supervisor.stop();
    EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(200));
    EXPECT_FALSE(alive(pid));
    EXPECT_EQ(supervisor.instances()[0].last_exit, "killed by signal 9 after SIGTERM was ignored");
}

TEST_F(SupervisorTest, AServiceThatCannotStartFailsTheStartWithItsName) {
    auto d = parse_service_file("name: ghost\ncommand: [./no-such-program]\nport: none\n",
                                "ghost.yaml", dir_);
    ASSERT_TRUE(d);
    Supervisor supervisor({service("fine", "exec sleep 60"), *d}, {}, clock_, recorder());
    auto started = supervisor.start();
    ASSERT_FALSE(started);
    EXPECT_NE(started.error().message.find("cannot start ghost #1"), std::string::npos)
        << started.error().message;
    EXPECT_NE(started.error().message.find("no-such-program"), std::string::npos);
    // The one that had started is stopped again.
    EXPECT_EQ(gone(), std::vector<std::string>{"127.0.0.1:fine:1"});
}

TEST_F(SupervisorTest, AHealthPathMustAnswerBeforeTheStartCounts) {
    // Nothing listens on the port: the start gives up after start_timeout.
    auto d = parse_service_file(
        "name: mute\ncommand: [sleep, '60']\nhealth: /health\nstart_timeout: 300ms\n",
        "mute.yaml");
    ASSERT_TRUE(d);
    Supervisor supervisor({*d}, {}, clock_, recorder());
    auto started = supervisor.start();
    ASSERT_FALSE(started);
    EXPECT_NE(started.error().message.find("mute #1 did not answer 2xx on /health"),
              std::string::npos)
        << started.error().message;
}

}  // namespace
}  // namespace orquestra::app
