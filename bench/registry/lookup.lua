-- wrk script: fetches a random one of the 100 apps as JSON.
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/eureka/v2/apps/APP" .. math.random(0, 99), {["Accept"] = "application/json"})
end
