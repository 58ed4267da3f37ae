package builds

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
	"github.com/fedora-fbs/fbs/tasks/rediskey"
)

// LogLine is one numbered line of a build log. Line numbers start at 1.
type LogLine struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// A build's log stream holds runs of consecutive lines, one run per entry:
// the entry's ID is "N-0" where N is the number of the run's last line, and
// the run's lines, joined by "\n", are in the field "l" as text, or in "s"
// compressed with S2 (github.com/klauspost/compress/s2) with the line count
// in "n". A one-line run is just the line in "l". Storing runs rather than
// single lines is what lets a tool that floods its log reach viewers:
// Redis's cost is per entry and per byte stored, and build logs compress
// several times over. Because IDs are line numbers, a reader resumes after
// line N exactly (the first entry with an ID above N holds line N+1),
// trimming by line count is an XTRIM MINID, and a repeated append is
// refused by ID. The end marker is the entry after the last run, with the
// field "end" holding the build's final state.
const (
	// entryLines and entryBytes bound one run: a chatty tool's lines go to
	// Redis in runs of up to this many lines or bytes (a longer line is a
	// run of its own).
	entryLines = 512
	entryBytes = 32 << 10
	// compressMin is the smallest run that is worth compressing; a run
	// is stored compressed only when that saves at least a tenth.
	compressMin = 512
)

func streamID(n int) string { return strconv.Itoa(n) + "-0" }

func lineNumber(id string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(id, "-0"))
	return n
}

// LastLogLine returns the number of the last line in the stream of build id
// (0 when empty). The end marker does not count.
func (s *Store) LastLogLine(ctx context.Context, id string) (int, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, LogKey(id), "+", "-", 2).Result()
	if err != nil {
		return 0, fmt.Errorf("read log stream of build %s: %w", id, err)
	}
	for _, m := range msgs {
		if _, end := m.Values["end"]; !end {
			return lineNumber(m.ID), nil
		}
	}
	return 0, nil
}

// appendScript adds runs of numbered lines to a stream unless that would
// leave a gap: it returns the stream's last line number before the append,
// and appends nothing when that is below the first new line's number minus
// one. Runs already present are skipped, and a plain run that is partly
// present is cut; a compressed run that is partly present cannot be cut, so
// then nothing is appended and the caller, seeing the stream's last line
// inside its batch, sends again from there. ARGV: the trim length in lines
// (0: none), the first line's number, then per run its last line's number,
// its line count, its form ("l" plain, "s" compressed) and its data.
var appendScript = redis.NewScript(`
local att = tonumber(ARGV[3])
if att > 0 then
  local rec = redis.call('GET', KEYS[3])
  if rec then
    local b = cjson.decode(rec)
    if b.state ~= 'running' or tonumber(b.attempt) ~= att then return -1 end
  end
end
local top = 0
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then top = tonumber(string.match(last[1][1], '^(%d+)')) end
local first = tonumber(ARGV[2])
if top < first - 1 then return top end
for i = 4, #ARGV, 4 do
  local l = tonumber(ARGV[i])
  if l > top and l - tonumber(ARGV[i+1]) + 1 <= top and ARGV[i+2] == 's' then return top end
end
local n = 0
local newtop = top
for i = 4, #ARGV, 4 do
  local l = tonumber(ARGV[i])
  if l > top then
    local k = tonumber(ARGV[i+1])
    local data = ARGV[i+3]
    local cfirst = l - k + 1
    if cfirst <= top then
      local pos = 1
      for j = 1, top - cfirst + 1 do pos = string.find(data, '\n', pos, true) + 1 end
      data = string.sub(data, pos)
      k = l - top
    end
    if ARGV[i+2] == 's' then
      redis.call('XADD', KEYS[1], l .. '-0', 's', data, 'n', k)
    else
      redis.call('XADD', KEYS[1], l .. '-0', 'l', data)
    end
    n = n + k
    newtop = l
  end
end
if n > 0 then
  redis.call('HINCRBY', KEYS[2], 'log_lines_published', n)
  local maxlen = tonumber(ARGV[1])
  if maxlen > 0 and newtop > maxlen then
    redis.call('XTRIM', KEYS[1], 'MINID', '~', (newtop - maxlen + 1) .. '-0')
  end
end
return top
`)

// AppendLogText adds the complete lines in text, each ending in "\n" and
// numbered from first, to the stream of build id in one round trip. Lines
// already in the stream are skipped, so a retry after an error never
// repeats a line. maxLen > 0 trims the stream to about that many lines. It
// returns the number of the stream's last line before the call. When that
// is below first-1 the stream has lost lines (a Redis that restarted empty)
// and nothing was added; when it is inside the lines sent, some were not
// added: either way the caller publishes again after the stream's last
// line.
func (s *Store) AppendLogText(ctx context.Context, id string, first int, text []byte, maxLen int64) (int, error) {
	return s.AppendLogTextOf(ctx, id, 0, first, text, maxLen)
}

// AppendLogTextOf is AppendLogText fenced by attempt: it adds nothing and
// returns ErrAttemptOver when the build's record says attempt is no longer
// running (the reaper re-queued the build, another attempt took it, it
// ended), so that a worker that lost its build never writes after the
// reaper's verdict or into the next attempt's lines. A record Redis lost
// does not fence (the worker writes it again); attempt 0 is not fenced.
func (s *Store) AppendLogTextOf(ctx context.Context, id string, attempt, first int, text []byte, maxLen int64) (int, error) {
	if len(text) == 0 {
		return 0, nil
	}
	if text[len(text)-1] != '\n' {
		return 0, fmt.Errorf("publish log of build %s: text does not end with a complete line", id)
	}
	args := make([]any, 0, 2+4*(1+len(text)/entryBytes))
	args = append(args, maxLen, first, attempt)
	n := first - 1
	for len(text) > 0 {
		// Cut a run of up to entryLines lines and entryBytes bytes, always
		// at least one whole line.
		end, k := 0, 0
		for k < entryLines {
			i := bytes.IndexByte(text[end:], '\n')
			if k > 0 && end+i+1 > entryBytes {
				break
			}
			end += i + 1
			k++
			if end == len(text) {
				break
			}
		}
		n += k
		run := text[:end-1]
		text = text[end:]
		if len(run) >= compressMin {
			if z := s2.Encode(nil, run); len(z) < len(run)-len(run)/10 {
				args = append(args, n, k, "s", z)
				continue
			}
		}
		args = append(args, n, k, "l", run)
	}
	top, err := appendScript.Run(ctx, s.rdb, []string{LogKey(id), rediskey.Counters, rediskey.Build(id)}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("publish log of build %s: %w", id, err)
	}
	if top < 0 {
		return 0, fmt.Errorf("publish log of build %s attempt %d: %w", id, attempt, ErrAttemptOver)
	}
	return top, nil
}

// AppendLog is AppendLogText for lines numbered consecutively from
// lines[0].N; a line's text must not hold a newline.
func (s *Store) AppendLog(ctx context.Context, id string, lines []LogLine, maxLen int64) (int, error) {
	if len(lines) == 0 {
		return 0, nil
	}
	var b []byte
	for _, l := range lines {
		b = append(append(b, l.Text...), '\n')
	}
	return s.AppendLogText(ctx, id, lines[0].N, b, maxLen)
}

func isOldID(err error) bool {
	return err != nil && strings.Contains(err.Error(), "equal or smaller than the target stream top item")
}

// EndLog marks the stream of build id as finished with the build's final
// state, so followers stop. It is added after the last line.
func (s *Store) EndLog(ctx context.Context, id string, state tasks.State) error {
	last, err := s.LastLogLine(ctx, id)
	if err != nil {
		return err
	}
	err = s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: LogKey(id), ID: streamID(last + 1), Values: []string{"end", string(state)}}).Err()
	if err != nil && !isOldID(err) {
		return fmt.Errorf("end log of build %s: %w", id, err)
	}
	return nil
}

// endScript is EndLogOf's: it adds the end marker, the field "end" holding
// ARGV[1], after the stream's last line, unless the build's record says
// another attempt (ARGV[2]) or another state holds the build; then it adds
// nothing and returns -1. A stream whose top is already past the last line
// (an end marker there) is left alone.
var endScript = redis.NewScript(`
local rec = redis.call('GET', KEYS[2])
if rec then
  local b = cjson.decode(rec)
  if b.state ~= ARGV[1] or tonumber(b.attempt) ~= tonumber(ARGV[2]) then return -1 end
end
local msgs = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 2)
local top, last = 0, 0
for i, m in ipairs(msgs) do
  local n = tonumber(string.match(m[1], '^(%d+)'))
  if i == 1 then top = n end
  local isEnd = false
  for j = 1, #m[2], 2 do
    if m[2][j] == 'end' then isEnd = true end
  end
  if not isEnd then
    last = n
    break
  end
end
if top > last then return 0 end
redis.call('XADD', KEYS[1], (last + 1) .. '-0', 'end', ARGV[1])
return 1
`)

// EndLogOf is EndLog fenced by attempt: it ends the stream only while the
// build's record says attempt ended in state, and returns ErrAttemptOver
// otherwise, so that a worker that lost its build (the reaper re-queued it
// while the worker could not reach Redis) never ends the stream the next
// attempt writes on: readers stop at the end marker and would miss every
// later line. A record Redis lost does not fence.
func (s *Store) EndLogOf(ctx context.Context, id string, attempt int, state tasks.State) error {
	n, err := endScript.Run(ctx, s.rdb, []string{LogKey(id), rediskey.Build(id)}, string(state), attempt).Int()
	if err != nil {
		return fmt.Errorf("end log of build %s: %w", id, err)
	}
	if n < 0 {
		return fmt.Errorf("end log of build %s attempt %d as %s: %w", id, attempt, state, ErrAttemptOver)
	}
	return nil
}

// LogChunk is a run of consecutive lines of a build log: First to Last,
// their texts joined by "\n" in Text (no newline after the last).
type LogChunk struct {
	First, Last int
	Text        string
}

// Lines splits the chunk into its lines.
func (c LogChunk) Lines(dst []LogLine) []LogLine {
	text := c.Text
	for n := c.First; n < c.Last; n++ {
		i := strings.IndexByte(text, '\n')
		dst = append(dst, LogLine{N: n, Text: text[:i]})
		text = text[i+1:]
	}
	return append(dst, LogLine{N: c.Last, Text: text})
}

// After returns the part of c after line n (c.Last > n).
func (c LogChunk) After(n int) LogChunk {
	for ; c.First <= n; c.First++ {
		c.Text = c.Text[strings.IndexByte(c.Text, '\n')+1:]
	}
	return c
}

// upTo returns the part of c up to line n (c.First <= n).
func (c LogChunk) upTo(n int) LogChunk {
	if c.Last <= n {
		return c
	}
	i := -1
	for k := c.First; k <= n; k++ {
		i += 1 + strings.IndexByte(c.Text[i+1:], '\n')
	}
	c.Text, c.Last = c.Text[:i], n
	return c
}

// ReadLog returns up to count lines after line number after. With block > 0
// it waits that long for new lines when there are none. end is the build's
// final state once the stream has ended, else "".
func (s *Store) ReadLog(ctx context.Context, id string, after int, count int64, block time.Duration) (lines []LogLine, end tasks.State, err error) {
	chunks, end, err := s.ReadLogChunks(ctx, id, after, count, block)
	for _, c := range chunks {
		lines = c.Lines(lines)
	}
	return lines, end, err
}

// ReadLogChunks is ReadLog returning the lines as the runs they are stored
// in, which costs no copy or split per line.
func (s *Store) ReadLogChunks(ctx context.Context, id string, after int, count int64, block time.Duration) (chunks []LogChunk, end tasks.State, err error) {
	key := LogKey(id)
	count = max(count, 1)
	// Entries hold 1 to entryLines lines: ask for few at first, then as
	// many as the runs seen so far say are needed for count lines.
	n := min(count, 16)
	var msgs []redis.XMessage
	if block > 0 {
		res, err := s.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{key, streamID(after)}, Count: n, Block: block}).Result()
		if errors.Is(err, redis.Nil) {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("read log of build %s: %w", id, err)
		}
		for _, st := range res {
			msgs = append(msgs, st.Messages...)
		}
	} else {
		msgs, err = s.rdb.XRangeN(ctx, key, streamID(after+1), "+", n).Result()
		if err != nil {
			return nil, "", fmt.Errorf("read log of build %s: %w", id, err)
		}
	}
	got := int64(0)
	for {
		for _, m := range msgs {
			c, st, err := entry(m)
			if err != nil {
				return nil, "", fmt.Errorf("read log of build %s: %w", id, err)
			}
			if st != "" {
				return chunks, st, nil
			}
			if c.Last <= after {
				continue
			}
			if c.First <= after {
				c = c.After(after)
			}
			if got+int64(c.Last-c.First+1) >= count {
				c = c.upTo(c.First + int(count-got) - 1)
				return append(chunks, c), "", nil
			}
			chunks = append(chunks, c)
			got += int64(c.Last - c.First + 1)
			after = c.Last
		}
		if int64(len(msgs)) < n {
			return chunks, "", nil
		}
		// More may be there.
		per := max(got/int64(max(len(chunks), 1)), 1)
		n = min((count-got+per-1)/per+1, 1000)
		msgs, err = s.rdb.XRangeN(ctx, key, "("+msgs[len(msgs)-1].ID, "+", n).Result()
		if err != nil {
			return nil, "", fmt.Errorf("read log of build %s: %w", id, err)
		}
	}
}

// TailLog returns the last n lines of the log of build id, oldest first,
// and the build's final state once the stream has ended.
func (s *Store) TailLog(ctx context.Context, id string, n int) ([]LogLine, tasks.State, error) {
	key := LogKey(id)
	var end tasks.State
	var chunks []LogChunk // newest first
	got, before := 0, "+"
	count := int64(min(n, 16)) + 1
	for got < n {
		msgs, err := s.rdb.XRevRangeN(ctx, key, before, "-", count).Result()
		if err != nil {
			return nil, "", fmt.Errorf("read the tail of the log of build %s: %w", id, err)
		}
		for _, m := range msgs {
			c, st, err := entry(m)
			if err != nil {
				return nil, "", fmt.Errorf("read the tail of the log of build %s: %w", id, err)
			}
			if st != "" {
				end = st
				continue
			}
			if got+c.Last-c.First+1 > n {
				c = c.After(c.Last - (n - got))
			}
			chunks = append(chunks, c)
			got += c.Last - c.First + 1
			if got >= n {
				break
			}
		}
		if int64(len(msgs)) < count {
			break
		}
		before = "(" + msgs[len(msgs)-1].ID
		per := max(got/max(len(chunks), 1), 1)
		count = int64((n-got+per-1)/per) + 1
	}
	lines := make([]LogLine, 0, got)
	for i := len(chunks) - 1; i >= 0; i-- {
		lines = chunks[i].Lines(lines)
	}
	return lines, end, nil
}

// entry decodes a stream entry: a run of lines, or the end marker's state.
func entry(m redis.XMessage) (LogChunk, tasks.State, error) {
	if st, ok := m.Values["end"].(string); ok {
		return LogChunk{}, tasks.State(st), nil
	}
	last := lineNumber(m.ID)
	if z, ok := m.Values["s"].(string); ok {
		k, _ := m.Values["n"].(string)
		n, err := strconv.Atoi(k)
		text, derr := s2.Decode(nil, []byte(z))
		if err != nil || derr != nil || n < 1 || bytes.Count(text, []byte{'\n'}) != n-1 {
			return LogChunk{}, "", fmt.Errorf("log stream entry %s is damaged", m.ID)
		}
		return LogChunk{First: last - n + 1, Last: last, Text: string(text)}, "", nil
	}
	text, _ := m.Values["l"].(string)
	return LogChunk{First: last - strings.Count(text, "\n"), Last: last, Text: text}, "", nil
}
