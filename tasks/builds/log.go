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

// AppendLog adds lines to the stream of build id, in one round trip. Lines
// already in the stream are skipped, so a retry after an error never repeats
// a line. maxLen > 0 trims the stream to about that many lines.
func (s *Store) AppendLog(ctx context.Context, id string, lines []LogLine, maxLen int64) error {
	if len(lines) == 0 {
		return nil
	}
	key := LogKey(id)
	cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, l := range lines {
			a := &redis.XAddArgs{Stream: key, ID: streamID(l.N), Values: []string{"l", l.Text}}
			if maxLen > 0 {
				a.MaxLen, a.Approx = maxLen, true
			}
			p.XAdd(ctx, a)
		}
		return nil
	})
	for _, c := range cmds {
		if e := c.Err(); e != nil && !isOldID(e) {
			return fmt.Errorf("publish log of build %s: %w", id, e)
		}
	}
	if err != nil && !isOldID(err) {
		return fmt.Errorf("publish log of build %s: %w", id, err)
	}
	return nil
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
		if st, ok := m.Values["end"].(string); ok {
			return lines, tasks.State(st), nil
		}
		text, _ := m.Values["l"].(string)
		lines = append(lines, LogLine{N: lineNumber(m.ID), Text: text})
	}
	return lines, "", nil
}
