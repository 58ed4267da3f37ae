// Package e2e holds the end-to-end tests of fbs: they build the fbs binary,
// start a real redis-server, run `fbs worker` and `fbs submit` as separate
// processes, and check what lands in the staging area.
package e2e
