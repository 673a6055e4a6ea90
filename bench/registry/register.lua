-- wrk script: registers instances INST-0..INST-(N-1) across 100 apps, cycling, ~1 KB each.
local counter = 0
local threads = {}
local total = tonumber(os.getenv("INSTANCES") or "10000")

function setup(thread)
  thread:set("tid", #threads)
  thread:set("nthreads", tonumber(os.getenv("THREADS") or "2"))
  table.insert(threads, thread)
end


local pad = string.rep("x", 420)

request = function()
  local n = (counter * nthreads + tid) % total
  counter = counter + 1
  local app = "APP" .. (n % 100)
  local id = "inst-" .. n
  local body = string.format(
    '{"instance":{"instanceId":"%s","hostName":"host-%d.example.internal","app":"%s",' ..
    '"ipAddr":"10.%d.%d.%d","status":"UP","port":{"$":8080,"@enabled":"true"},' ..
    '"securePort":{"$":8443,"@enabled":"false"},"vipAddress":"%s","secureVipAddress":"%s",' ..
    '"homePageUrl":"http://host-%d.example.internal:8080/","statusPageUrl":"http://host-%d.example.internal:8080/info",' ..
    '"healthCheckUrl":"http://host-%d.example.internal:8080/health",' ..
    '"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},' ..
    '"leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":600},' ..
    '"metadata":{"zone":"zone-%d","version":"1.2.3","build":"%s"}}}',
    id, n, app, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256, string.lower(app), string.lower(app),
    n, n, n, n % 3, pad)
  return wrk.format("POST", "/eureka/v2/apps/" .. app, {["Content-Type"] = "application/json"}, body)
end
