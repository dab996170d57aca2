-- wrk script: POST /api/v1/public/ban-status with a random ID number from the file given after `--`
-- (one per line, bench/make-ids.py). Prints one RESULT line.
local ids = {}

function init(args)
    for line in io.lines(args[1]) do
        if #line == 18 then ids[#ids + 1] = line end
    end
    assert(#ids > 0, "no ID numbers in " .. args[1])
    math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
    local id = ids[math.random(#ids)]
    return wrk.format("POST", "/api/v1/public/ban-status", { ["Content-Type"] = "application/json" }, '{"id_number":"' .. id .. '"}')
end

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non2xx=%d socket_errors=%d\n",
        summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
