// Package rollout carries a deploy file (package deploy) out to its hosts
// over SSH (package deploy/remote): Plan says per host what would change
// and changes nothing, Apply installs and restarts host by host in a safe
// order, Status reports what runs. It owns the order of the work and the
// checks between its steps; what a host should have (files, units,
// packages) is deploy's, and how bytes reach a host is remote's.
//
// # Order
//
// Apply takes the hosts with a Redis role first, then those with a
// monitor, then those with a web front end, one host at a time; then the
// worker-only hosts, Options.Parallel at a time (default 1). On each host it
// installs the missing OS packages (checked with dpkg-query or rpm first:
// nothing is installed that is there), creates the service user, and, when
// the binary or a file differs or a unit is not running:
//
//   - stops the worker (SIGTERM: it takes no new builds, lets running ones
//     finish for up to drain_timeout and hands the rest back to the queue)
//     and waits until systemd reports the unit inactive;
//   - writes the changed files, each one's previous version kept beside it
//     as NAME.fbs-prev, and installs the binary (remote.InstallBinary keeps
//     the previous one as fbs.prev);
//   - reloads systemd, enables the units and starts them in the order
//     redis, monitor, web, worker, each checked before the next: Redis
//     answers PING, monitor and web answer /healthz (asked from the host
//     itself, so a web app on loopback is checked too), a worker's
//     heartbeat comes from the new process (systemd's main PID) and carries
//     the new binary's version.
//
// A step or check that fails on a host rolls that host back: the
// NAME.fbs-prev files and fbs.prev are put back, systemd reloaded, the
// units that ran before restarted (and checked again) and those that did
// not stopped. Apply then stops: hosts after it are not touched, and the
// Report says which host failed at which step and whether its rollback
// came back healthy. Hosts done before it keep the new version.
//
// # Builds during a rollout
//
// A worker is only ever stopped by systemctl stop, whose SIGTERM drains
// it (KillMode=mixed keeps the build tools out of the signal): a build
// either finishes before the worker exits or is handed back to the queue,
// where another worker, or this one after its restart, takes it. The
// queue's lease (see doc/internals.md) keeps one build from running twice.
// So a rollout loses no build and runs none twice, as long as the unit's
// TimeoutStopSec (drain_timeout plus a minute) is not exceeded.
package rollout
