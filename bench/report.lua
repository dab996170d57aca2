-- wrk script: GET /api/v1/workers/{id}/report, each request with a random (token, worker id)
-- pair from the file given after `--` (lines "TOKEN WORKER_ID"), with the query string given second
-- if any (administrators state a purpose: "?purpose=audit"). Prints one RESULT line.
local choices = {}
local query = ""

function init(args)
    for line in io.lines(args[1]) do
        local token, id = line:match("^(%S+)%s+(%S+)$")
        if token then choices[#choices + 1] = { token, id } end
    end
    assert(#choices > 0, "no (token, worker) pairs in " .. args[1])
    query = args[2] or ""
    math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
    local pick = choices[math.random(#choices)]
    return wrk.format("GET", "/api/v1/workers/" .. pick[2] .. "/report" .. query, { ["Authorization"] = "Bearer " .. pick[1] })
end

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d socket_errors=%d\n",
        summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
