package loopback

import "testing"

func TestHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true, "[::1]": true, "::1%lo": true,
		"": false, "10.0.0.1": false, "192.168.1.1": false, "example.com": false, "localhost.example.com": false,
		"0.0.0.0": false, "::": false, "128.0.0.1": false, "api.central.sophos.com": false,
	} {
		if got := Host(h); got != want {
			t.Errorf("Host(%q) = %v, want %v", h, got, want)
		}
	}
}
