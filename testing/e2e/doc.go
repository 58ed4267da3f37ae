// Package e2e holds the end-to-end tests of fbs: they build the fbs binary,
// start a real redis-server, run `fbs worker` and `fbs submit` as separate
// processes, and check what lands in the staging area. TestDeployRollout
// goes further: it deploys the service with `fbs deploy` to real hosts
// (testing/hosttest: systemd-nspawn machines in network namespaces) and
// upgrades and rolls it back there; it needs root, debootstrap and
// systemd-nspawn (it skips without them), and its first run on a machine
// builds the hosts' root file system (several minutes, then cached).
package e2e
