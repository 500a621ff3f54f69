package release

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/diego-runtime/diego/internal/config"
)

// Module is the Go module the daemons' Config types live in.
const Module = "github.com/diego-runtime/diego"

// docs finds the doc comment of the Go field behind each property, reading
// the source tree at root. Packages are parsed once each.
type docs struct {
	root   string
	fset   *token.FileSet
	parsed map[string]map[string]*ast.StructType // dir -> type name -> struct
}

func newDocs(root string) *docs {
	return &docs{root: root, fset: token.NewFileSet(), parsed: map[string]map[string]*ast.StructType{}}
}

// of returns the description of the field d declares. A command's own Config
// (package "main") is looked up in mainDir. A field with no comment of its
// own shares the doc comment heading its group (the fields written on
// consecutive lines below it) only if that comment names it, as in
// "Username and Password turn on basic auth"; otherwise it has none, and ""
// is returned, so a field added below a documented one does not pass under
// its neighbour's description.
func (d *docs) of(decl config.Declaration, mainDir string) (string, error) {
	dir := mainDir
	if decl.Package != "main" {
		rel, ok := strings.CutPrefix(decl.Package, Module)
		if !ok {
			return "", fmt.Errorf("%s.%s is outside module %s", decl.Package, decl.Type, Module)
		}
		dir = filepath.Join(d.root, filepath.FromSlash(strings.TrimPrefix(rel, "/")))
	}
	types, err := d.structs(dir)
	if err != nil {
		return "", err
	}
	st, ok := types[decl.Type]
	if !ok {
		return "", fmt.Errorf("type %s not found in %s", decl.Type, dir)
	}
	var group string
	prevEnd := -1
	for _, f := range st.Fields.List {
		start, end := d.fset.Position(f.Pos()).Line, d.fset.Position(f.End()).Line
		doc := strings.TrimSpace(f.Doc.Text())
		switch {
		case doc != "":
			group = doc
		case f.Comment != nil:
			doc = strings.TrimSpace(f.Comment.Text())
			group = ""
		case start == prevEnd+1 && group != "" && names(group, f):
			doc = group
		default:
			group = ""
		}
		prevEnd = end
		for _, n := range f.Names {
			if n.Name == decl.Field {
				return strings.Join(strings.Fields(doc), " "), nil
			}
		}
	}
	return "", fmt.Errorf("field %s.%s not found in %s", decl.Type, decl.Field, dir)
}

// names reports whether doc mentions one of f's names, as a word.
func names(doc string, f *ast.Field) bool {
	words := strings.FieldsFunc(doc, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	for _, n := range f.Names {
		if slices.Contains(words, n.Name) {
			return true
		}
	}
	return false
}

func (d *docs) structs(dir string) (map[string]*ast.StructType, error) {
	if s, ok := d.parsed[dir]; ok {
		return s, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the source of %s: %w", dir, err)
	}
	out := map[string]*ast.StructType{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(d.fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", name, err)
		}
		for _, decl := range file.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, spec := range gen.Specs {
				ts := spec.(*ast.TypeSpec)
				if st, ok := ts.Type.(*ast.StructType); ok {
					out[ts.Name.Name] = st
				}
			}
		}
	}
	d.parsed[dir] = out
	return out, nil
}
