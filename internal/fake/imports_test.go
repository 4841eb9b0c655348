package fake

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// modulePath reads the module path from the go.mod of the module root,
// two levels above this package.
func modulePath(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	t.Fatal("go.mod has no module line")
	return ""
}

// TestImportsStayInFake fails if any Go file under internal/fake (test
// files and files of every build tag included) imports a package of this
// module outside internal/fake.
func TestImportsStayInFake(t *testing.T) {
	mod := modulePath(t)
	fake := path.Join(mod, "internal", "fake")
	fset := token.NewFileSet()
	dirs := map[string]bool{}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			// Directories the go tool ignores.
			if p != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dirs[filepath.ToSlash(filepath.Dir(p))] = true
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			inModule := ip == mod || strings.HasPrefix(ip, mod+"/")
			inFake := ip == fake || strings.HasPrefix(ip, fake+"/")
			if inModule && !inFake {
				t.Errorf("%s imports %s: packages under internal/fake must import no puawatch package outside internal/fake",
					fset.Position(imp.Pos()), ip)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Guard against passing vacuously (wrong directory, files not found).
	for _, d := range []string{".", "sim", "sim/gen", "smtpcapture"} {
		if !dirs[d] {
			t.Errorf("no Go files found in internal/fake/%s", d)
		}
	}
}
