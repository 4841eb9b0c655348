package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
)

func TestLoadWithFuncs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	funcs := template.FuncMap{"shout": strings.ToUpper}
	tp, err := LoadWithFuncs(write("ok.tmpl", "{{shout .TenantName}}"), funcs)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := tp.Execute(Sample()); err != nil || out != "SAMPLE TENANT" {
		t.Errorf("Execute = %q, %v", out, err)
	}
	for name, content := range map[string]string{"unknown func": "{{nope .Title}}", "parse": "{{if}}", "exec": "{{.Nope}}"} {
		if _, err := LoadWithFuncs(write(name+".tmpl", content), funcs); err == nil || !strings.Contains(err.Error(), "template") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := LoadWithFuncs(filepath.Join(dir, "missing.tmpl"), funcs); err == nil {
		t.Error("a missing file loaded")
	}
}
