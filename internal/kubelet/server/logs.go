package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// logOptions are the pods/log query parameters the kubelet honours.
type logOptions struct {
	follow, timestamps bool
	tail               int64 // -1: all
	since              time.Time
	limit              int64 // 0: unlimited
}

func parseLogOptions(r *http.Request) logOptions {
	q := r.URL.Query()
	o := logOptions{follow: boolParam(q, "follow"), timestamps: boolParam(q, "timestamps"), tail: -1}
	if v, err := strconv.ParseInt(q.Get("tailLines"), 10, 64); err == nil && v >= 0 {
		o.tail = v
	}
	if v, err := strconv.ParseInt(q.Get("sinceSeconds"), 10, 64); err == nil && v > 0 {
		o.since = time.Now().Add(-time.Duration(v) * time.Second)
	}
	if t, err := time.Parse(time.RFC3339, q.Get("sinceTime")); err == nil {
		o.since = t
	}
	if v, err := strconv.ParseInt(q.Get("limitBytes"), 10, 64); err == nil && v > 0 {
		o.limit = v
	}
	return o
}

// serveLogs streams a container's CRI log file ("<time> <stream> <P|F> <text>"
// lines) as plain text, flushing per line, following new lines while the
// container runs when asked to.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, name := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	previous := boolParam(r.URL.Query(), "previous")
	c, err := s.cfg.Pods.Container(r.Context(), ns, pod, name, previous)
	if err != nil {
		writeStatus(w, http.StatusBadRequest, err.Error())
		return
	}
	o := parseLogOptions(r)
	f, err := os.Open(c.LogPath)
	if err != nil {
		if os.IsNotExist(err) {
			w.Header().Set("Content-Type", "text/plain")
			return // no output yet
		}
		writeStatus(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Transfer-Encoding", "chunked")
	out := &limitWriter{w: w, left: o.limit}
	flusher, _ := w.(http.Flusher)
	if o.tail >= 0 {
		if err := seekTail(f, o.tail); err != nil {
			writeStatus(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	running := func() bool {
		if !o.follow || previous {
			return false
		}
		st, err := s.cfg.Pods.Container(r.Context(), ns, pod, name, false)
		return err == nil && st.Id == c.Id && st.State == runtimeapi.ContainerState_CONTAINER_RUNNING
	}
	_ = copyLog(r.Context(), f, out, o, flusher, running)
}

var errLimit = errors.New("limit reached")

type limitWriter struct {
	w    io.Writer
	left int64 // 0: unlimited
	used bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left == 0 && !l.used {
		return l.w.Write(p)
	}
	l.used = true
	if l.left <= 0 {
		return 0, errLimit
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	if err == nil && l.left == 0 {
		err = errLimit
	}
	return n, err
}

// copyLog decodes CRI log lines from f and writes them; at EOF it waits for more
// while running() holds.
func copyLog(ctx context.Context, f *os.File, w io.Writer, o logOptions, flusher http.Flusher, running func() bool) error {
	br := bufio.NewReaderSize(f, 64<<10)
	var partial []byte
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = append(partial, line...)
			partial = nil
			if werr := writeLine(w, line, o); werr != nil {
				return werr
			}
			continue
		}
		partial = append(partial, line...)
		if err != io.EOF {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		if !running() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func writeLine(w io.Writer, line []byte, o logOptions) error {
	line = bytes.TrimSuffix(line, []byte("\n"))
	parts := bytes.SplitN(line, []byte(" "), 4)
	if len(parts) < 4 {
		_, err := w.Write(append(line, '\n'))
		return err
	}
	ts, tag, text := parts[0], parts[2], parts[3]
	if !o.since.IsZero() {
		if t, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil && t.Before(o.since) {
			return nil
		}
	}
	var buf []byte
	if o.timestamps {
		buf = append(append(buf, ts...), ' ')
	}
	buf = append(buf, text...)
	if !bytes.Equal(tag, []byte("P")) {
		buf = append(buf, '\n')
	}
	_, err := w.Write(buf)
	return err
}

// seekTail positions f at the start of its last n lines.
func seekTail(f *os.File, n int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if n == 0 {
		_, err := f.Seek(size, io.SeekStart)
		return err
	}
	const chunk = 8192
	var count int64
	pos := size
	buf := make([]byte, chunk)
	for pos > 0 {
		readSize := int64(chunk)
		if pos < readSize {
			readSize = pos
		}
		pos -= readSize
		if _, err := f.ReadAt(buf[:readSize], pos); err != nil && err != io.EOF {
			return err
		}
		for i := readSize - 1; i >= 0; i-- {
			if buf[i] != '\n' || pos+i == size-1 {
				continue
			}
			count++
			if count == n {
				_, err := f.Seek(pos+i+1, io.SeekStart)
				return err
			}
		}
	}
	_, err = f.Seek(0, io.SeekStart)
	return err
}
