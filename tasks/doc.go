// Package tasks is the vocabulary every part of fbs shares: the build spec,
// the task payloads that travel through the queues, queue naming
// (build:<arch>:<release>, transfer:<host>, notify), the three task
// constructors (NewBuildTask, NewTransferTask, NewNotifyTask, in queue.go),
// build IDs, and the build record with its states and stages.
//
// It knows nothing of HTTP, the CLI or Redis: its tasks are asynq values
// (type, payload, options) that it never enqueues, and its records are
// plain structs. The Redis layer lives in its subpackages: tasks/rediskey
// names every key, tasks/builds stores the records, logs and leases,
// tasks/client enqueues tasks and connects to Redis.
package tasks
