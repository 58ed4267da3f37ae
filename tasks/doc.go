// Package tasks is the vocabulary every part of fbs shares: the build spec,
// the task payload that travels through the queue, queue naming
// (build:<arch>:<release>), build IDs, and the build record with its states
// and stages.
//
// It knows nothing of HTTP, the CLI or Redis: the web app and the CLI build
// payloads with it, the worker decodes them, and the builds store persists the
// Build records it defines.
package tasks
