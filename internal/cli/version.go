package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/puawatch/puawatch/internal/render"
	"github.com/spf13/cobra"
)

// Build is what a release build stamps into package main with
// -ldflags "-X main.version=v1.2.3 -X main.commit=... -X main.date=...";
// an empty field is taken from the build info (debug.ReadBuildInfo).
type Build struct {
	// Version is the release, "v1.2.3".
	Version string
	// Commit is the VCS revision the binary was built from.
	Commit string
	// Date is when the binary was built or committed, RFC 3339.
	Date string
}

// versionInfo is what `puawatch version` prints.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// unknown is what a field without a value reads.
const unknown = "unknown"

// describeBuild is the version, commit and date of the binary: b's
// fields, else the build info's main module version (go install
// module@version, or the VCS tag go build stamps), vcs.revision with
// "-dirty" when vcs.modified, and vcs.time (the commit's time). The Go
// version is the build info's, else the runtime's.
func describeBuild(b Build, bi *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: "devel", Commit: unknown, Date: unknown, GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok && bi != nil {
		if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
			v.Version = mv
		}
		if bi.GoVersion != "" {
			v.GoVersion = bi.GoVersion
		}
		var rev, when string
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			v.Commit = rev
			if dirty {
				v.Commit += "-dirty"
			}
		}
		if when != "" {
			v.Date = when
		}
	}
	if b.Version != "" {
		v.Version = b.Version
	}
	if b.Commit != "" {
		v.Commit = b.Commit
	}
	if b.Date != "" {
		v.Date = b.Date
	}
	if t, err := time.Parse(time.RFC3339, v.Date); err == nil {
		v.Date = render.Timestamp(t)
	}
	return v
}

func newVersionCmd(e *env) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date of puawatch",
		Long: `Print the version of puawatch, the commit it was built from ("-dirty" when
the working tree had changes), the commit's date, and the Go version.
They come from the build info that go build and go install record; a
release build may stamp them with
  go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD) -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/puawatch
--format json prints one object: version, commit, date, go_version, platform.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usagef("--format must be text or json, not %q", format)
			}
			read := e.buildInfo
			if read == nil {
				read = debug.ReadBuildInfo
			}
			bi, ok := read()
			v := describeBuild(e.build, bi, ok)
			if format == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			_, err := fmt.Fprintf(e.stdout, "puawatch %s\ncommit:   %s\ndate:     %s\ngo:       %s %s\n",
				v.Version, v.Commit, v.Date, v.GoVersion, v.Platform)
			return err
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json (one object)")
	return c
}
