// Package kojitest runs a Koji-compatible hub on loopback for tests: an
// XML-RPC endpoint answering getBuild and listRPMs the way koji-hub does
// (nil for unknown builds, <i8> for large integers, faults for unknown
// methods), and a packages tree serving real RPM files under Koji's layout,
// <packages>/<name>/<version>/<release>/<arch>/<nvra>.rpm, with HTTP Range
// support. Faults can be injected: a hub that stalls, downloads cut after a
// number of bytes, corrupted downloads.
package kojitest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-fbs/fbs/testing/rpmtest"
)

// Koji build states.
const (
	StateComplete = 1
	StateDeleted  = 2
)

// Build is a Koji build the hub knows.
type Build struct {
	ID                     int
	Name, Version, Release string
	State                  int
	RPMs                   []RPM
}

// NVR is the build's name-version-release.
func (b Build) NVR() string { return b.Name + "-" + b.Version + "-" + b.Release }

// RPM is one file of a build.
type RPM struct {
	ID                           int
	Name, Version, Release, Arch string
	Size                         int64
	PayloadHash                  string
	// Path is the file on disk the hub serves.
	Path string
}

// File is the RPM's file name.
func (r RPM) File() string { return r.Name + "-" + r.Version + "-" + r.Release + "." + r.Arch + ".rpm" }

// Hub is a running test hub.
type Hub struct {
	// URL is the XML-RPC endpoint, for [koji] hub_url.
	URL string
	// PackagesURL is the top of the packages tree, for [koji] packages_url.
	PackagesURL string

	mu       sync.Mutex
	builds   map[int]*Build
	files    map[string]string // path under /packages/ to file
	calls    map[string]int
	gets     map[string]int // by file name
	ranges   []string       // Range headers seen, "file bytes=N-"
	stall    bool
	cut      map[string]cut
	corrupt  map[string]int
	released chan struct{}
	nextRPM  int
}

type cut struct {
	after int64
	times int
}

// New starts a hub on 127.0.0.1 and stops it when the test ends.
func New(tb testing.TB) *Hub {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("kojitest: listen: %v", err)
	}
	return NewOn(tb, l)
}

// NewOn starts a hub serving on l, which it closes when the test ends: a
// listener at the far end of a shaped link (see testing/linktest) puts the
// hub behind that link.
func NewOn(tb testing.TB, l net.Listener) *Hub {
	tb.Helper()
	h := &Hub{
		builds: map[int]*Build{}, files: map[string]string{}, calls: map[string]int{},
		gets: map[string]int{}, cut: map[string]cut{}, corrupt: map[string]int{},
		released: make(chan struct{}), nextRPM: 1000,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /kojihub", h.serveRPC)
	mux.HandleFunc("GET /packages/", h.servePackage)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	h.URL = srv.URL + "/kojihub"
	h.PackagesURL = srv.URL + "/packages"
	tb.Cleanup(func() {
		h.mu.Lock()
		close(h.released)
		h.mu.Unlock()
		srv.CloseClientConnections()
		srv.Close()
	})
	return h
}

// AddBuild registers the RPM files at paths as Koji build id, complete,
// reading names, arches and payload hashes from the files with rpm -qp. The
// build's NVR is the source RPM's. It returns the build.
func (h *Hub) AddBuild(tb testing.TB, id int, paths ...string) Build {
	tb.Helper()
	b := Build{ID: id, State: StateComplete}
	for _, p := range paths {
		hd := rpmtest.Query(tb, p)
		srpm := strings.TrimSuffix(hd.SourceRPM, ".src.rpm")
		i := strings.LastIndex(srpm, "-")
		j := strings.LastIndex(srpm[:max(i, 0)], "-")
		if i < 0 || j < 0 {
			tb.Fatalf("kojitest: %s has source RPM %q", p, hd.SourceRPM)
		}
		b.Name, b.Version, b.Release = srpm[:j], srpm[j+1:i], srpm[i+1:]
		fi, err := os.Stat(p)
		if err != nil {
			tb.Fatal(err)
		}
		h.mu.Lock()
		h.nextRPM++
		r := RPM{ID: h.nextRPM, Name: hd.Name, Version: hd.Version, Release: hd.Release, Arch: hd.Arch,
			Size: fi.Size(), PayloadHash: hd.SigMD5, Path: p}
		h.mu.Unlock()
		b.RPMs = append(b.RPMs, r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.builds[id] = &b
	for _, r := range b.RPMs {
		h.files[path.Join(b.Name, b.Version, b.Release, r.Arch, r.File())] = r.Path
	}
	return b
}

// SetState changes a build's Koji state, e.g. to StateDeleted.
func (h *Hub) SetState(id, state int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.builds[id].State = state
}

// Stall makes every XML-RPC call hang until the client gives up.
func (h *Hub) Stall() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stall = true
}

// CutAfter makes the next times downloads of the RPM file named file close
// the connection after sending n bytes of body.
func (h *Hub) CutAfter(file string, n int64, times int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cut[file] = cut{after: n, times: times}
}

// Corrupt makes the next times downloads of the RPM file named file serve
// one byte changed, near its end.
func (h *Hub) Corrupt(file string, times int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.corrupt[file] = times
}

// Calls returns how many times method was called.
func (h *Hub) Calls(method string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[method]
}

// Gets returns how many GETs the RPM file named file got.
func (h *Hub) Gets(file string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gets[file]
}

// TotalGets returns how many GETs the packages tree got.
func (h *Hub) TotalGets() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, v := range h.gets {
		n += v
	}
	return n
}

// Ranges returns the Range headers downloads carried, as "file bytes=N-".
func (h *Hub) Ranges() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ranges...)
}

// URLs returns the packages-tree URLs of every RPM of the builds, sorted.
func (h *Hub) URLs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for p := range h.files {
		out = append(out, h.PackagesURL+"/"+p)
	}
	sort.Strings(out)
	return out
}

func (h *Hub) servePackage(w http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(r.URL.Path, "/packages/")
	file := path.Base(rel)
	h.mu.Lock()
	p, ok := h.files[rel]
	h.gets[file]++
	if rg := r.Header.Get("Range"); rg != "" {
		h.ranges = append(h.ranges, file+" "+rg)
	}
	c := h.cut[file]
	doCut := c.times > 0
	if doCut {
		c.times--
		h.cut[file] = c
	}
	bad := h.corrupt[file] > 0
	if bad {
		h.corrupt[file]--
	}
	h.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var content io.ReadSeeker = f
	if bad {
		content = &flipped{ReadSeeker: f, at: fi.Size() - 10}
	}
	if doCut {
		w = &cutter{ResponseWriter: w, left: c.after}
	}
	http.ServeContent(w, r, file, time.Time{}, content)
}

// cutter passes left bytes of body, then drops the connection.
type cutter struct {
	http.ResponseWriter
	left int64
}

func (c *cutter) Write(b []byte) (int, error) {
	if int64(len(b)) <= c.left {
		c.left -= int64(len(b))
		return c.ResponseWriter.Write(b)
	}
	n, _ := c.ResponseWriter.Write(b[:c.left])
	c.left = 0
	rc := http.NewResponseController(c.ResponseWriter)
	_ = rc.Flush()
	if conn, _, err := rc.Hijack(); err == nil {
		conn.Close()
	}
	return n, net.ErrClosed
}

// flipped serves a file with the byte at offset at inverted.
type flipped struct {
	io.ReadSeeker
	pos, at int64
}

func (f *flipped) Read(b []byte) (int, error) {
	n, err := f.ReadSeeker.Read(b)
	if off := f.at - f.pos; off >= 0 && off < int64(n) {
		b[off] ^= 0xff
	}
	f.pos += int64(n)
	return n, err
}

func (f *flipped) Seek(off int64, whence int) (int64, error) {
	p, err := f.ReadSeeker.Seek(off, whence)
	f.pos = p
	return p, err
}
