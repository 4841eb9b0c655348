package render

import (
	"fmt"
	"os"
	"text/template"
)

// LoadWithFuncs is Load with extra template functions: a channel gives its
// users' templates an escaper for its own syntax (Slack mrkdwn, Adaptive
// Card Markdown), since the values of a View are plain text, not escaped.
// The file is read, parsed with funcs and checked against Sample, like
// Load does.
func LoadWithFuncs(path string, funcs template.FuncMap) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	t, err := template.New(path).Option("missingkey=error").Funcs(funcs).Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	tp := &Template{t: t}
	if _, err := tp.Execute(Sample()); err != nil {
		return nil, fmt.Errorf("template %s does not render a sample detection: %w", path, err)
	}
	return tp, nil
}
