package webapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/fedora-fbs/fbs/conf/spec"
	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/tasks/submission"
	"github.com/fedora-fbs/fbs/webapp/auth"
)

// draft is a submission as read from JSON, multipart, the form or /rest,
// before it is checked.
type draft struct {
	spec tasks.Spec
	// files are uploaded kickstarts by name.
	files map[string][]byte
	// warnings carry the spec parser's findings through.
	warnings []string
	// name maps a tasks field path ("arch", "ksiso.iso", "kickstart") to
	// what the submitter calls the field: form field, JSON path or spec key.
	name func(path string) string
}

// jsonName names a field path in the JSON body of POST /api/v1/builds.
func jsonName(path string) string {
	switch path {
	case tasks.FieldKickstart:
		return "spec.<type>.config"
	case tasks.FieldNVRs:
		return "spec.nvrs"
	case tasks.FieldBuildIDs:
		return "spec.build_ids"
	}
	if k, ok := strings.CutPrefix(path, string(tasks.TypeBoot)+"."); ok && (strings.HasSuffix(k, "_url") || strings.HasSuffix(k, "_mirror")) {
		return "spec.boot.repos" // the INI keys <name>_url, <name>_mirror
	}
	return "spec." + path
}

// iniName names a field path as a key of the INI spec of type t: "[DEFAULT]
// arch", "[ksiso] iso".
func iniName(t tasks.ImageType) func(string) string {
	return func(path string) string { return spec.Where(t, path) }
}

// preparer is the submission path with the web app's policy: the releases
// it offers, its file_root, no file on this server or a worker.
func (s *Server) preparer() *submission.Preparer {
	return submission.New(submission.Config{
		Releases:     s.cfg.Releases,
		Arches:       s.cfg.Arches,
		Staging:      &tasks.StagingPolicy{Remote: true, FileRoot: s.cfg.FileRoot},
		Kickstarts:   s.cfg.Kickstarts,
		Egress:       s.cfg.Egress,
		FetchEgress:  s.cfg.Egress,
		MaxFiles:     s.cfg.MaxFiles,
		MaxKickstart: s.cfg.MaxKickstart,
	})
}

// prepare checks a draft for user and turns it into payloads (one, or one
// per arch for a group) through the one submission path; its field errors
// come back named as the submitter named the fields.
func (s *Server) prepare(ctx context.Context, u *auth.User, d *draft) (*submission.Prepared, []string, error) {
	pr, err := s.preparer().Prepare(ctx, submission.Request{Spec: d.spec, Owner: u.Name}, d.files)
	var fe tasks.Errors
	if errors.As(err, &fe) {
		out := make(tasks.Errors, len(fe))
		for i, e := range fe {
			c := *e
			c.Field = d.name(e.Field)
			out[i] = &c
		}
		return nil, nil, out
	}
	if err != nil {
		return nil, nil, err
	}
	warnings := append(d.warnings, pr.Warnings...)
	if ws, err := s.buildClient.Store().Workers(ctx); err == nil {
		for _, p := range pr.Payloads {
			sp := &p.Spec
			if why := builds.Unserved(ws, sp.Arch, sp.Release, sp.Kind()); why != "" {
				warnings = append(warnings, why+"; the build waits in its queue until a worker that can run it starts")
			}
		}
	}
	return pr, warnings, nil
}

// readAllLimit reads r up to limit bytes; more is a too_large error naming
// field.
func readAllLimit(r io.Reader, limit int64, field string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", field, err)
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(field, "%s is over %d bytes", field, limit)
	}
	return data, nil
}

// oneLine reports whether v is free of control characters (line breaks
// above all), as every spec value is.
func oneLine(v string) bool { return strings.IndexFunc(v, unicode.IsControl) < 0 }
