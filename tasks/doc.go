// Package tasks is the vocabulary every part of fbs shares: the build spec
// and the rules on its fields (Spec.Validate, the staging URL grammar of
// ParseStagingURL and CheckStaging, CheckEmail, ValidNVR,
// ValidKojiBuildID, CheckISORef), the task payload that travels through the
// queue, queue naming (build:<arch>:<release>), build IDs, the build record
// with its states and stages, and Error: a domain error with a code, a
// message and the field path at fault ("arch", "ksiso.iso").
//
// It knows nothing of HTTP, the CLI or Redis: the web app and the CLI build
// payloads with it (through tasks/submission), the worker decodes them, the
// builds store persists the Build records it defines, and tasks/httperr
// maps its error codes to HTTP statuses.
package tasks
