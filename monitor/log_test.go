package monitor_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fedora-fbs/fbs/monitor"
	"github.com/fedora-fbs/fbs/tasks"
)

func TestLogRange(t *testing.T) {
	t.Parallel()
	f := setup(t, monitor.Config{LogPage: 7})
	b := f.newBuild(t, nil)
	f.appendLines(t, b.ID, 1, 100, lineText)
	var full strings.Builder
	for n := 1; n <= 100; n++ {
		full.WriteString(lineText(n) + "\n")
	}
	all := full.String()
	total := len(all)
	path := "/builds/" + b.ID + "/log"
	for _, tc := range []struct {
		rng, query   string
		code         int
		body, crange string
	}{
		{rng: "", code: 200, body: all},
		{rng: "bytes=0-9", code: 206, body: all[:10], crange: fmt.Sprintf("bytes 0-9/%d", total)},
		{rng: "bytes=45-130", code: 206, body: all[45:131], crange: fmt.Sprintf("bytes 45-130/%d", total)},
		{rng: fmt.Sprintf("bytes=%d-", total-20), code: 206, body: all[total-20:], crange: fmt.Sprintf("bytes %d-%d/%d", total-20, total-1, total)},
		{rng: "bytes=-25", code: 206, body: all[total-25:], crange: fmt.Sprintf("bytes %d-%d/%d", total-25, total-1, total)},
		{rng: fmt.Sprintf("bytes=%d-", total), code: 416, crange: fmt.Sprintf("bytes */%d", total)},
		{rng: "bytes=0-1,5-6", code: 200, body: all},
		{rng: "bytes=0-4", query: "?since=98", code: 206, body: lineText(99)[:5], crange: fmt.Sprintf("bytes 0-4/%d", len(lineText(99))+len(lineText(100))+2)},
		{query: "?since=100", code: 200, body: ""},
		{query: "?since=1000", code: 200, body: ""},
	} {
		var h []string
		if tc.rng != "" {
			h = []string{"Range", tc.rng}
		}
		resp, body := f.get(t, path+tc.query, h...)
		if resp.StatusCode != tc.code {
			t.Errorf("Range %q%s: status %d, want %d", tc.rng, tc.query, resp.StatusCode, tc.code)
			continue
		}
		if tc.code != 416 && body != tc.body {
			t.Errorf("Range %q%s: body %q, want %q", tc.rng, tc.query, body, tc.body)
		}
		if got := resp.Header.Get("Content-Range"); got != tc.crange {
			t.Errorf("Range %q%s: Content-Range %q, want %q", tc.rng, tc.query, got, tc.crange)
		}
	}
	// Lines added after the request started are not part of it: the log of
	// a running build is served as it stood.
	resp, _ := f.get(t, path)
	if got := resp.Header.Get("X-Log-Last-Line"); got != "100" {
		t.Errorf("X-Log-Last-Line = %q, want 100", got)
	}
	// The end marker is not a line.
	if err := f.store.EndLog(context.Background(), b.ID, tasks.StateSucceeded); err != nil {
		t.Fatal(err)
	}
	if _, body := f.get(t, path); body != all {
		t.Errorf("log after the end marker differs: %d bytes, want %d", len(body), len(all))
	}
	if resp, _ := f.get(t, path, "Range", "bytes=-10"); resp.StatusCode != http.StatusPartialContent {
		t.Errorf("suffix range on an ended log: %d", resp.StatusCode)
	}
}
