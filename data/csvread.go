package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// csvRows reads the data rows of a CSV file with a header and accounts for every physical
// line it consumes: each line is part of the header, of a row handed to the caller, of a
// problem recorded as BadMalformedRow (with Problem.Lines when a problem covers several
// lines), or blank. Quotes are strict (no LazyQuotes): a quote left open is reported with
// the line where it opened and the number of lines it swallowed, and those lines count as
// bad, one each, towards PrepareOptions.MaxBadShare.
type csvRows struct {
	f      *os.File
	cr     *csv.Reader
	bar    *progress
	count  *countingReader
	base   string // file name, for Problem.Where
	file   string // path, for errors
	header []string
	// lines counts the physical lines in the header, handed-out rows and bad rows.
	lines int
}

// openCSVRows opens a CSV (tab-separated when tab is set), checks its text encoding, skips
// a UTF-8 byte-order mark and reads the header.
func openCSVRows(file string, tab bool, o PrepareOptions, desc string) (*csvRows, error) {
	f, err := openRegular(file)
	if err != nil {
		return nil, err
	}
	size := 0
	if st, err := f.Stat(); err == nil {
		size = int(st.Size())
	}
	bar := newProgress(o.Progress, o.Quiet, size, desc)
	count := &countingReader{r: f, bar: bar}
	br := bufio.NewReaderSize(count, 1<<20)
	head, _ := br.Peek(4096)
	if err := checkTextEncoding(head); err != nil {
		bar.finish()
		f.Close()
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if bytes.HasPrefix(head, []byte("\ufeff")) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	if tab {
		cr.Comma = '\t'
	}
	r := &csvRows{f: f, cr: cr, bar: bar, count: count, base: filepath.Base(file), file: file}
	header, err := cr.Read()
	if err != nil {
		r.close()
		return nil, fmt.Errorf("%s: reading the header: %w", file, err)
	}
	r.header = append([]string(nil), header...)
	r.lines = rowLines(header)
	return r, nil
}

func (r *csvRows) close() {
	r.bar.finish()
	r.f.Close()
}

// rowLines is the number of physical lines the record just read spans: its first line plus
// one per line break inside its (quoted) fields.
func rowLines(row []string) int {
	n := 1
	for _, v := range row {
		n += strings.Count(v, "\n")
	}
	return n
}

// lineRange formats where a span of lines is: "base:12" or "base:12-40".
func lineRange(base string, first, n int) string {
	if n <= 1 {
		return fmt.Sprintf("%s:%d", base, first)
	}
	return fmt.Sprintf("%s:%d-%d", base, first, first+n-1)
}

// next returns the next row with as many fields as the header. Rows that cannot be read, and
// rows with another number of fields, are recorded in c as BadMalformedRow and skipped. It
// returns the row, where it is (base:line), and ok = false at the end of the file; err is an
// error reading the file itself. The row is reused by the next call.
func (r *csvRows) next(c *candidates) (row []string, where string, ok bool, err error) {
	for {
		row, err := r.cr.Read()
		if errors.Is(err, io.EOF) {
			return nil, "", false, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, "", false, fmt.Errorf("%s: %w", r.file, err)
			}
			r.parseProblem(c, pe)
			continue
		}
		first, _ := r.cr.FieldPos(0)
		n := rowLines(row)
		r.lines += n
		if len(row) != len(r.header) {
			detail := fmt.Sprintf("%d fields, the header has %d", len(row), len(r.header))
			if n > 1 {
				detail = fmt.Sprintf("one row spans lines %d-%d (%d lines) and has %d fields, the header has %d: "+
					"a quote opened on line %d is probably not closed", first, first+n-1, n, len(row), len(r.header), first)
			}
			c.problems = append(c.problems, Problem{Kind: BadMalformedRow, Where: lineRange(r.base, first, n),
				Detail: detail, Lines: n})
			continue
		}
		return row, fmt.Sprintf("%s:%d", r.base, first), true, nil
	}
}

// parseProblem records a row the CSV reader refused. A quoted field that runs over several
// lines before the error swallowed them all: they are reported, and counted, as bad lines.
func (r *csvRows) parseProblem(c *candidates, pe *csv.ParseError) {
	start := pe.StartLine
	if start <= 0 {
		start = pe.Line
	}
	n := max(pe.Line-start+1, 1)
	r.lines += n
	detail := pe.Err.Error()
	if n > 1 {
		detail = fmt.Sprintf("a quote opened on line %d is not closed properly (%v on line %d, column %d): "+
			"lines %d-%d (%d lines) could not be read", start, pe.Err, pe.Line, pe.Column, start, pe.Line, n)
	} else if pe.Column > 0 {
		detail = fmt.Sprintf("%v (column %d)", pe.Err, pe.Column)
	}
	c.problems = append(c.problems, Problem{Kind: BadMalformedRow, Where: lineRange(r.base, start, n), Detail: detail, Lines: n})
}

// physicalLines is the number of lines in the bytes read so far (a last line without a
// final line break counts).
func (r *csvRows) physicalLines() int {
	n := r.count.newlines
	if r.count.last != '\n' && r.count.bytes > 0 {
		n++
	}
	return n
}

// finish checks that every physical line was accounted for and records the count.
func (r *csvRows) finish(c *candidates) error {
	total := r.physicalLines()
	if c.lines == nil {
		c.lines = map[string]int{}
	}
	c.lines[r.base] = total
	if c.accounted == nil {
		c.accounted = map[string]int{}
	}
	c.accounted[r.base] = r.lines
	// Blank lines are the only ones the CSV reader skips silently.
	if r.lines > total {
		return fmt.Errorf("%s: accounted for %d lines but the file has %d (internal error)", r.file, r.lines, total)
	}
	return nil
}

// countingReader counts bytes and line breaks read, and drives a progress bar.
type countingReader struct {
	r        io.Reader
	bar      *progress
	bytes    int64
	newlines int
	last     byte
}

// Read reads, counts and advances the bar.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.bytes += int64(n)
		c.newlines += bytes.Count(p[:n], []byte{'\n'})
		c.last = p[n-1]
	}
	if c.bar != nil {
		c.bar.add(n)
	}
	return n, err
}

// checkTextEncoding refuses text that is not UTF-8: a UTF-16 or UTF-32 byte-order mark, or
// NUL bytes (UTF-16 without a mark, or a binary file), named so the user can convert it.
func checkTextEncoding(head []byte) error {
	switch {
	case bytes.HasPrefix(head, []byte{0xff, 0xfe, 0, 0}), bytes.HasPrefix(head, []byte{0, 0, 0xfe, 0xff}):
		return errors.New("the file is UTF-32 (byte-order mark): save it as UTF-8")
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}):
		return errors.New("the file is UTF-16 little-endian (byte-order mark FF FE): save it as UTF-8")
	case bytes.HasPrefix(head, []byte{0xfe, 0xff}):
		return errors.New("the file is UTF-16 big-endian (byte-order mark FE FF): save it as UTF-8")
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return fmt.Errorf("the file has a NUL byte at offset %d: UTF-16 without a byte-order mark, or not a text file; save it as UTF-8", i)
	}
	return nil
}
