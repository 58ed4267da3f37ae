package deploy

import (
	"fmt"
	"time"
)

// stopMargin is how much longer than [worker] drain_timeout systemd waits
// for a stopping worker before it kills it: the drain ends at
// drain_timeout, then the worker hands the unfinished builds back to the
// queue, which takes a few Redis calls.
const stopMargin = time.Minute

// unitDuration writes d in systemd's time syntax (seconds).
func unitDuration(d time.Duration) string {
	return fmt.Sprintf("%ds", int64((d+time.Second-1)/time.Second))
}

// strictHardening ends the units of services that need no privilege, no
// device and no file outside their state directory (web, monitor, Redis):
// every sandboxing directive systemd has for them, and the [Install]
// section.
const strictHardening = `ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
CapabilityBoundingSet=

[Install]
WantedBy=multi-user.target
`

// listenerUnit is the unit of `fbs web` or `fbs monitor`: a dedicated
// user and every hardening directive a network service that writes only
// its state directory can take.
func listenerUnit(role Role, description, command string) string {
	return fmt.Sprintf(`# %[1]s, written by fbs deploy.
[Unit]
Description=%[2]s
Documentation=https://github.com/fedora-fbs/fbs/blob/main/doc/howto.md
Wants=network-online.target
After=network-online.target fbs-redis.service

[Service]
Type=exec
ExecStart=%[3]s --config %[4]s %[5]s
User=%[6]s
Group=%[6]s
# What zdaemon did for the original: restart after a crash, not after a
# clean stop.
Restart=on-failure
RestartSec=5s
# SIGTERM stops taking requests and lets those in flight finish.
KillSignal=SIGTERM
TimeoutStopSec=30s
StateDirectory=fbs
UMask=0027
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=%[7]s
%[8]s`, unitName(role), description, BinaryPath, ConfPath, command, ServiceUser, DataDir, strictHardening)
}

// workerUnit is the unit of `fbs worker`. It runs as root with only the
// hardening the builders survive; the comment in the unit says why.
func workerUnit(drain time.Duration) string {
	return fmt.Sprintf(`# %[1]s, written by fbs deploy.
#
# The worker runs as root: lorax, livemedia-creator and livecd-creator
# mount loop devices, bind-mount /proc, /sys and /dev into install roots
# and install RPMs whose files are set-user-ID. So it has none of
# PrivateDevices, ProtectKernelLogs and ProtectClock (each closes the
# device list: no /dev/loop*), RestrictSUIDSGID (set-user-ID files in
# images), NoNewPrivileges (SELinux domain transitions of anaconda),
# ProtectKernelTunables and ProtectKernelModules (loop and squashfs
# modules, read-write /sys in install roots), SystemCallArchitectures and
# LockPersonality (i686 images run 32-bit scriptlets), MemoryDenyWriteExecute
# (inherited by every tool a build runs), ProtectHome (file:// staging may
# write under /home). It keeps what they do not notice: /usr, /boot and /etc
# read-only (builders write only under data_dir, /var/tmp and /var/cache), a
# private /tmp and /var/tmp emptied at each start, a read-only cgroup tree,
# its own host name.
[Unit]
Description=fbs build worker
Documentation=https://github.com/fedora-fbs/fbs/blob/main/doc/howto.md
Wants=network-online.target
After=network-online.target fbs-redis.service

[Service]
Type=exec
ExecStart=%[2]s --config %[3]s worker
Restart=on-failure
RestartSec=5s
# SIGTERM drains the worker: no new builds, running builds finish for up
# to [worker] drain_timeout (%[4]s), then are handed back to the queue.
# Only the worker gets it (KillMode=mixed): the build tools it runs must
# not be killed by the same signal while the worker drains. What is left
# after TimeoutStopSec (drain_timeout + %[5]s) is killed.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=%[6]s
ProtectSystem=full
PrivateTmp=yes
ProtectControlGroups=yes
ProtectHostname=yes
RestrictRealtime=yes

[Install]
WantedBy=multi-user.target
`, unitName(RoleWorker), BinaryPath, ConfPath, drain, stopMargin, unitDuration(drain+stopMargin))
}

// redisUnit runs the distribution's redis-server with fbs's configuration.
func redisUnit() string {
	return fmt.Sprintf(`# %[1]s, written by fbs deploy.
[Unit]
Description=Redis server of the fbs deployment
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=/usr/bin/redis-server %[2]s
# A user of its own that exists only while the unit runs; the state
# directory keeps its data across restarts.
DynamicUser=yes
StateDirectory=fbs-redis
Restart=on-failure
RestartSec=5s
KillSignal=SIGTERM
TimeoutStopSec=60s
LimitNOFILE=10032
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
%[3]s`, unitName(RoleRedis), RedisConfPath, strictHardening)
}
