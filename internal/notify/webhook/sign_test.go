package webhook

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestSignKnownVector(t *testing.T) {
	// python3 -c 'import hmac,hashlib;print(hmac.new(b"k3y",b"1700000000.{\"a\":1}",hashlib.sha256).hexdigest())'
	const want = "v1=fd5a70e965043f7df6309c2c3b5ff5a8ffa99b1f5175e9a311459e73c4634d4a"
	if got := Sign([]byte("k3y"), "1700000000", []byte(`{"a":1}`)); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// TestShellRecipe runs the openssl one-liner of the package documentation.
func TestShellRecipe(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed: the documented recipe cannot be checked (apt-get install openssl)")
	}
	body := `{"schema":"puawatch.notification","title":"a 'quoted' \"value\" $HOME"}`
	cmd := exec.Command("sh", "-c", `{ printf '%s.' "$TS"; printf '%s' "$BODY" > "$DIR/body.json"; cat "$DIR/body.json"; } | openssl dgst -sha256 -hmac "$KEY" -r | cut -d' ' -f1`)
	cmd.Env = append(cmd.Environ(), "TS=1767323045", "KEY="+signKey, "BODY="+body, "DIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := "v1="+strings.TrimSpace(string(out)), Sign([]byte(signKey), "1767323045", []byte(body)); got != want {
		t.Errorf("openssl recipe gives %s, Sign %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	key := []byte("k")
	now := time.Unix(1_767_323_045, 0)
	ts := "1767323045"
	body := []byte(`{"x":1}`)
	sig := Sign(key, ts, body)
	other := Sign([]byte("old key"), ts, body)
	for _, c := range []struct {
		name      string
		key       []byte
		ts, sig   string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"good", key, ts, sig, now, 0, nil},
		{"rotation list", key, ts, other + ", " + sig, now, 0, nil},
		{"rotation list, none matches", key, ts, other + "," + other, now, 0, ErrSignature},
		{"4m59s late", key, ts, sig, now.Add(299 * time.Second), 0, nil},
		{"6m late", key, ts, sig, now.Add(6 * time.Minute), 0, ErrTimestamp},
		{"6m early", key, ts, sig, now.Add(-6 * time.Minute), 0, ErrTimestamp},
		{"6m late, tolerance 10m", key, ts, sig, now.Add(6 * time.Minute), 10 * time.Minute, nil},
		{"30s late, tolerance 10s", key, ts, sig, now.Add(30 * time.Second), 10 * time.Second, ErrTimestamp},
		{"no signature", key, ts, "", now, 0, ErrSignature},
		{"no v1 prefix", key, ts, strings.TrimPrefix(sig, "v1="), now, 0, ErrSignature},
		{"upper-case v2", key, ts, "v2=" + strings.TrimPrefix(sig, "v1="), now, 0, ErrSignature},
		{"not hex", key, ts, "v1=zz", now, 0, ErrSignature},
		{"truncated", key, ts, sig[:20], now, 0, ErrSignature},
		{"no key", nil, ts, sig, now, 0, ErrSignature},
		{"timestamp not a number, signed", key, "soon", Sign(key, "soon", body), now, 0, ErrTimestamp},
		{"timestamp swapped", key, "1767323046", sig, now, 0, ErrSignature},
	} {
		err := Verify(c.key, c.ts, c.sig, body, c.now, c.tolerance)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}
