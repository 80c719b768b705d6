package web

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ironworks-ci/ironworks/coordinator/store"
)

// maxPageLines caps the lines rendered into a log page; the raw log and the
// JSON API give the rest.
const maxPageLines = 5000

// ansi matches terminal escape sequences (colours, cursor moves) that cargo
// and friends write; they mean nothing in a browser.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07`)

func cleanLine(b []byte) string {
	b = bytes.TrimSuffix(b, []byte("\r"))
	if bytes.IndexByte(b, 0x1b) >= 0 {
		b = ansi.ReplaceAll(b, nil)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// Bounds of what one log request holds: lines per batch of the live tail,
// bytes read per tick, and the longest line kept whole.
const (
	tailBatch      = 2000
	tailBatchBytes = 1 << 20
	maxLine        = 64 << 10
)

// logChunk is a run of consecutive lines of a log, numbered from 1.
type logChunk struct {
	First int      // number of Lines[0]
	Lines []string //
	Next  int      // lines consumed so far (complete lines, plus the partial tail when final)
	// Offset is the byte offset just past the consumed lines.
	Offset int64
}

// readLines reads the log at path from line number from+1, keeping at most
// keep lines (the last ones) and at most limit lines read (0: no limit). A
// final line without a newline is included only when final is set: while the
// job runs it may still be growing.
func readLines(path string, from, keep, limit int, final bool) (*logChunk, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &logChunk{First: from + 1, Next: from}
	off, err := skipLines(f, from)
	if err != nil {
		return nil, err
	}
	c.Offset = off
	r := bufio.NewReaderSize(f, 64<<10)
	for limit <= 0 || c.Next-from < limit {
		line, err := r.ReadSlice('\n')
		size := int64(len(line))
		cut := int64(0)
		if errors.Is(err, bufio.ErrBufferFull) {
			// An overlong line (a minified blob, a progress bar without
			// newlines): its first 64 KiB are shown, the rest is skipped
			// unread into memory, so a page never holds more than a window.
			buf := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				size += int64(len(line))
				cut += int64(len(bytes.TrimSuffix(line, []byte("\n"))))
			}
			line = append(buf, '\n')
		}
		complete := err == nil
		if !complete && (size == 0 || !final) {
			break
		}
		c.Offset += size
		c.Next++
		text := cleanLine(bytes.TrimSuffix(line, []byte("\n")))
		if cut > 0 {
			text += fmt.Sprintf(" … (%d more bytes of this line not shown; see the raw log)", cut)
		}
		c.Lines = append(c.Lines, text)
		if keep > 0 && len(c.Lines) > keep {
			c.Lines = c.Lines[1:]
			c.First++
		}
		if !complete {
			break
		}
	}
	return c, nil
}

// skipLines advances f past n lines and returns the offset reached. A
// shorter file leaves f at its end.
func skipLines(f *os.File, n int) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	buf := make([]byte, 64<<10)
	var off int64
	for {
		k, err := f.Read(buf)
		for i := 0; i < k; i++ {
			if buf[i] == '\n' {
				n--
				if n == 0 {
					off += int64(i + 1)
					_, serr := f.Seek(off, io.SeekStart)
					return off, serr
				}
			}
		}
		off += int64(k)
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}

// jobEvents streams a job's log as server-sent events: one event per line,
// its id the line number, so a reconnecting EventSource resumes with
// Last-Event-ID. The stream ends with an "end" event once the job is final
// and every line has been sent.
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) {
	runID, job, ok := runJob(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if _, err := s.st.JobResult(ctx, runID, job); err != nil {
		httpStoreError(w, err)
		return
	}
	from := 0
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		from, _ = strconv.Atoi(v)
	} else if v := r.URL.Query().Get("from"); v != "" {
		from, _ = strconv.Atoi(v)
	}
	from = max(from, 0)
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	// The server's WriteTimeout bounds ordinary answers; a stream lives as
	// long as its job.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx must not buffer the stream
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 2000\n\n")
	fl.Flush()
	err := s.tail(ctx, runID, job, from, func(lines []string, first int) error {
		bw := bufio.NewWriter(w)
		for i, l := range lines {
			fmt.Fprintf(bw, "id: %d\ndata: %s\n\n", first+i, l)
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		fl.Flush()
		return nil
	}, func(state string) {
		fmt.Fprintf(w, "event: end\ndata: %s\n\n", state)
		fl.Flush()
	})
	if err != nil && ctx.Err() == nil {
		s.log.Warn("web: log stream", "run", runID, "job", job, "err", err)
	}
}

// tail follows a job's log from line number from+1, handing complete lines
// to emit as they appear, until the job is final (then end is called with
// its state) or ctx ends.
func (s *Server) tail(ctx context.Context, runID int64, job string, from int, emit func([]string, int) error, end func(state string)) error {
	path := s.opts.LogPath(runID, job)
	next := from
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var pending []byte // a partial last line
	t := time.NewTicker(s.opts.TailInterval)
	defer t.Stop()
	for {
		// Look at the state before reading: whatever was written before the
		// job turned final is then read below.
		jr, err := s.st.JobResult(ctx, runID, job)
		if err != nil {
			return err
		}
		final := store.JobFinal(jr.State)
		if f == nil && path != "" {
			c, err := readLines(path, next, 0, tailBatch, false)
			switch {
			case err == nil:
				if len(c.Lines) > 0 {
					if err := emit(c.Lines, c.First); err != nil {
						return err
					}
				}
				if c.Next-next == tailBatch {
					// More to catch up on: the next batch at once, so
					// that no more than one batch is held.
					next = c.Next
					continue
				}
				next = c.Next
				if f, err = os.Open(path); err != nil {
					return err
				}
				if _, err := f.Seek(c.Offset, io.SeekStart); err != nil {
					return err
				}
			case errors.Is(err, fs.ErrNotExist):
				// Not started yet: wait for the file.
			default:
				return err
			}
		}
		if f != nil {
			data, err := io.ReadAll(io.LimitReader(f, tailBatchBytes))
			if err != nil {
				return err
			}
			pending = append(pending, data...)
			if len(pending) > maxLine && bytes.IndexByte(pending, '\n') < 0 {
				// A line that does not end: shown cut, not held whole.
				pending = append(pending[:maxLine:maxLine], '\n')
			}
			var lines []string
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				lines = append(lines, cleanLine(pending[:i]))
				pending = pending[i+1:]
			}
			if final && len(pending) > 0 {
				lines = append(lines, cleanLine(pending))
				pending = nil
			}
			if len(lines) > 0 {
				if err := emit(lines, next+1); err != nil {
					return err
				}
				next += len(lines)
			}
		}
		if final {
			end(jr.State)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Server) jobRaw(w http.ResponseWriter, r *http.Request) {
	runID, job, ok := runJob(w, r)
	if !ok {
		return
	}
	if _, err := s.st.JobResult(r.Context(), runID, job); err != nil {
		httpStoreError(w, err)
		return
	}
	path := s.opts.LogPath(runID, job)
	if path == "" {
		http.Error(w, "no local log for this job", http.StatusNotFound)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, "log not available", http.StatusNotFound)
		return
	}
	defer f.Close()
	// A 64 MiB log to a slow client outlasts the server's WriteTimeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(10 * time.Minute))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.Copy(w, f)
}
