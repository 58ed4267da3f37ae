// Package monitor is the HTTP side of the build monitor: the build page with
// its log following live over Server-Sent Events, the full log as text, the
// status page that shows queues, workers and recent builds, their JSON
// twins, a health check and the Prometheus metrics.
//
// It reads everything from Redis (build records, log streams, worker
// heartbeats, asynq queues), so it serves a build's log from any host, even
// after the worker that ran the build is gone. Only build IDs, checked with
// tasks.ValidBuildID, address builds and logs: no URL carries a file path.
//
// Server.Register mounts the routes on any gin router, so `fbs serve` serves
// them on its single listener; Server.Handler is a complete handler for
// `fbs monitor`.
package monitor
