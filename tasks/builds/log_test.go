package builds_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/s2"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/broker"
	"github.com/fedora-fbs/fbs/tasks/builds"
	"github.com/fedora-fbs/fbs/testing/redistest"
)

// logBackends are the Redis servers the log streams run on: a real
// redis-server (distributed mode) and the embedded broker of `fbs serve`.
func logBackends(t *testing.T) map[string]redis.UniversalClient {
	t.Helper()
	emb, err := broker.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	c := redis.NewClient(&redis.Options{Addr: emb.Addr()})
	t.Cleanup(func() { c.Close() })
	return map[string]redis.UniversalClient{"redis-server": redistest.Start(t).Client(), "embedded": c}
}

// testLog makes n lines of varied shapes: empty, short, long (over a
// stream entry's byte bound), with carriage returns and multi-byte text.
func testLog(r *rand.Rand, n int) []builds.LogLine {
	lines := make([]builds.LogLine, n)
	for i := range lines {
		var text string
		switch r.IntN(10) {
		case 0:
			text = ""
		case 1:
			text = strings.Repeat("é", 1+r.IntN(40<<10)) // up to 80 KB
		case 2:
			text = fmt.Sprintf("progress %d%%\r100%%", i)
		case 3, 4, 5:
			// Random hex does not compress: runs of it are stored plain.
			b := make([]byte, r.IntN(200))
			for j := range b {
				b[j] = "0123456789abcdef"[r.IntN(16)]
			}
			text = string(b)
		default:
			text = fmt.Sprintf("line %d %s", i+1, strings.Repeat("x", r.IntN(120)))
		}
		lines[i] = builds.LogLine{N: i + 1, Text: text}
	}
	return lines
}

func logText(lines []builds.LogLine) []byte {
	var b []byte
	for _, l := range lines {
		b = append(append(b, l.Text...), '\n')
	}
	return b
}

// TestLogStreamRuns appends a log in batches of random sizes (stored as runs
// of several lines per stream entry), with retries that repeat lines already
// stored and a batch that would leave a gap, then reads it back every way
// the monitor and the CLI do: from every line, with page sizes that cut runs,
// blocking, and tails of every length.
func TestLogStreamRuns(t *testing.T) {
	t.Parallel()
	for name, rdb := range logBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := builds.NewStore(rdb)
			id := tasks.NewBuildID()
			r := rand.New(rand.NewPCG(1, 2))
			want := testLog(r, 3000)
			for i := 0; i < len(want); {
				k := min(1+r.IntN(700), len(want)-i)
				if r.IntN(4) == 0 && i > 0 {
					// A retry that overlaps lines already stored: a run
					// that is partly there is cut, or, compressed, refused
					// with the stream's top inside the batch; the sender
					// then sends again from there, as the publisher does.
					back := 1 + r.IntN(min(i, 300))
					top, err := st.AppendLogText(ctx, id, i+1-back, logText(want[i-back:i+k]), 0)
					if err != nil || top != i {
						t.Fatalf("retry append from %d = %d, %v; want top %d", i+1-back, top, err, i)
					}
					if last, _ := st.LastLogLine(ctx, id); last != i+k {
						if last != i {
							t.Fatalf("after a refused retry the stream ends at %d, want %d", last, i)
						}
						if top, err := st.AppendLogText(ctx, id, i+1, logText(want[i:i+k]), 0); err != nil || top != i {
							t.Fatalf("append from %d = %d, %v; want top %d", i+1, top, err, i)
						}
					}
				} else {
					top, err := st.AppendLogText(ctx, id, i+1, logText(want[i:i+k]), 0)
					if err != nil || top != i {
						t.Fatalf("append from %d = %d, %v; want top %d", i+1, top, err, i)
					}
				}
				i += k
			}
			// Both forms of run are in the stream.
			forms := map[string]int{}
			entries, err := rdb.XRange(ctx, builds.LogKey(id), "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if l, ok := e.Values["l"].(string); ok && strings.Contains(l, "\n") {
					forms["plain run"]++
				}
				if _, ok := e.Values["s"]; ok {
					forms["compressed run"]++
				}
			}
			if forms["plain run"] == 0 || forms["compressed run"] == 0 {
				t.Errorf("stream entries: %v, want both forms", forms)
			}
			if top, err := st.AppendLogText(ctx, id, len(want)+5, []byte("gap\n"), 0); err != nil || top != len(want) {
				t.Fatalf("append leaving a gap = %d, %v; want refused with top %d", top, err, len(want))
			}
			if _, err := st.AppendLogText(ctx, id, len(want)+1, []byte("no newline"), 0); err == nil {
				t.Error("append of an incomplete line accepted")
			}
			if n, err := st.LastLogLine(ctx, id); err != nil || n != len(want) {
				t.Fatalf("LastLogLine = %d, %v; want %d", n, err, len(want))
			}
			// Every starting line, a page size that cuts runs.
			for after := 0; after <= len(want); after += 1 + r.IntN(37) {
				count := int64(1 + r.IntN(600))
				got, end, err := st.ReadLog(ctx, id, after, count, 0)
				if err != nil || end != "" {
					t.Fatalf("ReadLog(%d, %d): end %q, %v", after, count, end, err)
				}
				exp := want[after:min(after+int(count), len(want))]
				if diff := cmp.Diff(exp, got, cmp.Comparer(func(a, b []builds.LogLine) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })); diff != "" {
					t.Fatalf("ReadLog(%d, %d) (-want +got):\n%.2000s", after, count, diff)
				}
			}
			// Paging through the whole log as the full-log handler does.
			var all []builds.LogLine
			for after := 0; ; {
				got, _, err := st.ReadLog(ctx, id, after, 250, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					break
				}
				all = append(all, got...)
				after = got[len(got)-1].N
			}
			if !cmp.Equal(want, all) {
				t.Fatalf("paged read differs: %d lines, want %d", len(all), len(want))
			}
			for _, n := range []int{1, 2, 255, 256, 257, 1000, len(want), len(want) + 10} {
				tail, end, err := st.TailLog(ctx, id, n)
				if err != nil || end != "" {
					t.Fatalf("TailLog(%d): end %q, %v", n, end, err)
				}
				if exp := want[max(len(want)-n, 0):]; !cmp.Equal(exp, tail) {
					t.Fatalf("TailLog(%d): %d lines from %d, want %d from %d", n, len(tail), tail[0].N, len(exp), exp[0].N)
				}
			}
			if err := st.EndLog(ctx, id, tasks.StateFailed); err != nil {
				t.Fatal(err)
			}
			got, end, err := st.ReadLog(ctx, id, len(want)-3, 100, time.Second)
			if err != nil || end != tasks.StateFailed || !cmp.Equal(want[len(want)-3:], got) {
				t.Errorf("blocking ReadLog at the end = %d lines, end %q, %v", len(got), end, err)
			}
			if tail, end, _ := st.TailLog(ctx, id, 2); end != tasks.StateFailed || !cmp.Equal(want[len(want)-2:], tail) {
				t.Errorf("TailLog after the end: %v, end %q", tail, end)
			}
			if n, _ := st.LastLogLine(ctx, id); n != len(want) {
				t.Errorf("LastLogLine after the end = %d, want %d", n, len(want))
			}
		})
	}
}

// TestLogStreamTrim checks that a stream trimmed by line count keeps at
// least that many of the newest lines and drops the old runs.
func TestLogStreamTrim(t *testing.T) {
	t.Parallel()
	for name, rdb := range logBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := builds.NewStore(rdb)
			id := tasks.NewBuildID()
			want := testLog(rand.New(rand.NewPCG(3, 4)), 20000)
			for i := 0; i < len(want); i += 500 {
				if _, err := st.AppendLogText(ctx, id, i+1, logText(want[i:i+500]), 1000); err != nil {
					t.Fatal(err)
				}
			}
			got, _, err := st.ReadLog(ctx, id, 0, 100000, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < 1000 || len(got) > 10000 || !cmp.Equal(want[len(want)-len(got):], got) {
				t.Errorf("trimmed to 1000 lines: kept %d lines from %d", len(got), got[0].N)
			}
		})
	}
}

// TestLogStreamDamagedEntry checks that a compressed run that does not
// decode, or decodes to another line count, is an error naming the entry,
// never lines made up.
func TestLogStreamDamagedEntry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	st := builds.NewStore(rdb)
	for name, values := range map[string][]any{
		"not S2":           {"s", "garbage", "n", "2"},
		"wrong line count": {"s", string(s2.Encode(nil, []byte("a\nb\nc"))), "n", "2"},
	} {
		id := tasks.NewBuildID()
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: builds.LogKey(id), ID: "2-0", Values: values}).Err(); err != nil {
			t.Fatal(err)
		}
		if lines, _, err := st.ReadLog(ctx, id, 0, 10, 0); err == nil || !strings.Contains(err.Error(), "entry 2-0 is damaged") {
			t.Errorf("%s: ReadLog = %v, %v; want an error naming the entry", name, lines, err)
		}
		if _, _, err := st.TailLog(ctx, id, 10); err == nil {
			t.Errorf("%s: TailLog read a damaged entry", name)
		}
	}
}
