// Package tasks is the vocabulary every part of fbs shares: the build spec
// and the rules on its fields (Spec.Validate, the staging URL grammar of
// ParseStagingURL and CheckStaging, CheckEmail, ValidNVR,
// ValidKojiBuildID, CheckISORef, and the limits of every free-text field,
// in limits.go), RedactURL for URLs in errors and logs, the task payloads that travel through the
// queues, queue naming (build:<arch>:<release>, transfer:<host>, notify),
// the three task constructors (NewBuildTask, NewTransferTask,
// NewNotifyTask, in queue.go), build IDs, the build record with its states
// and stages, and Error: a domain error with a code, a message and the
// field path at fault ("arch", "ksiso.iso").
//
// It knows nothing of HTTP, the CLI or Redis: its tasks are asynq values
// (type, payload, options) that it never enqueues, and its records are
// plain structs. The web app and the CLI build payloads with it (through
// tasks/submission), the worker decodes them, and tasks/httperr maps its
// error codes to HTTP statuses. The Redis layer lives in its subpackages:
// tasks/rediskey names every key, tasks/builds stores the records, logs and
// leases, tasks/client enqueues tasks and connects to Redis.
package tasks
