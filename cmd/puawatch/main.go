// Command puawatch watches Sophos Central for PUA detections and tells the
// people responsible, each detection exactly once.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/puawatch/puawatch/internal/cli"
)

// A release build stamps these with
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=... -X main.date=..." ./cmd/puawatch
//
// `puawatch version` prints them in place of the build info's; empty, the
// build info's are printed. They are read once, here, and handed to cli.
var version, commit, date string

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.MainBuild(ctx, cli.Build{Version: version, Commit: commit, Date: date}, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
