package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with an experiment file: where it is and what.
type Problem struct {
	File string // the YAML file, or "--set" for a command-line override
	Line int    // 1-based; 0 when unknown
	Key  string // dotted key path, e.g. "train.lr"
	Msg  string
}

func (p Problem) Error() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Key == "" {
		return loc + ": " + p.Msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Msg)
}

// Problems is every problem found in one load, in file order.
type Problems []Problem

// MaxShownProblems is the number of problems Problems.Error lists; the rest are counted.
const MaxShownProblems = 20

// Error lists the first MaxShownProblems problems, one per line, and counts the others.
func (ps Problems) Error() string {
	n := min(len(ps), MaxShownProblems)
	lines := make([]string, n, n+1)
	for i, p := range ps[:n] {
		lines[i] = p.Error()
	}
	if len(ps) > n {
		lines = append(lines, fmt.Sprintf("... and %d more problems (%d in all)", len(ps)-n, len(ps)))
	}
	return strings.Join(lines, "\n")
}

// MaxFileSize bounds an experiment file (16 MiB; real ones are a few KB).
const MaxFileSize = 16 << 20

// source remembers which file each YAML node came from, so that a merged
// tree (includes plus overrides) still reports file:line for every key.
type source struct {
	files map[*yaml.Node]string
}

func (s *source) mark(n *yaml.Node, file string) {
	s.files[n] = file
	for _, c := range n.Content {
		s.mark(c, file)
	}
}

func (s *source) where(n *yaml.Node) (string, int) {
	if n == nil {
		return "", 0
	}
	if f := s.files[n]; f != "--set" {
		return f, n.Line
	}
	return "--set", 0
}

// Load reads an experiment file with its includes, applies overrides of the
// form "key.path=value" (the value is parsed as YAML), and returns the
// validated config. Unknown keys, wrong types and out-of-range values are
// all reported, each with file, line and key. checks are further rules
// that need more than this package knows (package experiment checks that
// model.arch and the presets exist and that the model's shapes fit); their
// problems get file and line like Validate's.
func Load(path string, overrides []string, checks ...Check) (*Config, error) {
	src := &source{files: map[*yaml.Node]string{}}
	root, err := readTree(path, src, nil)
	if err != nil {
		return nil, err
	}
	for _, o := range overrides {
		if err := applyOverride(root, o, src); err != nil {
			return nil, err
		}
	}
	cfg := Default()
	var probs Problems
	decodeInto(root, reflect.ValueOf(cfg).Elem(), "", src, &probs)
	if len(probs) == 0 {
		found := cfg.Validate()
		if len(found) == 0 {
			for _, check := range checks {
				found = append(found, check(cfg)...)
			}
		}
		for _, p := range found {
			n := lookup(root, p.Key)
			p.File, p.Line = src.where(n)
			if p.File == "" {
				p.File = path
			}
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool {
			if probs[i].File != probs[j].File {
				return false
			}
			return probs[i].Line < probs[j].Line
		})
		return nil, probs
	}
	cfg.Source = path
	return cfg, nil
}

// Check is a validation rule beyond Validate: it returns the problems of a
// decoded, otherwise valid config, with Key set (Load fills in file and
// line).
type Check func(*Config) []Problem

// readTree parses path and merges it over its includes (paths relative to
// the including file). The result is one mapping node.
func readTree(path string, src *source, stack []string) (*yaml.Node, error) {
	abs, _ := filepath.Abs(path)
	for _, s := range stack {
		if s == abs {
			return nil, fmt.Errorf("%s: includes itself (through %s)", path, strings.Join(stack, " -> "))
		}
	}
	root, err := parseFile(path)
	if err != nil {
		return nil, err
	}
	src.mark(root, path)
	merged := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: root.Line}
	src.files[merged] = path
	own := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "includes" {
			own.Content = append(own.Content, k, v)
			continue
		}
		var incs []string
		if err := v.Decode(&incs); err != nil {
			return nil, Problem{File: path, Line: v.Line, Key: "includes", Msg: "want a list of file paths"}
		}
		for _, inc := range incs {
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(filepath.Dir(path), inc)
			}
			base, err := readTree(inc, src, append(stack, abs))
			if err != nil {
				return nil, err
			}
			mergeMaps(merged, base)
		}
	}
	mergeMaps(merged, own)
	return merged, nil
}

// parseFile reads and parses one YAML file: a regular file of at most
// MaxFileSize bytes whose top level is a mapping without duplicate keys.
func parseFile(path string) (root *yaml.Node, err error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("experiment: %w", err)
	}
	defer func() {
		// yaml.v3 panics on a few malformed inputs: report them like any
		// other syntax error.
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("%s: malformed YAML (%v)", path, r)
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1}
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, Problem{File: path, Line: root.Line, Msg: "the top level must be a mapping of keys"}
	}
	if dups := duplicateKeys(root, "", path, nil); len(dups) > 0 {
		return nil, dups
	}
	return root, nil
}

// readFile reads an experiment file, refusing anything but a regular file
// of at most MaxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d an experiment file may have", path, st.Size(), MaxFileSize)
	}
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// duplicateKeys reports every key defined twice in one mapping, naming
// both lines, in the whole tree under n (aliases are not followed).
func duplicateKeys(n *yaml.Node, path, file string, out Problems) Problems {
	switch n.Kind {
	case yaml.MappingNode:
		first := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			if line, dup := first[k.Value]; dup {
				out = append(out, Problem{File: file, Line: k.Line, Key: kp,
					Msg: fmt.Sprintf("duplicate key: already defined on line %d", line)})
			} else {
				first[k.Value] = k.Line
			}
			out = duplicateKeys(v, kp, file, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = duplicateKeys(c, fmt.Sprintf("%s[%d]", path, i), file, out)
		}
	}
	return out
}

// mergeMaps merges mapping src into dst: nested mappings merge key by key,
// anything else in src replaces dst's value. It takes time linear in the
// sizes of both.
func mergeMaps(dst, src *yaml.Node) {
	index := make(map[string]int, len(dst.Content)/2)
	for i := 0; i+1 < len(dst.Content); i += 2 {
		if _, ok := index[dst.Content[i].Value]; !ok {
			index[dst.Content[i].Value] = i
		}
	}
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		j, ok := index[k.Value]
		switch {
		case !ok:
			index[k.Value] = len(dst.Content)
			dst.Content = append(dst.Content, k, v)
		case v.Kind == yaml.MappingNode && dst.Content[j+1].Kind == yaml.MappingNode:
			mergeMaps(dst.Content[j+1], v)
		default:
			dst.Content[j], dst.Content[j+1] = k, v
		}
	}
}

func keyIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// applyOverride sets "a.b.c=value" in the tree, creating mappings as needed.
func applyOverride(root *yaml.Node, o string, src *source) error {
	key, val, ok := strings.Cut(o, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return Problem{File: "--set", Key: o, Msg: "want key.path=value"}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(val), &doc); err != nil {
		return Problem{File: "--set", Key: key, Msg: fmt.Sprintf("value %q is not valid YAML", val)}
	}
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
	if len(doc.Content) > 0 {
		v = doc.Content[0]
	}
	parts := strings.Split(key, ".")
	m := root
	for _, p := range parts[:len(parts)-1] {
		j := keyIndex(m, p)
		if j < 0 {
			child := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, child)
			src.mark(m.Content[len(m.Content)-2], "--set")
			src.mark(child, "--set")
			m = child
			continue
		}
		if m.Content[j+1].Kind != yaml.MappingNode {
			return Problem{File: "--set", Key: key, Msg: fmt.Sprintf("%s is not a mapping", p)}
		}
		m = m.Content[j+1]
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: parts[len(parts)-1]}
	src.mark(k, "--set")
	src.mark(v, "--set")
	mergeMaps(m, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k, v}})
	return nil
}

// lookup finds the value node at a dotted key path, or the deepest mapping
// on the way (so a problem with a defaulted key points at its section).
func lookup(root *yaml.Node, key string) *yaml.Node {
	n := root
	for _, p := range strings.Split(key, ".") {
		if n.Kind != yaml.MappingNode {
			return n
		}
		j := keyIndex(n, p)
		if j < 0 {
			return n
		}
		n = n.Content[j+1]
	}
	return n
}

var unmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// decodeInto decodes n into v field by field, so that every unknown key and
// every type error is reported with its own path, file and line.
func decodeInto(n *yaml.Node, v reflect.Value, path string, src *source, probs *Problems) {
	report := func(at *yaml.Node, key, msg string) {
		f, l := src.where(at)
		*probs = append(*probs, Problem{File: f, Line: l, Key: key, Msg: msg})
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if v.Kind() == reflect.Pointer {
		if n.Tag == "!!null" {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct && !reflect.PointerTo(v.Type()).Implements(unmarshaler) {
		if n.Kind != yaml.MappingNode {
			report(n, path, fmt.Sprintf("want a mapping of keys, got %s", describe(n)))
			return
		}
		fields := structFields(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := join(path, k.Value)
			idx, ok := fields[k.Value]
			if !ok {
				hint := ""
				if len(*probs) < 5*MaxShownProblems { // past that, nobody reads the hints
					hint = suggest(k.Value, fields)
				}
				report(k, kp, "unknown key"+hint)
				continue
			}
			decodeInto(val, v.FieldByIndex(idx), kp, src, probs)
		}
		return
	}
	if v.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode && v.Type().Elem().Kind() == reflect.Struct {
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			decodeInto(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i), src, probs)
		}
		v.Set(s)
		return
	}
	tmp := reflect.New(v.Type())
	if err := n.Decode(tmp.Interface()); err != nil {
		var te *yaml.TypeError
		msg := err.Error()
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = te.Errors[0]
			if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
				msg = rest
			}
		}
		report(n, path, fmt.Sprintf("want %s, got %s (%s)", typeName(v.Type()), describe(n), msg))
		return
	}
	v.Set(tmp.Elem())
}

func structFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		name := tag[0]
		if name == "-" {
			continue
		}
		if len(tag) > 1 && tag[1] == "inline" {
			for k, idx := range structFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = []int{i}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// suggest names the closest known key, for typos.
func suggest(key string, fields map[string][]int) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Marshal renders the resolved config as YAML, for the run folder.
func (c *Config) Marshal() ([]byte, error) {
	return yaml.Marshal(c)
}
