package builds

import "github.com/redis/go-redis/v9"

// Lease modes, ARGV[3] of holdLeaseScript.
const (
	// leaseTake gives the lease to the holder whoever had it: a build's
	// lease belongs to the attempt the record says is running, and the
	// fence (KEYS[2]) decides.
	leaseTake = "take"
	// leaseIfFree takes a lease only when nobody, or the holder itself,
	// has it: a service-wide lease (HoldNamedLease).
	leaseIfFree = "if-free"
)

// holdLeaseScript is the one way a lease is taken or renewed: it sets
// the lease KEYS[1] to holder ARGV[1] for ARGV[2] ms and returns 1, or
// changes nothing and returns 0 when
//   - ARGV[3] is leaseIfFree and another holder has the lease, or
//   - KEYS[2], a build record, is given and says attempt ARGV[4] is no
//     longer running (a record Redis lost does not fence: the worker
//     writes it again).
var holdLeaseScript = redis.NewScript(`
if ARGV[3] == 'if-free' then
  local cur = redis.call('GET', KEYS[1])
  if cur and cur ~= ARGV[1] then return 0 end
end
if KEYS[2] then
  local rec = redis.call('GET', KEYS[2])
  if rec then
    local b = cjson.decode(rec)
    if b.state ~= 'running' or tonumber(b.attempt) ~= tonumber(ARGV[4]) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)
