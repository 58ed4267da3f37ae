package staging

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fedora-fbs/fbs/tasks"
)

// MarkerName is the file fbs writes into every build directory it stages
// (<dir>/<build id>/.fbs-staged). Retention removes a staged directory
// only when it holds this file: a directory fbs did not make itself is
// never deleted, whatever its name.
const MarkerName = ".fbs-staged"

// ErrNoMarker is returned by Remove for a build directory without
// MarkerName: it is missing, or fbs did not stage it, and it is left alone.
var ErrNoMarker = errors.New("no " + MarkerName + " marker: not a directory fbs staged")

// markerText is the content of a marker: what it is, for whoever finds it.
func markerText(id string) []byte {
	return []byte("fbs staged build " + id + " here; retention removes this directory with its build record.\n")
}

// mark writes the marker into the build directory of sub ("<id>" or
// "<id>/logs/...") unless it is there.
func mark(ctx context.Context, fs remoteFS, t *target, sub string) error {
	id, _, _ := strings.Cut(sub, "/")
	p := fs.join(t.dir, id, MarkerName)
	if _, ok, err := fs.size(ctx, p); err != nil || ok {
		return err
	}
	if err := fs.create(ctx, p, markerText(id)); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// remove deletes <dir>/<id> and everything in it if it holds the marker.
func remove(ctx context.Context, fs remoteFS, t *target, id string) error {
	if !tasks.ValidBuildID(id) {
		return fmt.Errorf("remove from %s: bad build ID %q", t, id)
	}
	dir := fs.join(t.dir, id)
	if _, ok, err := fs.size(ctx, fs.join(dir, MarkerName)); err != nil {
		return fmt.Errorf("remove %s from %s: look for its marker: %w", id, t, err)
	} else if !ok {
		return fmt.Errorf("remove %s from %s: %w", id, t, ErrNoMarker)
	}
	if err := fs.removeAll(ctx, dir); err != nil {
		return fmt.Errorf("remove %s from %s: %w", id, t, err)
	}
	return nil
}
