-- Keystile's forward-auth check for HAProxy 2.5 or later, on HAProxy's own HTTP client
-- (core.httpclient): `keystile proxy-config haproxy --protect ...` loads it with lua-load.
--
--   http-request lua.keystile_gate http://127.0.0.1:8000/api/authz/forward-auth
--
-- It sends Keystile a GET with the client's headers (but for hop-by-hop ones, the body's
-- framing, Host and Accept-Encoding), then the request as HAProxy received it in
-- X-Forwarded-Method, -Proto, -Host and -Uri, which replace anything a client sent. A
-- Connection header naming other headers changes nothing: it is never copied, and those
-- headers are set after the copy. The findings are left in transaction variables:
--   txn.keystile_verdict   allow | redirect | deny (anything else: Keystile unreachable)
--   txn.keystile_status    Keystile's status (0 when it could not be reached)
--   txn.keystile_location  its Location, for a redirect
--   txn.keystile_remote_user ... txn.keystile_remote_auth_strength: the identity of an
--                          allow, set only when not empty

local NOT_COPIED = {
  ["connection"] = true, ["keep-alive"] = true, ["proxy-connection"] = true,
  ["te"] = true, ["trailer"] = true, ["transfer-encoding"] = true, ["upgrade"] = true,
  ["content-length"] = true, ["host"] = true, ["accept-encoding"] = true,
}
local IDENTITY = {
  "remote-user", "remote-groups", "remote-email", "remote-name", "remote-auth-method",
  "remote-auth-strength",
}

-- HAProxy's header tables index their values from 0.
local function values_of(list)
  local out = {}
  if list == nil then return out end
  if list[0] ~= nil then out[#out + 1] = list[0] end
  for i = 1, #list do out[#out + 1] = list[i] end
  return out
end

local function keystile_gate(txn, url)
  local headers = {}
  for name, list in pairs(txn.http:req_get_headers()) do
    if not NOT_COPIED[name] then headers[name] = values_of(list) end
  end
  headers["x-forwarded-method"] = { txn.sf:method() }
  headers["x-forwarded-proto"] = { txn.sf:ssl_fc() and "https" or "http" }
  headers["x-forwarded-host"] = { txn.sf:req_hdr("host") or "" }
  headers["x-forwarded-uri"] = { txn.sf:pathq() }
  headers["x-forwarded-for"] = { txn.sf:src() }

  local ok, res = pcall(function()
    return core.httpclient():get{ url = url, headers = headers, timeout = 5000 }
  end)
  local status = 0
  if ok and res and res.status then status = tonumber(res.status) or 0 end
  txn:set_var("txn.keystile_status", status)

  local verdict = "error"
  if status == 200 then
    verdict = "allow"
    for _, name in ipairs(IDENTITY) do
      local value = values_of(res.headers and res.headers[name])[1]
      if value ~= nil and value ~= "" then
        txn:set_var("txn.keystile_" .. name:gsub("-", "_"), value)
      end
    end
  elseif status == 302 or status == 303 then
    local location = values_of(res.headers and res.headers["location"])[1]
    if location ~= nil and location ~= "" then
      verdict = "redirect"
      txn:set_var("txn.keystile_location", location)
    end
  elseif status == 401 or status == 403 then
    verdict = "deny"
  end
  txn:set_var("txn.keystile_verdict", verdict)
end

core.register_action("keystile_gate", { "http-req" }, keystile_gate, 1)
