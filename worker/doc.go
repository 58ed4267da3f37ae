// Package worker serves the build queues of one host: it takes builds for its
// arch and releases off asynq, runs each through the pipeline while holding a
// lease on it, keeps the build record current, drains on shutdown by handing
// unfinished builds back to the queue, and runs a reaper (tasks/reaper) for
// builds whose worker died.
package worker
