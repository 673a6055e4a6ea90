-- wrk script: renews a random one of the N registered instances.
local total = tonumber(os.getenv("INSTANCES") or "10000")
math.randomseed(os.time())
request = function()
  local n = math.random(0, total - 1)
  return wrk.format("PUT", "/eureka/v2/apps/APP" .. (n % 100) .. "/inst-" .. n)
end
