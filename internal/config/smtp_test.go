package config

import (
	"strings"
	"testing"

	"github.com/puawatch/puawatch/internal/secret"
)

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		in      string
		want    SMTPServer
		wantErr string
	}{
		{"smtp://mail.example.com:587", SMTPServer{StartTLS: "required", Host: "mail.example.com", Port: 587}, ""},
		{"smtp://u:p%40ss@mail.example.com:587?starttls=required", SMTPServer{StartTLS: "required", Host: "mail.example.com", Port: 587, Username: "u", Password: "p@ss"}, ""},
		{"SMTPS://u:p@mail.example.com:465", SMTPServer{TLS: true, Host: "mail.example.com", Port: 465, Username: "u", Password: "p"}, ""},
		{"smtp://relay:25?starttls=none", SMTPServer{StartTLS: "none", Host: "relay", Port: 25}, ""},
		{"smtp://u:p@127.0.0.1:1025?starttls=none", SMTPServer{StartTLS: "none", Host: "127.0.0.1", Port: 1025, Username: "u", Password: "p"}, ""},
		{"smtp://[::1]:25", SMTPServer{StartTLS: "required", Host: "::1", Port: 25}, ""},
		{"smtp://u:p@mail.example.com:25?starttls=none", SMTPServer{}, "smtp://u:[redacted]@mail.example.com:25?starttls=none would send the password unencrypted"},
		{"http://mail.example.com:25", SMTPServer{}, `scheme "http" is not smtp or smtps`},
		{"smtp://mail.example.com", SMTPServer{}, "has no port"},
		{"smtp://mail.example.com:0", SMTPServer{}, `port "0" is not from 1 to 65535`},
		{"smtp://:25", SMTPServer{}, "has no host"},
		{"smtp://u@mail.example.com:25", SMTPServer{}, "has a user name but no password"},
		{"smtp://:p@mail.example.com:25", SMTPServer{}, "has a password but no user name"},
		{"smtp://mail.example.com:25?starttls=maybe", SMTPServer{}, "starttls=maybe is not required or none"},
		{"smtp://mail.example.com:25?tls=1", SMTPServer{}, `unknown parameter "tls"`},
		{"smtps://mail.example.com:465?starttls=required", SMTPServer{}, "remove ?starttls"},
		{"smtp://mail.example.com:25/x", SMTPServer{}, `remove the path "/x"`},
		{"mail.example.com:25", SMTPServer{}, "is not a valid URL"},
		{"smtp://u:p%zz@h:25", SMTPServer{}, "bad %-escape"},
	}
	for _, tt := range tests {
		got, err := ParseSMTPURL(secret.Secret(tt.in))
		if tt.wantErr != "" {
			if err == nil {
				t.Errorf("ParseSMTPURL(%q) = %+v, want error %q", tt.in, got, tt.wantErr)
				continue
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSMTPURL(%q): %v, want %q", tt.in, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), ":p@") || strings.Contains(err.Error(), "%zz") {
				t.Errorf("ParseSMTPURL(%q) error shows the password: %v", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSMTPURL(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseSMTPURL(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	srv, err := Email{SMTPURL: "smtps://a:b@h:465"}.Server()
	if err != nil || srv.Password.Reveal() != "b" {
		t.Errorf("Email.Server: %+v %v", srv, err)
	}
}
