package builds

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedora-fbs/fbs/tasks"
)

// LogLine is one numbered line of a build log. Line numbers start at 1 and
// are the stream IDs ("N-0"), so readers resume after line N exactly.
type LogLine struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

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

// appendScript adds numbered lines to a stream unless that would leave a
// gap: it returns the stream's last line number before the append, and
// appends nothing when that is below the first new line's number minus one.
// Lines already present are skipped.
var appendScript = redis.NewScript(`
local top = 0
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then top = tonumber(string.match(last[1][1], '^(%d+)')) end
local first = tonumber(ARGV[2])
if top < first - 1 then return top end
local maxlen = tonumber(ARGV[1])
local n = 0
for i = 3, #ARGV, 2 do
  local num = tonumber(string.match(ARGV[i], '^(%d+)'))
  if num > top then
    if maxlen > 0 then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, ARGV[i], 'l', ARGV[i+1])
    else
      redis.call('XADD', KEYS[1], ARGV[i], 'l', ARGV[i+1])
    end
    n = n + 1
  end
end
if n > 0 then redis.call('HINCRBY', KEYS[2], 'log_lines_published', n) end
return top
`)

// AppendLog adds lines (numbered consecutively) to the stream of build id,
// in one round trip. Lines already in the stream are skipped, so a retry
// after an error never repeats a line. maxLen > 0 trims the stream to about
// that many lines. It returns the number of the stream's last line before
// the call; when that is below lines[0].N-1 the stream has lost lines (a
// Redis that restarted empty) and nothing was added: the caller publishes
// again from the stream's last line.
func (s *Store) AppendLog(ctx context.Context, id string, lines []LogLine, maxLen int64) (int, error) {
	if len(lines) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 2+2*len(lines))
	args = append(args, maxLen, lines[0].N)
	for _, l := range lines {
		args = append(args, streamID(l.N), l.Text)
	}
	top, err := appendScript.Run(ctx, s.rdb, []string{LogKey(id), keyStats}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("publish log of build %s: %w", id, err)
	}
	return top, nil
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

// ReadLog returns up to count lines after line number after. With block > 0
// it waits that long for new lines when there are none. end is the build's
// final state once the stream has ended, else "".
func (s *Store) ReadLog(ctx context.Context, id string, after int, count int64, block time.Duration) (lines []LogLine, end tasks.State, err error) {
	key := LogKey(id)
	var msgs []redis.XMessage
	if block > 0 {
		res, err := s.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{key, streamID(after)}, Count: count, Block: block}).Result()
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
		msgs, err = s.rdb.XRangeN(ctx, key, "("+streamID(after), "+", count).Result()
		if err != nil {
			return nil, "", fmt.Errorf("read log of build %s: %w", id, err)
		}
	}
	for _, m := range msgs {
		l, st := entry(m)
		if st != "" {
			return lines, st, nil
		}
		lines = append(lines, l)
	}
	return lines, "", nil
}

// TailLog returns the last n lines of the log of build id, oldest first,
// and the build's final state once the stream has ended.
func (s *Store) TailLog(ctx context.Context, id string, n int) ([]LogLine, tasks.State, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, LogKey(id), "+", "-", int64(n)+1).Result()
	if err != nil {
		return nil, "", fmt.Errorf("read the tail of the log of build %s: %w", id, err)
	}
	var end tasks.State
	lines := make([]LogLine, 0, len(msgs))
	for i := len(msgs) - 1; i >= 0; i-- {
		l, st := entry(msgs[i])
		if st != "" {
			end = st
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, end, nil
}

// entry decodes a stream entry: a line, or the end marker's state.
func entry(m redis.XMessage) (LogLine, tasks.State) {
	if st, ok := m.Values["end"].(string); ok {
		return LogLine{}, tasks.State(st)
	}
	text, _ := m.Values["l"].(string)
	return LogLine{N: lineNumber(m.ID), Text: text}, ""
}
