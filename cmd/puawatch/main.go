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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
