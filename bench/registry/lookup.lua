-- wrk script: fetches a random one of the APPS apps (default 100) as JSON; with GZIP=1 it
-- accepts gzip.
math.randomseed(os.time())
local apps = tonumber(os.getenv("APPS") or "100")
local headers = {["Accept"] = "application/json"}
if os.getenv("GZIP") == "1" then headers["Accept-Encoding"] = "gzip" end
request = function()
  return wrk.format("GET", "/eureka/v2/apps/APP" .. math.random(0, apps - 1), headers)
end
