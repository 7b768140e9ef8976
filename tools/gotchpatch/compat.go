package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The compatibility step. gotch's C++ wrappers (libtch/torch_api_generated.cpp.h,
// included by libtch/torch_api.cpp) are generated for one libtorch; against
// another, some call functions or overloads that do not exist there, and the
// whole package fails to build. Compat compiles torch_api.cpp with
// "-fsyntax-only", attributes every error to the wrapper it occurs in, replaces
// the body of those wrappers with one that throws inside PROTECT (so the error
// reaches Go as an ordinary error from the ts wrapper, and the C symbol still
// exists for cgo to link), and repeats until the file compiles.

// compatSources are the libtch files whose functions Compat may stub. Errors
// located anywhere else (libtorch's headers, torch_api.h, the stb headers) are
// attributed through the compiler's instantiation context, or not at all.
var compatSources = []string{"torch_api_generated.cpp.h", "torch_api.cpp"}

// StubListFile is the file, in libtch, where Compat records the names of the
// functions it stubbed, one a line, for reference.
const StubListFile = "vbg-stubbed.txt"

// maxCompatPasses bounds the compile-and-stub loop. Against libtorch 1.13.1
// one pass finds every failing wrapper; later passes only catch errors the
// compiler reports once others are gone.
const maxCompatPasses = 6

// stubbable tells whether a function is part of libtch's C API (atg_*, at_*,
// atc_*, ati_*, atm_*, ato_*, ats_*) and so may be replaced by a stub: its
// callers are Go code, which reads the error PROTECT records.
var stubbable = regexp.MustCompile(`^at[a-z]?_\w+$`)

// Compat makes gotch's C++ part compile against the libtorch l describes. It
// stubs every libtch C API function that does not compile (see the comment at
// the top of this file), writes the names to libtch/StubListFile and returns
// them sorted. It fails when an error cannot be attributed to such a
// function, when a stubbed function still fails (its signature uses something
// this libtorch lacks), or when the file does not compile after
// maxCompatPasses passes. cxx is the C++ compiler (GCC's diagnostics format is
// what the parser reads; clang's works for errors located in the wrappers).
func Compat(gotchDir string, l Libtorch, cxx string) ([]string, error) {
	dir, err := filepath.Abs(filepath.Join(gotchDir, "libtch"))
	if err != nil {
		return nil, fmt.Errorf("compat: %w", err)
	}
	args := []string{"-fsyntax-only", "-w", "-std=c++17",
		fmt.Sprintf("-D_GLIBCXX_USE_CXX11_ABI=%d", l.CXX11ABI), "-I" + dir}
	for _, inc := range l.Includes {
		args = append(args, "-I"+inc)
	}
	if strings.Contains(filepath.Base(cxx), "clang") {
		args = append(args, "-ferror-limit=0") // clang stops after 20 by default
	}
	args = append(args, "torch_api.cpp")
	compile := func() (string, bool, error) {
		cmd := exec.Command(cxx, args...)
		cmd.Dir = dir
		// Plain ASCII quotes and English messages, whatever the user's locale.
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return string(out), true, nil
		case errors.As(err, &exit):
			return string(out), false, nil
		default:
			return "", false, fmt.Errorf("run %s: %w", cxx, err)
		}
	}
	names, err := compatLoop(dir, l.Version, compile)
	if err != nil {
		return nil, fmt.Errorf("compat with libtorch %s (%s): %w", l.Version, l.Dir, err)
	}
	var list strings.Builder
	fmt.Fprintf(&list, "# Written by VBG's tools/gotchpatch: libtch functions that do not compile\n"+
		"# against libtorch %s (%s); their bodies now throw, so calling them returns an error.\n", l.Version, l.Dir)
	for _, n := range names {
		list.WriteString(n + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, StubListFile), []byte(list.String()), 0o644); err != nil {
		return nil, fmt.Errorf("compat: write stub list: %w", err)
	}
	return names, nil
}

// compatLoop runs compile, stubs the functions its errors are attributed to in
// the compatSources under dir, and repeats until compile succeeds. compile
// returns the compiler's output and whether it succeeded; tests pass a fake.
func compatLoop(dir, version string, compile func() (out string, ok bool, err error)) ([]string, error) {
	stubbed := map[string]bool{}
	for pass := 1; pass <= maxCompatPasses; pass++ {
		out, ok, err := compile()
		if err != nil {
			return nil, err
		}
		if ok {
			return sortedKeys(stubbed), nil
		}
		files := map[string]*cppFile{}
		for _, name := range compatSources {
			path := filepath.Join(dir, name)
			src, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			files[path] = parseCpp(string(src))
		}
		targets, stray := attributeErrors(out, dir, files)
		if len(targets) == 0 {
			if len(stray) == 0 {
				return nil, fmt.Errorf("the compiler failed without an error message the parser understands:\n%s", tail(out, 40))
			}
			return nil, fmt.Errorf("libtch does not compile, and %d errors are not inside a libtch C API function, so they cannot be stubbed; the first:\n%s",
				len(stray), strings.Join(first(stray, 5), "\n"))
		}
		for path, fns := range targets {
			for name, msg := range fns {
				if stubbed[name] {
					return nil, fmt.Errorf("%s still fails after its body was stubbed; its signature must use something this libtorch lacks (%s: %s)",
						name, filepath.Base(path), msg)
				}
			}
		}
		for path, fns := range targets {
			f := files[path]
			src, err := f.stub(keys(fns), func(name string) string {
				return name + " is not available in this libtorch " + version
			})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
			}
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				return nil, fmt.Errorf("write %s: %w", filepath.Base(path), err)
			}
			for name := range fns {
				stubbed[name] = true
			}
		}
	}
	return nil, fmt.Errorf("libtch still does not compile after %d passes of stubbing (%d functions stubbed)", maxCompatPasses, len(stubbed))
}

// cppFile is a C++ source with the extent of its top-level function
// definitions.
type cppFile struct {
	src   string
	lines []int // byte offset at which each line starts; lines[0] is line 1
	funcs []cppFunc
}

// cppFunc is one top-level function definition in a cppFile.
type cppFunc struct {
	Name     string
	Start    int  // byte offset of the first character of the declaration
	Open     int  // byte offset of the body's '{'
	Close    int  // byte offset of the body's '}'
	Void     bool // the return type is void
	Template bool // a template: not a C API function, never stubbed
}

// parseCpp finds the top-level function definitions of src. It understands
// enough C++ for gotch's sources: comments, string and character literals,
// preprocessor lines, extern "C" and namespace blocks (whose contents count
// as top level), and other braced top-level constructs (skipped).
func parseCpp(src string) *cppFile {
	f := &cppFile{src: src, lines: []int{0}}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			f.lines = append(f.lines, i+1)
		}
	}
	var (
		depth       int  // brace depth inside the current top-level construct
		transparent int  // open extern "C" / namespace blocks
		declStart   = -1 // start of the current top-level declaration
		cur         *cppFunc
	)
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			i = lineEnd(src, i) - 1
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			if e := strings.Index(src[i+2:], "*/"); e >= 0 {
				i += e + 3
			} else {
				i = len(src)
			}
			continue
		case c == '#' && atLineStart(src, i):
			for { // a preprocessor line, with its continuations
				e := lineEnd(src, i)
				i = e
				if e == 0 || e >= len(src) || src[e-1] != '\\' {
					break
				}
				i = e + 1
			}
			if depth == 0 {
				declStart = -1
			}
			continue
		case c == '"' || (c == '\'' && !(i > 0 && isIdent(src[i-1]))):
			if depth == 0 && declStart < 0 {
				declStart = i
			}
			i = literalEnd(src, i)
			continue
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		}
		if depth == 0 && declStart < 0 && c != '}' && c != ';' {
			declStart = i
		}
		switch c {
		case '{':
			if depth == 0 {
				decl := ""
				if declStart >= 0 {
					decl = src[declStart:i]
				}
				if isBlockScope(decl) {
					transparent++
					declStart = -1
					continue
				}
				if fn, ok := funcDecl(decl); ok {
					fn.Start, fn.Open = declStart, i
					cur = &fn
				}
			}
			depth++
		case '}':
			if depth == 0 {
				if transparent > 0 {
					transparent--
				}
				declStart = -1
				continue
			}
			depth--
			if depth == 0 {
				if cur != nil {
					cur.Close = i
					f.funcs = append(f.funcs, *cur)
					cur = nil
				}
				declStart = -1
			}
		case ';':
			if depth == 0 {
				declStart = -1
			}
		}
	}
	return f
}

var (
	blockScope = regexp.MustCompile(`^\s*(extern\s*"C"|namespace\b)`)
	funcName   = regexp.MustCompile(`\b([A-Za-z_]\w*)\s*\(`)
	template   = regexp.MustCompile(`^\s*template\s*<`)
	qualifiers = regexp.MustCompile(`\b(static|inline|constexpr)\b|\bextern(\s*"C")?`)
)

// isBlockScope tells an extern "C" { or namespace x { opening.
func isBlockScope(decl string) bool {
	return blockScope.MatchString(decl) && !strings.Contains(decl, "(")
}

// funcDecl reads the name and return type of a function definition's
// declaration (the text before its '{'); ok is false for anything else.
func funcDecl(decl string) (cppFunc, bool) {
	m := funcName.FindStringSubmatchIndex(decl)
	if m == nil || strings.Contains(decl[:m[0]], "=") {
		return cppFunc{}, false // not a function; an initializer or a lambda
	}
	fn := cppFunc{Name: decl[m[2]:m[3]], Template: template.MatchString(decl)}
	ret := qualifiers.ReplaceAllString(decl[:m[2]], "")
	fn.Void = strings.TrimSpace(ret) == "void"
	return fn, true
}

// line returns the 1-based line of byte offset off.
func (f *cppFile) line(off int) int {
	return sort.Search(len(f.lines), func(i int) bool { return f.lines[i] > off })
}

// funcAt returns the function whose definition spans the given 1-based line.
func (f *cppFile) funcAt(line int) (cppFunc, bool) {
	for _, fn := range f.funcs {
		if f.line(fn.Start) <= line && line <= f.line(fn.Close) {
			return fn, true
		}
	}
	return cppFunc{}, false
}

// stub returns the source with the body of each named function replaced by
// one that throws msg(name) inside PROTECT, and returns a value-initialized
// result after it when the function is not void. The signature is kept, so
// the C symbol still exists.
func (f *cppFile) stub(names []string, msg func(string) string) (string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var fns []cppFunc
	for _, fn := range f.funcs {
		if want[fn.Name] {
			fns = append(fns, fn)
			delete(want, fn.Name)
		}
	}
	if len(want) > 0 {
		return "", fmt.Errorf("no definition of %s", strings.Join(sortedKeys(want), ", "))
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Open > fns[j].Open })
	src := f.src
	for _, fn := range fns {
		var b strings.Builder
		b.WriteString("{\n  // Stubbed by VBG's gotchpatch: the generated body does not compile here.\n  PROTECT(\n")
		fmt.Fprintf(&b, "    throw std::runtime_error(%s);\n  )\n", strconv.Quote(msg(fn.Name)))
		if !fn.Void {
			b.WriteString("  return {};\n")
		}
		b.WriteString("}")
		src = src[:fn.Open] + b.String() + src[fn.Close+1:]
	}
	return src, nil
}

// diagLine matches a compiler diagnostic that names a location:
// "file:line:col: rest" (the column is optional).
var diagLine = regexp.MustCompile(`^([^\s:][^:]*):(\d+):(?:\d+:)?\s+(.*)$`)

// inFunction matches GCC's "file: In function 'int atg_x(...)':" header.
var inFunction = regexp.MustCompile(`^([^\s:][^:]*): In function '(?:[^'(]*[\s*&])?(\w+)\(`)

// attributeErrors reads compiler output and returns, for each source in files
// (keyed by absolute path), the stubbable functions that have errors, each
// with its first message; stray lists the errors it could not attribute.
//
// An error is attributed to the first stubbable, non-template function
// enclosing one of: its own location; the locations of the instantiation
// context printed before it ("required from ..." lines since the last "In
// ..." header, innermost first); the locations in the notes printed after it
// (clang's "in instantiation ... requested here", macro expansions); and,
// last, the function named by GCC's "In function" header.
func attributeErrors(out, dir string, files map[string]*cppFile) (map[string]map[string]string, []string) {
	type loc struct {
		path string
		line int
	}
	resolve := func(file, line string) (loc, bool) {
		p := file
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		p = filepath.Clean(p)
		if files[p] == nil {
			return loc{}, false
		}
		n, _ := strconv.Atoi(line)
		return loc{p, n}, true
	}
	lines := strings.Split(out, "\n")
	targets := map[string]map[string]string{}
	var stray []string
	var context []loc
	var header struct {
		path, name string
	}
	for i, ln := range lines {
		ln = strings.TrimRight(ln, "\r")
		if strings.HasPrefix(ln, "In file included from") || strings.HasPrefix(strings.TrimSpace(ln), "from ") && strings.HasPrefix(ln, " ") {
			context, header.path, header.name = nil, "", ""
			continue
		}
		if m := inFunction.FindStringSubmatch(ln); m != nil {
			context, header.path, header.name = nil, "", ""
			if l, ok := resolve(m[1], "1"); ok {
				header.path, header.name = l.path, m[2]
			}
			continue
		}
		if (strings.Contains(ln, ": In ") || strings.Contains(ln, ": At global scope")) && strings.HasSuffix(ln, ":") && !diagLine.MatchString(ln) {
			context, header.path, header.name = nil, "", "" // In instantiation of, In member function, ...
			continue
		}
		m := diagLine.FindStringSubmatch(ln)
		if m == nil {
			continue
		}
		rest := m[3]
		if strings.HasPrefix(rest, "required from") || strings.HasPrefix(rest, "required by") || strings.HasPrefix(rest, "instantiated from") {
			if l, ok := resolve(m[1], m[2]); ok {
				context = append(context, l)
			}
			continue
		}
		if !strings.HasPrefix(rest, "error:") && !strings.HasPrefix(rest, "fatal error:") {
			continue
		}
		var cands []loc
		if l, ok := resolve(m[1], m[2]); ok {
			cands = append(cands, l)
		}
		cands = append(cands, context...)
		for _, next := range lines[i+1:] {
			n := diagLine.FindStringSubmatch(next)
			if n == nil {
				if strings.HasPrefix(next, " ") || strings.TrimSpace(next) == "" {
					continue // source excerpt and caret lines
				}
				break
			}
			if !strings.HasPrefix(n[3], "note:") {
				break
			}
			if l, ok := resolve(n[1], n[2]); ok {
				cands = append(cands, l)
			}
		}
		found := false
		for _, c := range cands {
			fn, ok := files[c.path].funcAt(c.line)
			if ok && !fn.Template && stubbable.MatchString(fn.Name) {
				addTarget(targets, c.path, fn.Name, ln)
				found = true
				break
			}
		}
		if !found && header.name != "" && stubbable.MatchString(header.name) {
			for _, fn := range files[header.path].funcs {
				if fn.Name == header.name && !fn.Template {
					addTarget(targets, header.path, fn.Name, ln)
					found = true
					break
				}
			}
		}
		if !found {
			stray = append(stray, ln)
		}
	}
	return targets, stray
}

func addTarget(t map[string]map[string]string, path, name, msg string) {
	if t[path] == nil {
		t[path] = map[string]string{}
	}
	if _, ok := t[path][name]; !ok {
		t[path][name] = msg
	}
}

// lineEnd returns the offset of the '\n' ending the line that holds i (or
// len(s)).
func lineEnd(s string, i int) int {
	if e := strings.IndexByte(s[i:], '\n'); e >= 0 {
		return i + e
	}
	return len(s)
}

// atLineStart tells whether only blanks precede offset i on its line.
func atLineStart(s string, i int) bool {
	for j := i - 1; j >= 0 && s[j] != '\n'; j-- {
		if s[j] != ' ' && s[j] != '\t' {
			return false
		}
	}
	return true
}

// literalEnd returns the offset of the quote closing the string or character
// literal that starts at i.
func literalEnd(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			return j
		case '\n':
			return j // unterminated: stop at the line's end
		}
	}
	return len(s)
}

func isIdent(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := keys(m)
	sort.Strings(out)
	return out
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
