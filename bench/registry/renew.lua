-- wrk script: renews a random one of the N registered instances (spread over APPS apps).
local total = tonumber(os.getenv("INSTANCES") or "10000")
local apps = tonumber(os.getenv("APPS") or "100")
math.randomseed(os.time())
request = function()
  local n = math.random(0, total - 1)
  return wrk.format("PUT", "/eureka/v2/apps/APP" .. (n % apps) .. "/inst-" .. n)
end
