/**
 * The Generic Cell Rate Algorithm as one Redis Lua script: the check and the
 * update are one atomic step on the Redis server, so any number of nodes
 * share one limit exactly. Time is Redis's own clock (TIME), so nodes with
 * skewed clocks still agree.
 *
 * State per key: the theoretical arrival time (TAT) in microseconds, expiring
 * when the bucket would be full again (idle keys cost nothing).
 *
 * KEYS[1]  the limit's key
 * ARGV[1]  emission interval in microseconds (1e6 / rate)
 * ARGV[2]  burst (cells admitted at once from idle)
 * ARGV[3]  cost (cells this request takes)
 * returns  { 1, 0 } admitted, or { 0, retry after in microseconds }
 */
export const gcraScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local newTat = tat + interval * cost
local allowAt = newTat - interval * burst
if allowAt > now then
  return { 0, math.ceil(allowAt - now) }
end
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.ceil((newTat - now) / 1000) + 1)
return { 1, 0 }
`;
