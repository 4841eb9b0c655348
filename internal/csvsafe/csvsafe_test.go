package csvsafe

import "testing"

func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"PsExec":                  "PsExec",
		"=HYPERLINK(\"x\")":       "'=HYPERLINK(\"x\")",
		"+1":                      "'+1",
		"-2+3":                    "'-2+3",
		"@SUM(A1)":                "'@SUM(A1)",
		"\t=1":                    "'\t=1",
		"\r=1":                    "'\r=1",
		"a=b":                     "a=b",
		" =1":                     " =1",
		"C:\\Tools\\PsExec64.exe": "C:\\Tools\\PsExec64.exe",
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
	}
}
