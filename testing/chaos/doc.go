// Package chaos holds the chaos soak of fbs (issue #17): many kickstart ISO
// builds through the real processes — `fbs web` taking API submissions,
// three `fbs worker`s (one in a network namespace of its own, behind a
// delaying proxy and nftables loss), `fbs monitor` sending mails — against
// a real redis-server with an append-only file, a real SMTP server and real
// SFTP staging, while faults are injected at random times: workers killed
// with SIGKILL and drained with SIGTERM, Redis restarted and killed, the
// SMTP server down, the SFTP server down and its connections cut mid-file,
// delay and loss between a worker and Redis, a worker's data directory
// full, the monitor restarted, and builds cancelled at random moments. At
// the end it checks the invariants of doc/reliability.md and prints them as
// a table, with the figures measured on the way.
//
// The short run (100 s of load and faults, 8–12 minutes with the settle
// time) is off in the default `go test ./...` while an invariant it checks
// is still broken (doc/reliability.md, "Open"): FBS_CHAOS=1 turns it on.
// The long run takes -chaos.duration:
//
//	go test ./testing/chaos -run Soak -chaos.duration=1h -v -timeout 3h
//
// It needs root (network namespaces, nftables, a tmpfs mount), the nft
// tool and everything the e2e tests need; without root it is skipped.
package chaos
