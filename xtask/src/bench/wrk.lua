-- Each wrk thread rotates its own refresh-token chain: one connection per thread, so a chain never has
-- two rotations in flight. TOKENS holds one starting token per thread, comma-separated.
local tokens, index = {}, 0
for token in string.gmatch(os.getenv("TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = token end

function setup(thread)
  index = index + 1
  thread:set("token", tokens[index])
end

function request()
  return wrk.format("POST", "/api/auth/refresh-token", {["Content-Type"] = "application/json"},
    '{"refreshToken":"' .. token .. '"}')
end

function response(status, headers, body)
  local next_token = string.match(body, '"refresh_token":"([^"]+)"')
  if next_token then token = next_token end
end
