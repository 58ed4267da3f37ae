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
// The short run (in the default `go test ./...` when run as root) is
// 50 s of load and short faults (each kind once in the first half, then a few quick ones),
// then at most 2 minutes for every build to end and its mails to arrive,
// 2 to 3 minutes in all. The soak's processes run with short
// retry, backoff and lease settings, set through their configuration
// ([staging] retry_backoff and retry_backoff_max, [smtp] retry_backoff,
// [worker] lease_ttl and reap_interval; [worker] min_free is 8MiB, as
// chaos-w2's data dir is a 64 MiB tmpfs). It prints how long each phase
// took. The long run takes -chaos.duration, and flags for throughput:
//
//	go test ./testing/chaos -run Soak -chaos.duration=1h -v -timeout 3h \
//		-chaos.workers=4 -chaos.concurrency=2 -chaos.toolsecs=2 -chaos.lines=20
//
// (-chaos.queued sets how many builds the submitter keeps waiting.)
//
// It needs root (network namespaces, nftables, a tmpfs mount), the nft
// tool and everything the e2e tests need; without root it is skipped.
package chaos
