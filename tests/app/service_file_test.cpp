#include "app/service_file.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace orquestra::app {
namespace {

namespace fs = std::filesystem;

TEST(ServiceFileTest, ReadsEveryKey) {
    auto d = parse_service_file(R"(name: servico_usuarios
command: [../servico_usuarios, --port, "{{ port }}", --instance-id, "{{instance_id}}"]
instances: 2
environment: {LOG_LEVEL: info, SELF: "http://127.0.0.1:{{ port }}/"}
health: /health
port: auto
restart: {initial: 500ms, max: 10s, reset_after: 1m}
stop_grace: 2s
start_timeout: 20s
)",
                                "s.yaml", "/srv/services");
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->name, "servico_usuarios");
    EXPECT_EQ(d->argv.size(), 5u);
    EXPECT_FALSE(d->shell);
    EXPECT_EQ(d->instances, 2);
    ASSERT_EQ(d->environment.size(), 2u);
    EXPECT_EQ(d->environment[1].first, "SELF");
    EXPECT_EQ(d->health_path, "/health");
    EXPECT_TRUE(d->port);
    EXPECT_EQ(d->restart.initial_ms, 500);
    EXPECT_EQ(d->restart.max_ms, 10'000);
    EXPECT_EQ(d->restart.reset_after_ms, 60'000);
    EXPECT_EQ(d->stop_grace_ms, 2'000);
    EXPECT_EQ(d->start_timeout_ms, 20'000);
    EXPECT_EQ(d->folder, fs::path("/srv/services"));

    const InstanceValues values{"servico_usuarios", 2, "h:servico_usuarios:2", 5001,
                                "http://127.0.0.1:8761/eureka"};
    EXPECT_EQ(expand_templates(d->argv[2], values), "5001");
    EXPECT_EQ(expand_templates(d->argv[4], values), "h:servico_usuarios:2");
    EXPECT_EQ(expand_templates(d->environment[1].second, values), "http://127.0.0.1:5001/");
}

TEST(ServiceFileTest, AStringCommandIsAShellScriptWithoutTemplates) {
    auto d = parse_service_file("name: s\ncommand: exec ./server --port \"$PORT\"\n", "s.yaml");
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_TRUE(d->shell);
    EXPECT_EQ(d->argv, (std::vector<std::string>{"sh", "-c", "exec ./server --port \"$PORT\""}));
    auto bad = parse_service_file("name: s\ncommand: ./server --port {{ port }}\n", "s.yaml");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("s.yaml:2: a string command is shell text"),
              std::string::npos)
        << bad.error().message;
}

TEST(ServiceFileTest, ErrorsNameFileAndLine) {
    const std::pair<std::string, std::string> cases[] = {
        {"name: s\ncommand: [x]\ninstances: many\n",
         "f.yaml:3: instances must be an integer from 1 to 64"},
        {"name: s\ncommand: [x]\ninstances: 65\n", "f.yaml:3: instances must be"},
        {"name: s\ncommand: [x]\ncomand: [y]\n", "f.yaml:3: unknown key 'comand'"},
        {"name: s\n\ncommand:\n  - x\n  - \"{{ params.evil }}\"\n",
         "f.yaml:5: command: unknown template '{{ params.evil }}'"},
        {"name: s\ncommand: [x]\nname: t\n", "f.yaml:3: duplicate key 'name'"},
        {"name: 'bad name!'\ncommand: [x]\n", "f.yaml:1: name must be"},
        {"command: [x]\n", "f.yaml:1: missing key 'name'"},
        {"name: s\n", "f.yaml:1: missing key 'command'"},
        {"name: s\ncommand: []\n", "f.yaml:2: command is an empty list"},
        {"name: s\ncommand: {a: b}\n", "f.yaml:2: command must be a list"},
        {"name: s\ncommand: [x]\nenvironment: {\"A=B\": c}\n",
         "f.yaml:3: bad environment variable name"},
        {"name: s\ncommand: [x]\nhealth: health\n", "f.yaml:3: health must be a path"},
        {"name: s\ncommand: [x]\nport: 8080\n", "f.yaml:3: port must be auto"},
        {"name: s\ncommand: [x, \"{{ port }}\"]\nport: none\n", "reads {{ port }} but port is none"},
        {"name: s\ncommand: [x]\nrestart: {initial: 5s, max: 1s}\n",
         "f.yaml:3: restart.max must not be less"},
        {"name: s\ncommand: [x]\nrestart: {initial: soon}\n", "f.yaml:3: restart.initial"},
        {"name: s\ncommand: [x]\nrestart: {often: 1s}\n", "f.yaml:3: unknown key 'often' in restart"},
        {"name: s\ncommand: [x\ninstances: 1\n", "f.yaml:"},
        {"- just\n- a list\n", "f.yaml:1: a service file must be a mapping"},
        {"name: s\ncommand: [x]\nstop_grace: 2h\n", "f.yaml:3: stop_grace must be at most"},
    };
    for (const auto& [text, expected] : cases) {
        auto d = parse_service_file(text, "f.yaml");
        ASSERT_FALSE(d) << text;
        EXPECT_NE(d.error().message.find(expected), std::string::npos)
            << text << "\n-> " << d.error().message;
    }
    auto huge = parse_service_file("name: s\ncommand: [x]\n#" + std::string(70'000, 'x'), "f.yaml");
    ASSERT_FALSE(huge);
    EXPECT_NE(huge.error().message.find("f.yaml:1: larger than"), std::string::npos);
}

TEST(ServiceFileTest, LoadsAFolderInNameOrderAndRefusesTwoServicesOfOneName) {
    const fs::path dir = fs::path(::testing::TempDir()) / "service_file_test";
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "20_b.yaml") << "name: b\ncommand: [x]\n";
    std::ofstream(dir / "10_a.yml") << "name: a\ncommand: [x]\n";
    std::ofstream(dir / "notes.txt") << "not a service";
    auto all = load_service_files(dir);
    ASSERT_TRUE(all) << all.error().message;
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].name, "a");
    EXPECT_EQ((*all)[1].name, "b");
    EXPECT_EQ((*all)[1].folder, dir);

    std::ofstream(dir / "30_c.yaml") << "name: a\ncommand: [y]\n";
    auto dup = load_service_files(dir);
    ASSERT_FALSE(dup);
    EXPECT_NE(dup.error().message.find("30_c.yaml:1: service 'a' is also declared in"),
              std::string::npos)
        << dup.error().message;
    fs::remove(dir / "30_c.yaml");
    std::ofstream(dir / "40_d.yaml") << "name: d\ncommand: [x]\ninstances: zero\n";
    auto bad = load_service_files(dir);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("40_d.yaml:3: instances must be"), std::string::npos)
        << bad.error().message;
    EXPECT_FALSE(load_service_files(dir / "missing"));
    fs::remove_all(dir);
}

TEST(RestartDelayTest, DoublesUpToTheMaximum) {
    const RestartPolicy policy{1'000, 30'000, 60'000};
    EXPECT_EQ(restart_delay(policy, 1), 1'000);
    EXPECT_EQ(restart_delay(policy, 2), 2'000);
    EXPECT_EQ(restart_delay(policy, 3), 4'000);
    EXPECT_EQ(restart_delay(policy, 5), 16'000);
    EXPECT_EQ(restart_delay(policy, 6), 30'000);
    EXPECT_EQ(restart_delay(policy, 1'000'000), 30'000);
}

}  // namespace
}  // namespace orquestra::app
