package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Error is one problem in a configuration or adapter file, located so that an
// operator can jump straight to it.
type Error struct {
	File string // path as given to the loader
	Line int    // 1-based; 0 when the key could not be located
	Key  string // dotted key path, e.g. jobs.build.stage
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// problems collects every error of one file so that a user fixes them in one go
// instead of one per run.
type problems struct {
	file string
	data []byte
	errs []error
}

func (p *problems) add(key []string, format string, args ...any) {
	p.errs = append(p.errs, &Error{
		File: p.file,
		Line: locate(p.data, key),
		Key:  strings.Join(key, "."),
		Msg:  fmt.Sprintf(format, args...),
	})
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// locate finds the line that defines key in TOML source. BurntSushi/toml reports
// positions only for syntax errors, so semantic errors are located by scanning:
// the longest table header that prefixes key, then the first assignment of the
// remaining key below it. Inline tables are found through their parent key.
func locate(data []byte, key []string) int {
	if len(key) == 0 {
		return 0
	}
	type cand struct{ line, depth int }
	best := cand{}
	var table []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			h := strings.Trim(strings.SplitN(line, "#", 2)[0], " \t")
			h = strings.TrimSpace(strings.Trim(h, "[]"))
			table = splitKey(h)
			if d := prefixLen(key, table); d == len(table) && d > best.depth {
				best = cand{n, d}
			}
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 || prefixLen(key, table) != len(table) {
			continue
		}
		full := append(append([]string{}, table...), splitKey(strings.TrimSpace(line[:eq]))...)
		if d := prefixLen(key, full); d == len(full) && d > best.depth {
			best = cand{n, d}
		}
	}
	return best.line
}

// splitKey splits a dotted TOML key, honouring quoted parts.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}

func prefixLen(key, other []string) int {
	n := 0
	for n < len(key) && n < len(other) && key[n] == other[n] {
		n++
	}
	return n
}
