package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/puawatch/puawatch/internal/store"
	"github.com/puawatch/puawatch/internal/web"
	"github.com/puawatch/puawatch/internal/web/access"
	"github.com/puawatch/puawatch/internal/web/dashboard"
)

// serverHandler is the one handler of web.listen: /healthz, /readyz and
// /metrics from ops (package web), the dashboard under /, all behind
// guard (authentication, CSRF, security headers).
func serverHandler(ops, dash http.Handler, guard *access.Middleware) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, ops)
	}
	mux.Handle("/", dash)
	return guard.Wrap(mux)
}

// Listen binds web.listen, when it is set and not bound yet, and returns
// the address bound (nil when the server is off). Run binds it itself;
// call Listen first to learn the address of "127.0.0.1:0" (the demo
// prints it before it runs).
func (a *App) Listen() (net.Addr, error) {
	if a.cfg.Web.Listen == "" {
		return nil, nil
	}
	if a.ln == nil {
		ln, err := net.Listen("tcp", a.cfg.Web.Listen)
		if err != nil {
			return nil, fmt.Errorf("web.listen: %w (set another address, or \"\" to turn the server off)", err)
		}
		a.ln = ln
	}
	return a.ln.Addr(), nil
}

// serve starts the server on web.listen; the function it returns stops
// it. Nothing is served when web.listen is "".
func (a *App) serve() (stop func(), err error) {
	addr, err := a.Listen()
	if addr == nil || err != nil {
		return func() {}, err
	}
	h, err := a.Handler()
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	a.log.Info("serving the dashboard, /healthz, /readyz and /metrics", "addr", addr.String(), "auth", a.cfg.Web.Auth.Enabled())
	ln := a.ln
	a.ln = nil
	go func() { _ = srv.Serve(ln) }()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

// Handler is what the server on web.listen answers with: the
// operational endpoints and the dashboard behind the access guard of
// web.auth.
func (a *App) Handler() (http.Handler, error) {
	guard, err := access.New(access.Options{Listen: a.cfg.Web.Listen, Token: a.cfg.Web.Auth.Token.Reveal(), Users: a.cfg.Web.Auth.UserHashes()})
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	ds, ok := a.store.(store.Dashboard)
	if !ok {
		return nil, fmt.Errorf("the store %T has no dashboard queries", a.store)
	}
	dash := dashboard.New(dashboard.Options{Store: a.store, Dash: ds, Now: a.now, LagAlarm: time.Duration(a.cfg.Poll.LagAlarm),
		Logger: a.log.With("component", "dashboard"), CSRFToken: guard.CSRFToken, User: guard.User})
	return serverHandler(web.Handler(a.store, a.status, a.metrics), dash, guard), nil
}
