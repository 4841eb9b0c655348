package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/puawatch/puawatch/internal/duration"
	"github.com/puawatch/puawatch/internal/notify/kinds"
)

// The file is parsed with goccy/go-yaml's parser and decoded here, walking
// the syntax tree against the yaml tags of the destination struct, rather
// than with yaml.Unmarshal. Decoding ourselves lets every problem be
// reported at once, each with its line and YAML path, and avoids four
// surprises of the library decoder found while writing this package: it
// truncates 1.5 into an int, resets every default when the file is empty,
// ignores a second "---" document, and prints the offending source line
// (which may hold a secret) in its errors. A field is decoded by its kind:
// struct (a mapping), string and string-based types such as secret.Secret
// (any scalar, kept as written, so "0123" stays "0123"), bool, int,
// float64, []string (a list), and Duration (duration text).

// lineError is a problem found at a line of a YAML file.
type lineError struct {
	file string
	line int // 0 when unknown
	msg  string
}

func (e *lineError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.file, e.msg)
}

// decoder decodes one YAML file into a struct.
type decoder struct {
	file    string
	errs    []error
	set     map[string]bool // YAML paths the file gives a non-null value
	anchors map[string]ast.Node
	root    reflect.Type // for suggesting keys that belong elsewhere
}

// durationType is decoded from duration text by duration.Parse, wherever
// it appears (route's group_wait too), so every duration in the file
// follows the same rules and gives the same messages.
var (
	durationType = reflect.TypeFor[duration.Duration]()
	receiverType = reflect.TypeFor[Receiver]()
)

// decodeYAML decodes data, the content of file, into dst, a pointer to a
// struct already holding the defaults. Keys absent from the file or set to
// null keep their defaults. It returns the YAML paths the file sets and
// every problem found, joined.
func decodeYAML(file string, data []byte, dst any) (map[string]bool, error) {
	d := &decoder{file: file, set: map[string]bool{}, anchors: map[string]ast.Node{}}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			// GetMessage, not Error: the latter quotes the source line.
			return nil, &lineError{file: file, line: tokenLine(ye.GetToken()), msg: "invalid YAML: " + parserMessage(ye.GetMessage())}
		}
		return nil, &lineError{file: file, msg: "invalid YAML: " + err.Error()}
	}
	var bodies []ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if _, ok := doc.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		bodies = append(bodies, doc.Body)
	}
	if len(bodies) > 1 {
		return nil, &lineError{file: file, line: nodeLine(bodies[1]), msg: fmt.Sprintf("holds %d YAML documents (separated by ---): put the whole configuration in one", len(bodies))}
	}
	if len(bodies) == 0 {
		return d.set, nil
	}
	v := reflect.ValueOf(dst).Elem()
	d.root = v.Type()
	d.decodeValue(bodies[0], v, "")
	return d.set, errors.Join(d.errs...)
}

// parserMessage is the YAML parser's message, without the source text
// some of its messages quote: "invalid header option" quotes what follows
// the | or > starting a value, which may be a secret written without
// quotes.
func parserMessage(msg string) string {
	if strings.HasPrefix(msg, "invalid header option") {
		return "a value starting with | or > is a block scalar, which must start on the next line: quote the value if it is text"
	}
	return msg
}

func (d *decoder) errorf(n ast.Node, format string, args ...any) {
	d.errs = append(d.errs, &lineError{file: d.file, line: nodeLine(n), msg: fmt.Sprintf(format, args...)})
}

func tokenLine(tk *token.Token) int {
	if tk == nil || tk.Position == nil {
		return 0
	}
	return tk.Position.Line
}

func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	return tokenLine(n.GetToken())
}

// resolve follows anchors, aliases and tags to the node that holds the
// value, registering anchors on the way.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for range 64 {
		switch x := n.(type) {
		case *ast.AnchorNode:
			if x.Name != nil {
				d.anchors[x.Name.GetToken().Value] = x.Value
			}
			n = x.Value
		case *ast.AliasNode:
			name := ""
			if x.Value != nil {
				name = x.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				// The name is not shown: it may be a secret written
				// without quotes that happens to start with *.
				d.errorf(x, "a value starting with * is an alias, and this one names no anchor defined before it: quote the value if it is text")
				return nil
			}
			n = target
		case *ast.TagNode:
			n = x.Value
		case *ast.MappingKeyNode:
			n = x.Value
		default:
			return n
		}
	}
	d.errorf(n, "anchors and aliases nest too deeply")
	return nil
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// scalarText is the text of a scalar node as written (numbers and booleans
// too), and false for mappings, lists and null.
func scalarText(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		if x.Value == nil {
			return "", true
		}
		return x.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

// kindOf names what n is, for messages.
func kindOf(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	case nil, *ast.NullNode:
		return "nothing"
	}
	return "a " + n.Type().String()
}

func mappingEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch x := n.(type) {
	case *ast.MappingNode:
		return x.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{x}, true
	}
	return nil, false
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// decodeValue decodes n into v, the field at YAML path p. A null node
// leaves v as it is.
var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

func (d *decoder) decodeValue(n ast.Node, v reflect.Value, p string) {
	n = d.resolve(n)
	if isNull(n) {
		return
	}
	if p != "" {
		d.set[p] = true
	}
	t := v.Type()
	switch {
	case t == durationType:
		text, ok := scalarText(n)
		if !ok {
			d.errorf(n, "%s: expected a duration such as 5m, got %s", p, kindOf(n))
			return
		}
		dur, err := duration.Parse(text)
		if err != nil {
			d.errorf(n, "%s: %v", p, err)
			return
		}
		v.Set(reflect.ValueOf(dur))
	case t.Kind() != reflect.String && t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(textUnmarshalerType):
		text, ok := scalarText(n)
		if !ok {
			d.errorf(n, "%s: expected a single value, got %s", p, kindOf(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(text)); err != nil {
			d.errorf(n, "%s: %v", p, err)
		}
	case t == receiverType:
		d.decodeReceiver(n, v.Addr().Interface().(*Receiver), p)
	case t.Kind() == reflect.Struct:
		d.decodeStruct(n, v, p)
	case t.Kind() == reflect.Pointer:
		nv := reflect.New(t.Elem())
		d.decodeValue(n, nv.Elem(), p)
		v.Set(nv)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errorf(n, "%s: expected a list, got %s: write one \"- key: value\" item per entry", p, kindOf(n))
			return
		}
		out := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.decodeValue(item, out.Index(i), fmt.Sprintf("%s[%d]", p, i))
		}
		v.Set(out)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		entries, ok := mappingEntries(n)
		if !ok {
			d.errorf(n, "%s: expected a mapping (name: value lines), got %s", p, kindOf(n))
			return
		}
		out := reflect.MakeMapWithSize(t, len(entries))
		for _, mv := range entries {
			key, ok := scalarText(d.resolve(mv.Key))
			if !ok {
				d.errorf(mv, "%s: a key must be a plain name", p)
				continue
			}
			rv := d.resolve(mv.Value)
			if rv == nil {
				continue // resolve reported it: an alias naming no anchor
			}
			val, ok := scalarText(rv)
			if !ok {
				d.errorf(mv.Value, "%s.%s: expected a string, got %s", p, key, kindOf(rv))
				continue
			}
			out.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), reflect.ValueOf(val).Convert(t.Elem()))
		}
		v.Set(out)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errorf(n, "%s: expected a list, got %s: write [a, b] or one \"- item\" line per item", p, kindOf(n))
			return
		}
		out := reflect.MakeSlice(t, 0, len(seq.Values))
		for i, item := range seq.Values {
			item = d.resolve(item)
			if item == nil {
				continue // resolve reported it: an alias naming no anchor
			}
			text, ok := scalarText(item)
			if !ok {
				d.errorf(item, "%s[%d]: expected a string, got %s", p, i, kindOf(item))
				continue
			}
			out = reflect.Append(out, reflect.ValueOf(text).Convert(t.Elem()))
		}
		v.Set(out)
	case t.Kind() == reflect.String:
		text, ok := scalarText(n)
		if !ok {
			d.errorf(n, "%s: expected a string, got %s", p, kindOf(n))
			return
		}
		v.SetString(text)
	case t.Kind() == reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.errorf(n, "%s: expected true or false, got %s", p, describe(n))
			return
		}
		v.SetBool(b.Value)
	case t.Kind() == reflect.Int:
		i, ok := n.(*ast.IntegerNode)
		if !ok {
			if s, isStr := n.(*ast.StringNode); isStr && isInteger(s.Value) {
				d.errorf(n, "%s: %s is too large", p, s.Value)
				return
			}
			d.errorf(n, "%s: expected a whole number, got %s", p, describe(n))
			return
		}
		switch x := i.Value.(type) {
		case int64:
			v.SetInt(x)
		case uint64:
			if x > math.MaxInt64 {
				d.errorf(n, "%s: %s is too large", p, i.GetToken().Value)
				return
			}
			v.SetInt(int64(x))
		default:
			d.errorf(n, "%s: expected a whole number, got %s", p, describe(n))
		}
	case t.Kind() == reflect.Float64:
		switch x := n.(type) {
		case *ast.FloatNode:
			v.SetFloat(x.Value)
		case *ast.IntegerNode:
			switch iv := x.Value.(type) {
			case int64:
				v.SetFloat(float64(iv))
			case uint64:
				v.SetFloat(float64(iv))
			}
		default:
			d.errorf(n, "%s: expected a number, got %s", p, describe(n))
		}
	default:
		// A field type this decoder does not know: a programming error,
		// caught by the tests that load every key.
		d.errorf(n, "%s: cannot decode into %s", p, t)
	}
}

// isInteger: s is digits with an optional sign, such as "-300".
func isInteger(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// describe is kindOf plus the value for scalars, for type errors on
// fields that never hold secrets (bool, int, float64).
func describe(n ast.Node) string {
	if text, ok := scalarText(n); ok {
		return fmt.Sprintf("%s (%q)", kindOf(n), text)
	}
	return kindOf(n)
}

func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, p string) {
	entries, ok := mappingEntries(n)
	if !ok {
		where := p
		if where == "" {
			where = "the top level"
		}
		d.errorf(n, "%s: expected a mapping (key: value lines), got %s", where, kindOf(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]bool{}
	for _, mv := range entries {
		if mv.Key != nil && mv.Key.IsMergeKey() {
			d.errorf(mv.Key, "merge keys (<<) are not supported: write the keys out")
			continue
		}
		keyNode := d.resolve(mv.Key)
		key, ok := scalarText(keyNode)
		if !ok {
			d.errorf(mv, "%s: a key must be a plain name, got %s", joinPath(p, "?"), kindOf(keyNode))
			continue
		}
		idx, ok := fields[key]
		if !ok {
			d.errs = append(d.errs, &lineError{file: d.file, line: nodeLine(mv.Key), msg: d.unknownKey(key, p, v.Type())})
			continue
		}
		if seen[key] {
			d.errorf(mv.Key, "%s is set twice", joinPath(p, key))
			continue
		}
		seen[key] = true
		d.decodeValue(mv.Value, v.FieldByIndex(idx), joinPath(p, key))
	}
}

// decodeReceiver decodes a receiver: its name and one key naming its
// kind, whose section decodes into the kind's configuration type.
func (d *decoder) decodeReceiver(n ast.Node, r *Receiver, p string) {
	entries, ok := mappingEntries(n)
	if !ok {
		d.errorf(n, "%s: expected a mapping (name: and one of %s), got %s", p, strings.Join(kinds.Names(), ", "), kindOf(n))
		return
	}
	for _, mv := range entries {
		keyNode := d.resolve(mv.Key)
		key, ok := scalarText(keyNode)
		if !ok {
			d.errorf(mv, "%s: a key must be a plain name, got %s", joinPath(p, "?"), kindOf(keyNode))
			continue
		}
		if key == "name" {
			d.decodeValue(mv.Value, reflect.ValueOf(&r.Name).Elem(), joinPath(p, key))
			continue
		}
		k, ok := kinds.Lookup(key)
		if !ok {
			names := append([]string{"name"}, kinds.Names()...)
			msg := fmt.Sprintf("unknown key %q in %s", key, p)
			if s := closest(key, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (known keys: " + strings.Join(names, ", ") + ")"
			}
			d.errs = append(d.errs, &lineError{file: d.file, line: nodeLine(mv.Key), msg: msg})
			continue
		}
		if r.Kind != "" {
			d.errorf(mv.Key, "%s: sets both %s and %s: a receiver is of one kind; declare another receiver for the other", p, r.Kind, key)
			continue
		}
		rc := k.New()
		d.decodeValue(mv.Value, reflect.ValueOf(rc).Elem(), joinPath(p, key))
		r.Kind, r.Config = key, rc
	}
}

// yamlFields maps the yaml names of t's fields to their index paths; the
// fields of an embedded struct tagged `yaml:",inline"` are t's own.
func yamlFields(t reflect.Type) map[string][]int {
	m := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if inline(f) {
			for name, idx := range yamlFields(f.Type) {
				if _, shadowed := m[name]; !shadowed {
					m[name] = append([]int{i}, idx...)
				}
			}
			continue
		}
		if name := yamlName(f); name != "" {
			m[name] = []int{i}
		}
	}
	return m
}

// inline reports whether f is an embedded struct whose keys are its
// parent's (`yaml:",inline"`).
func inline(f reflect.StructField) bool {
	_, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return f.Anonymous && f.Type.Kind() == reflect.Struct && opts == "inline"
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

// unknownKey builds the message for key found in the mapping at parent
// (of type t): a near miss among t's keys, or the same key elsewhere in
// the configuration, or the list of t's keys.
func (d *decoder) unknownKey(key, parent string, t reflect.Type) string {
	msg := fmt.Sprintf("unknown key %q", key)
	if parent != "" {
		msg += " in " + parent
	}
	fields := yamlFields(t)
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	if s := closest(key, names); s != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", s)
	}
	nk := normalizeKey(key)
	var elsewhere []string
	for _, full := range allPaths(d.root, "") {
		if last := full[strings.LastIndex(full, ".")+1:]; normalizeKey(last) == nk {
			elsewhere = append(elsewhere, strconv.Quote(full))
		}
	}
	if len(elsewhere) > 0 {
		return msg + " (did you mean " + strings.Join(elsewhere, " or ") + "?)"
	}
	return msg + " (known keys: " + strings.Join(names, ", ") + ")"
}

// allPaths lists the YAML paths of every field of t, depth first.
func allPaths(t reflect.Type, parent string) []string {
	var out []string
	if t == nil || t.Kind() != reflect.Struct || t == durationType {
		return nil
	}
	if t == receiverType {
		out = append(out, joinPath(parent, "name"))
		for _, k := range kinds.All() {
			p := joinPath(parent, k.Name)
			out = append(out, p)
			out = append(out, allPaths(reflect.TypeOf(k.New()).Elem(), p)...)
		}
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if inline(f) {
			out = append(out, allPaths(f.Type, parent)...)
			continue
		}
		name := yamlName(f)
		if name == "" {
			continue
		}
		p := joinPath(parent, name)
		out = append(out, p)
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem() == receiverType {
			ft = receiverType // the receivers list: each kind's keys
		}
		out = append(out, allPaths(ft, p)...)
	}
	return out
}

func normalizeKey(s string) string {
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
}

// closest is the name in names nearest to key: equal but for case, dashes
// and underscores (clientId, client-id), or within a small edit distance.
func closest(key string, names []string) string {
	nk := normalizeKey(key)
	for _, n := range names {
		if normalizeKey(n) == nk {
			return n
		}
	}
	best, bestDist := "", 0
	limit := 2
	if len(nk) <= 4 {
		limit = 1
	}
	for _, n := range names {
		dist := levenshtein(nk, normalizeKey(n))
		if dist <= limit && (best == "" || dist < bestDist) {
			best, bestDist = n, dist
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
