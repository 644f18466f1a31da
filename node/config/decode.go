package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/accordfed/accord/federation/mtls"
	"github.com/accordfed/accord/federation/textfold"
	"github.com/accordfed/accord/node/grpcserver"
)

// Problem is one thing wrong with a configuration, naming the field. It
// wraps ErrInvalid.
type Problem struct {
	// File is the configuration file; "" when the problem is not in a file
	// (an environment variable, a flag, a default).
	File string
	// Line is the line of the field in File, from 1; 0 when not known.
	Line int
	// Field is the field's path as written in the file
	// ("tls.reload_interval", "peers[0].member"), or an environment
	// variable; "" when the problem concerns the whole file.
	Field string
	// Reason says what is wrong and what is expected.
	Reason string
}

// Where returns the problem without the "invalid configuration" prefix:
// "node.yaml:5: tls.reload_interval: a duration such as 2s (got the number
// 2)".
func (p *Problem) Where() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// Error returns ErrInvalid's text and Where.
func (p *Problem) Error() string { return ErrInvalid.Error() + ": " + p.Where() }

// Is reports whether target is ErrInvalid.
func (p *Problem) Is(target error) bool { return target == ErrInvalid }

// Problems lists the problems an error of Load, Validate or CheckFiles
// holds: each reports every problem it finds, one per field, joined with
// errors.Join. An error that names no field is a problem without one.
func Problems(err error) []*Problem {
	if err == nil {
		return nil
	}
	var ps problems
	ps.addAll(err)
	return ps
}

// split returns the errors of an errors.Join, or err alone. Only the
// Validate methods' results are split: they are errors.Join values (a
// single fmt.Errorf with two %w has the same Unwrap and must stay whole).
func split(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// problems collects the problems of a validation.
type problems []*Problem

// add adds the problem of one error.
func (ps *problems) add(err error) {
	if err == nil {
		return
	}
	var p *Problem
	if !errors.As(err, &p) {
		p = parseProblem(err)
	}
	*ps = append(*ps, p)
}

// addAll adds the problems of the errors.Join that a Validate method
// returns.
func (ps *problems) addAll(err error) {
	if err == nil {
		return
	}
	for _, e := range split(err) {
		ps.add(e)
	}
}

// addf adds a problem of field.
func (ps *problems) addf(field, format string, args ...any) {
	*ps = append(*ps, &Problem{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// err returns the problems as one error, nil when there are none.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return problemList(ps)
}

// problemList is the error of Load and Validate: every problem, one a line.
type problemList []*Problem

func (l problemList) Error() string {
	if len(l) == 1 {
		return l[0].Error()
	}
	var b strings.Builder
	b.WriteString(ErrInvalid.Error() + ":")
	for _, p := range l {
		b.WriteString("\n  " + p.Where())
	}
	return b.String()
}

// Unwrap returns the problems.
func (l problemList) Unwrap() []error {
	out := make([]error, len(l))
	for i, p := range l {
		out[i] = p
	}
	return out
}

// fieldPath matches a field path ("tls.cert_file", "peers[0].member").
var fieldPath = regexp.MustCompile(`^[a-z][a-z0-9_]*(\[\d+\])?(\.[a-z][a-z0-9_]*(\[\d+\])?)*$`)

// parseProblem reads "field: reason" out of an error of this package or of
// the packages whose configuration it embeds.
func parseProblem(err error) *Problem {
	msg := err.Error()
	for _, prefix := range []string{ErrInvalid.Error() + ": ", mtls.ErrConfig.Error() + ": ", grpcserver.ErrConfig.Error() + ": "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	if field, reason, ok := strings.Cut(msg, ": "); ok && fieldPath.MatchString(field) {
		return &Problem{Field: field, Reason: reason}
	}
	return &Problem{Reason: msg}
}

// decodeYAML decodes strictly. It first checks the document against the
// configuration's types, so that every unknown field (with the closest
// known one) and every value of the wrong type is reported with its field
// and line, in words; yaml.v3's own strict decoding then catches anything
// else.
func decodeYAML(data []byte, out *Config) []*Problem {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return []*Problem{yamlProblem(err)}
	}
	var probs []*Problem
	if len(root.Content) > 0 {
		checkNode(root.Content[0], reflect.TypeOf(out).Elem(), "", &probs)
	}
	if len(probs) > 0 {
		return probs
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(out)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return []*Problem{yamlProblem(err)}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlProblem turns a yaml.v3 error into problems, with the line.
func yamlProblem(err error) *Problem {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = strings.Join(te.Errors, "; ")
	}
	p := &Problem{Reason: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Reason = "not valid YAML: " + msg[len(m[0]):]
	}
	return p
}

var durationType = reflect.TypeOf(time.Duration(0))

// checkNode checks that n can be decoded into a value of type t, and adds a
// problem for every unknown field and every value of the wrong type.
func checkNode(n *yaml.Node, t reflect.Type, path string, probs *[]*Problem) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // leaves the default
	}
	bad := func(expected string) {
		*probs = append(*probs, &Problem{Line: n.Line, Field: path, Reason: expected + " (got " + describe(path, n) + ")"})
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			bad("a duration such as 2s")
			return
		}
		if _, err := time.ParseDuration(n.Value); err != nil {
			bad("a duration such as 2s, 500ms or 1h30m")
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			bad("a mapping of fields")
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				checkNode(v, t, path, probs)
				continue
			}
			sub := join(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				*probs = append(*probs, &Problem{Line: k.Line, Field: sub, Reason: "unknown field" + suggest(k.Value, path, fields)})
				continue
			}
			checkNode(v, ft, sub, probs)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			bad("a list (- item on its own line, or [a, b])")
			return
		}
		for i, c := range n.Content {
			checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), probs)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			bad("a mapping")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkNode(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), probs)
		}
	case n.Kind != yaml.ScalarNode:
		bad(expectedScalar(t))
	default:
		k := t.Kind()
		whole := k >= reflect.Int && k <= reflect.Uint64
		// yaml.v3 cuts 1.5 to 1 for a whole number: refuse it.
		if err := n.Decode(reflect.New(t).Interface()); err != nil || (whole && n.Tag != "!!int") {
			bad(expectedScalar(t))
		}
	}
}

// expectedScalar says in words what a field of type t takes.
func expectedScalar(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a text"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("a whole number between %d and %d", int64(-1)<<(t.Bits()-1), int64(math.MaxInt64>>(64-t.Bits())))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a whole number between 0 and %d", uint64(math.MaxUint64>>(64-t.Bits())))
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}

// describe says what the YAML value of the field at path is: "the number
// 2", "the text "soon"". The value of a field that holds or names keys
// (secretField) is not shown, nor is a value that looks like key material:
// a secret pasted in the wrong place must not be printed back.
func describe(path string, n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if secretField(path) || mtls.NotAPath(v) {
		if n.Tag == "!!str" {
			return "a text, not shown"
		}
		return "a value, not shown"
	}
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	switch n.Tag {
	case "!!int", "!!float":
		return "the number " + v
	case "!!bool":
		return v
	case "!!str":
		return "the text " + strconv.Quote(v)
	}
	return strconv.Quote(v)
}

// secretField reports whether the field at path holds or names keys (its
// name mentions a key, a recipient or an identity), so that its value is
// not quoted in messages.
func secretField(path string) bool {
	name := path[strings.LastIndex(path, ".")+1:]
	for _, w := range []string{"key", "recipient", "identity", "secret", "password", "token"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// yamlFields maps the yaml names of a struct's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(sf.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out[name] = sf.Type
	}
	return out
}

// suggest returns " (did you mean X?)" for the known field closest to an
// unknown one: at the same level when one is a typo away, else the field of
// that name elsewhere in the configuration ("cert_file" at the top: "did
// you mean tls.cert_file?").
func suggest(name, path string, fields map[string]reflect.Type) string {
	if best := closest(name, slices.Collect(maps.Keys(fields))); best != "" {
		return " (did you mean " + best + "?)"
	}
	var elsewhere []string
	for _, p := range allFieldPaths() {
		if (p == name || strings.HasSuffix(p, "."+name)) && p != join(path, name) {
			elsewhere = append(elsewhere, p)
		}
	}
	if len(elsewhere) > 0 {
		return " (did you mean " + strings.Join(elsewhere, " or ") + "?)"
	}
	return ""
}

// closest returns the name of names a typo away from name (at most two
// edits, more for long names), "" when none is.
func closest(name string, names []string) string {
	slices.Sort(names)
	best, bestD := "", 0
	for _, f := range names {
		d := textfold.EditDistance(strings.ToLower(name), strings.ToLower(f))
		if best == "" || d < bestD {
			best, bestD = f, d
		}
	}
	if best != "" && bestD <= max(2, len(name)/5) {
		return best
	}
	return ""
}

// allFieldPaths lists the dotted path of every field of Config ("[]" parts
// left out: peers.member).
func allFieldPaths() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == durationType {
			return
		}
		for name, ft := range yamlFields(t) {
			p := join(prefix, name)
			out = append(out, p)
			walk(ft, p)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	slices.Sort(out)
	return out
}

// fieldLines maps the path of every field written in a YAML document to
// its line.
func fieldLines(data []byte) map[string]int {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return nil
	}
	out := map[string]int{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := join(path, n.Content[i].Value)
				out[p] = n.Content[i].Line
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				out[p] = c.Line
				walk(c, p)
			}
		}
	}
	walk(root.Content[0], "")
	return out
}

// CheckFiles checks the files and folders the configuration names that
// Validate leaves alone because the node does not need them to start, or
// creates them: the user certificate and key that accordctl uses
// (client.cert_file, client.key_file), the CRL folder (tls.crl_dir) and
// the data folder (data_dir, which the node creates when it is missing). It
// reports every problem, joined with errors.Join.
func (c *Config) CheckFiles() error {
	var ps problems
	for _, f := range []struct{ field, path string }{{"client.cert_file", c.Client.CertFile}, {"client.key_file", c.Client.KeyFile}} {
		if f.path == "" {
			continue
		}
		if mtls.NotAPath(f.path) {
			ps.add(fmt.Errorf("%w: %s: %w", ErrInvalid, f.field, mtls.ErrNotAPath))
			continue
		}
		if fi, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
			ps.addf(f.field, "%s does not exist", f.path)
		} else if err != nil {
			ps.addf(f.field, "%v", err)
		} else if fi.IsDir() {
			ps.addf(f.field, "%s is a folder, not a file", f.path)
		}
	}
	for _, f := range []struct {
		field, path string
		mustExist   bool
	}{{"tls.crl_dir", c.TLS.CRLDir, true}, {"data_dir", c.DataDir, false}} {
		if f.path == "" {
			continue
		}
		if mtls.NotAPath(f.path) {
			ps.add(fmt.Errorf("%w: %s: %w", ErrInvalid, f.field, mtls.ErrNotAPath))
			continue
		}
		fi, err := os.Stat(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && f.mustExist:
			ps.addf(f.field, "%s does not exist", f.path)
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			ps.addf(f.field, "%v", err)
		case !fi.IsDir():
			ps.addf(f.field, "%s is a file, not a folder", f.path)
		}
	}
	return ps.err()
}

// Check checks a configuration file as the node would before it starts,
// without starting it: the file is read and decoded (every unknown field
// and value of the wrong type), the environment applied, then every field
// validated and the files it names checked (Validate and CheckFiles). It
// returns every problem, each with the file and, when the field is written
// in the file, its line; none when the file is usable.
func Check(path string, environ []string) []*Problem {
	cfg, err := Load(path, environ)
	if err != nil {
		return withLines(path, Problems(err))
	}
	var ps problems
	ps.addAll(cfg.Validate())
	ps.addAll(cfg.CheckFiles())
	fromEnv(ps, environ)
	return withLines(path, ps)
}

// fromEnv attributes the problems of fields that environ sets to their
// variable ("environment variable ACCORD_TLS_KEY_FILE (tls.key_file)"): the
// value at fault is the variable's, not the file's.
func fromEnv(ps []*Problem, environ []string) {
	set := map[string]bool{}
	for _, kv := range environ {
		if name, _, ok := strings.Cut(kv, "="); ok {
			set[name] = true
		}
	}
	for _, p := range ps {
		if p.Field == "" || strings.Contains(p.Field, "[") {
			continue
		}
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(p.Field, ".", "_"))
		if set[name] {
			p.Field = "environment variable " + name + " (" + p.Field + ")"
		}
	}
}

// withLines sets the file and line of the problems of fields written in
// the file at path.
func withLines(path string, ps []*Problem) []*Problem {
	data, err := os.ReadFile(path)
	if err != nil {
		return ps
	}
	lines := fieldLines(data)
	for _, p := range ps {
		if p.File == "" && !strings.HasPrefix(p.Field, "environment variable ") {
			p.File = path
		}
		if p.Line == 0 && p.File != "" {
			p.Line = lines[p.Field]
		}
	}
	return ps
}
