package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// ListenOptions say where a simulator listens.
type ListenOptions struct {
	// Addr is the global host's address; "" is 127.0.0.1:0. With a fixed
	// port, region i listens on port+1+i; with port 0 every port is free.
	Addr string
	// TLS, when set, serves HTTPS with it.
	TLS *tls.Config
}

// Server is a simulator listening on one global and one port per region.
type Server struct {
	Sim        *Simulator
	GlobalURL  string
	RegionURLs map[string]string
	servers    []*http.Server
	cancel     context.CancelFunc
}

// Start serves s on real listeners until Close. It registers the URLs
// with the simulator, so whoami and the tenant lists name them.
func Start(s *Simulator, o ListenOptions) (*Server, error) {
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sim: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("sim: listen port %q: %w", portText, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Server{Sim: s, RegionURLs: map[string]string{}, cancel: cancel}
	scheme := "http"
	if o.TLS != nil {
		scheme = "https"
	}
	listen := func(p int) (string, error) {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			return "", err
		}
		if o.TLS != nil {
			ln = tls.NewListener(ln, o.TLS)
		}
		hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
		srv.servers = append(srv.servers, hs)
		go func() { _ = hs.Serve(ln) }()
		_, gotPort, _ := net.SplitHostPort(ln.Addr().String())
		return scheme + "://" + net.JoinHostPort(urlHost(host), gotPort), nil
	}
	if srv.GlobalURL, err = listen(port); err != nil {
		srv.Close()
		return nil, fmt.Errorf("sim: listen on %s: %w", addr, err)
	}
	if err := s.SetGlobalURL(srv.GlobalURL); err != nil {
		srv.Close()
		return nil, err
	}
	for i, region := range s.Regions() {
		p := 0
		if port != 0 {
			p = port + 1 + i
		}
		u, err := listen(p)
		if err != nil {
			srv.Close()
			return nil, fmt.Errorf("sim: listen for region %s: %w", region, err)
		}
		srv.RegionURLs[region] = u
		if err := s.SetRegionURL(region, u); err != nil {
			srv.Close()
			return nil, err
		}
	}
	return srv, nil
}

func urlHost(h string) string {
	if h == "" || h == "0.0.0.0" || h == "::" {
		return "127.0.0.1"
	}
	return h
}

// Close stops every listener and ends hanging requests.
func (srv *Server) Close() error {
	srv.cancel()
	var errs []error
	for _, hs := range srv.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, hs.Close())
		}
		cancel()
	}
	return errors.Join(errs...)
}

// Ready is where a listening simulator is, without credentials (the
// control API's GET /sim/v1/credentials has those): what `puawatch sim
// --banner json` prints as one line for a program that started it.
type Ready struct {
	GlobalURL  string            `json:"global_url"`
	TokenURL   string            `json:"token_url"`
	ControlURL string            `json:"control_url"` // the control API, ending in /sim/v1/
	Regions    map[string]string `json:"regions"`     // data region -> base URL
}

// Ready tells where srv is.
func (srv *Server) Ready() Ready {
	return Ready{GlobalURL: srv.GlobalURL, TokenURL: srv.Sim.TokenURL(), ControlURL: srv.GlobalURL + "/sim/v1/", Regions: srv.RegionURLs}
}
