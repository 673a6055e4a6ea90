// Replication lag of a registry cluster (not a test): registers N instances one by one at one
// node and, for each, polls another node until it serves the instance. Prints p50, p90, p99 and
// the maximum of the time from sending the registration to the first read that finds it.
// Usage: replication_lag PORT_A PORT_C [N]   (nodes on 127.0.0.1)
#include "http/client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using orquestra::http::ClientRequest;
using orquestra::http::Endpoint;

int send(std::uint16_t port, std::string method, std::string target, std::string body = "") {
    ClientRequest req;
    req.method = std::move(method);
    req.target = std::move(target);
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    req.body = std::move(body);
    auto res = orquestra::http::fetch(Endpoint{"127.0.0.1", port}, std::move(req), 2000ms);
    return res ? res->status : 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s PORT_A PORT_C [N]\n", argv[0]);
        return 2;
    }
    const auto a = static_cast<std::uint16_t>(std::atoi(argv[1]));
    const auto c = static_cast<std::uint16_t>(std::atoi(argv[2]));
    const int n = argc > 3 ? std::atoi(argv[3]) : 500;
    const long long run = std::chrono::steady_clock::now().time_since_epoch().count() % 1000000;
    std::vector<double> lags_ms;
    int lost = 0;
    for (int i = 0; i < n; ++i) {
        const std::string id = fmt::format("lag-{}-{}", run, i);
        const std::string body = fmt::format(
            R"({{"instance":{{"instanceId":"{}","hostName":"127.0.0.1","app":"LAGPROBE",)"
            R"("ipAddr":"127.0.0.1","status":"UP","port":{{"$":9000,"@enabled":"true"}},)"
            R"("leaseInfo":{{"durationInSecs":600}},"dataCenterInfo":{{"@class":)"
            R"("com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"}}}}}})",
            id);
        const auto start = std::chrono::steady_clock::now();
        if (send(a, "POST", "/eureka/apps/LAGPROBE", body) != 204) {
            std::fprintf(stderr, "registration %d refused\n", i);
            return 1;
        }
        const auto deadline = start + 5s;
        bool seen = false;
        while (std::chrono::steady_clock::now() < deadline) {
            if (send(c, "GET", "/eureka/apps/LAGPROBE/" + id) == 200) {
                seen = true;
                break;
            }
        }
        if (!seen) {
            ++lost;
            continue;
        }
        lags_ms.push_back(std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start)
                              .count());
        send(a, "DELETE", "/eureka/apps/LAGPROBE/" + id);
    }
    if (lags_ms.empty()) {
        std::fprintf(stderr, "no registration reached the other node\n");
        return 1;
    }
    std::sort(lags_ms.begin(), lags_ms.end());
    auto pct = [&](double p) {
        return lags_ms[std::min(lags_ms.size() - 1,
                                static_cast<std::size_t>(p * static_cast<double>(lags_ms.size())))];
    };
    std::printf("replication lag A->C over %zu registrations: p50 %.2f ms, p90 %.2f ms, "
                "p99 %.2f ms, max %.2f ms%s\n",
                lags_ms.size(), pct(0.50), pct(0.90), pct(0.99), lags_ms.back(),
                lost > 0 ? fmt::format(" ({} not seen within 5 s)", lost).c_str() : "");
    return 0;
}
