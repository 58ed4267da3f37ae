package tasks

import (
	"fmt"
	"strings"
)

// QueueName is the asynq queue that builds for arch and release go to.
func QueueName(arch, release string) string {
	return "build:" + arch + ":" + release
}

// ParseQueueName splits a queue name made by QueueName.
func ParseQueueName(q string) (arch, release string, err error) {
	parts := strings.Split(q, ":")
	if len(parts) != 3 || parts[0] != "build" || !ValidArch(parts[1]) || !ValidRelease(parts[2]) {
		return "", "", fmt.Errorf("not a build queue name: %q", q)
	}
	return parts[1], parts[2], nil
}
