package notify

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fedora-fbs/fbs/tasks"
)

// Message is a mail in the outbox.
type Message struct {
	// Name is the file name, what OpenMessage takes.
	Name string
	// To and Subject are the decoded headers ("" if unreadable).
	To, Subject string
	// Date is the Date header, or the file's time when that is missing.
	Date time.Time
	// Size is the file size in bytes.
	Size int64
}

// outboxNameRE matches the names writeOutbox gives; nothing else in the
// outbox is listed or opened.
var outboxNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,200}\.eml$`) })

// headerLimit bounds how much of a file Outbox reads for its header.
const headerLimit = 64 << 10

// Outbox lists the .eml files of dir, newest first. A missing dir is an
// empty outbox. A file whose header cannot be parsed is listed with its
// file time and no To or Subject.
func Outbox(dir string) ([]Message, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list outbox %s: %w", dir, err)
	}
	var out []Message
	for _, e := range entries {
		if !e.Type().IsRegular() || !outboxNameRE().MatchString(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		m := Message{Name: e.Name(), Size: info.Size(), Date: info.ModTime()}
		readHeader(filepath.Join(dir, e.Name()), &m)
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.After(out[j].Date)
		}
		return out[i].Name > out[j].Name
	})
	return out, nil
}

func readHeader(path string, m *Message) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	msg, err := mail.ReadMessage(bufio.NewReader(io.LimitReader(f, headerLimit)))
	if err != nil {
		return
	}
	dec := new(mime.WordDecoder)
	for _, h := range []struct {
		key string
		dst *string
	}{{"To", &m.To}, {"Subject", &m.Subject}} {
		v := msg.Header.Get(h.key)
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		*h.dst = v
	}
	if d, err := msg.Header.Date(); err == nil {
		m.Date = d
	}
}

// OpenMessage opens the outbox file name of dir. name must be a bare
// file name as Outbox lists it: anything else (a path, "..", a hidden
// file) is refused with an error that wraps fs.ErrNotExist.
func OpenMessage(dir, name string) (io.ReadCloser, error) {
	if !outboxNameRE().MatchString(name) || strings.Contains(name, "..") {
		return nil, fmt.Errorf("outbox message %q: %w", name, fs.ErrNotExist)
	}
	// OpenInRoot also refuses a symlink pointing out of the outbox.
	f, err := os.OpenInRoot(dir, name)
	if err != nil {
		return nil, fmt.Errorf("open outbox message %s: %w", name, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open outbox message %s: %w", name, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("outbox message %q: not a file: %w", name, fs.ErrNotExist)
	}
	return f, nil
}

// writeOutbox writes msg to dir as a new .eml file, atomically (a reader
// never sees half a mail), and returns its name.
func writeOutbox(dir, id string, kind tasks.MailKind, suffix string, msg []byte, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create outbox %s: %w", dir, err)
	}
	name := fmt.Sprintf("%s-%s-%s%s.eml", now.UTC().Format("20060102T150405.000000000Z"), id, kind, suffix)
	tmp, err := os.CreateTemp(dir, ".tmp-*.eml")
	if err != nil {
		return "", fmt.Errorf("write outbox message %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(msg); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write outbox message %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write outbox message %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write outbox message %s: %w", name, err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return "", fmt.Errorf("write outbox message %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return "", fmt.Errorf("write outbox message %s: %w", name, err)
	}
	return name, nil
}
