package config

import (
	"fmt"

	"github.com/goccy/go-yaml"
	"reflect"
	"strings"

	"github.com/puawatch/puawatch/internal/notify"
	"github.com/puawatch/puawatch/internal/notify/email"
	"github.com/puawatch/puawatch/internal/notify/jsonl"
	"github.com/puawatch/puawatch/internal/notify/kinds"
	"github.com/puawatch/puawatch/internal/route"
	"github.com/puawatch/puawatch/internal/secret"
)

// Receiver is a named notification target of exactly one kind. In YAML it
// is the name and one key naming its kind, whose section decodes into the
// kind's own configuration type (package kinds lists them):
//
//   - name: soc-slack
//     slack: {url: https://hooks.slack.com/services/...}
type Receiver struct {
	Name string
	// Kind is the kind's key (email, slack, ...); "" when none was set.
	Kind string
	// Config is the kind's section; nil when none was set.
	Config notify.ReceiverConfig
}

// MarshalYAML writes the receiver as it is written in a file.
func (r Receiver) MarshalYAML() (any, error) {
	m := yaml.MapSlice{{Key: "name", Value: r.Name}}
	if r.Kind != "" {
		m = append(m, yaml.MapItem{Key: r.Kind, Value: r.Config})
	}
	return m, nil
}

// EffectiveReceiver is a receiver as it is built: the declared ones, and
// the e-mail and JSONL sections as the receivers "email" and "jsonl".
type EffectiveReceiver struct {
	Receiver
	// Section is the YAML path of the kind's section, which messages
	// name: "receivers[2].webhook", or "email" and "jsonl".
	Section string
}

// EffectiveReceivers lists the receivers in effect: the email and jsonl
// sections (when set, with their environment variables) as the receivers
// "email" and "jsonl", then the receivers section, whose e-mail receivers
// take the SMTP URL and sender of the email section when they set none.
// The configurations are copies: changing them changes nothing in c.
func (c Config) EffectiveReceivers() []EffectiveReceiver {
	var out []EffectiveReceiver
	if c.Email.Enabled() {
		ec := c.Email.Config
		ec.To = append([]string(nil), ec.To...)
		ec.Section = "email"
		out = append(out, EffectiveReceiver{Receiver{Name: "email", Kind: "email", Config: &ec}, "email"})
	}
	if c.JSONL.Enabled() {
		jc := jsonl.Config{Path: c.JSONL.Path}
		out = append(out, EffectiveReceiver{Receiver{Name: "jsonl", Kind: "jsonl", Config: &jc}, "jsonl"})
	}
	for i, r := range c.Receivers {
		er := EffectiveReceiver{Receiver: r, Section: fmt.Sprintf("receivers[%d]", i)}
		if r.Config != nil {
			er.Section += "." + r.Kind
			er.Config = copyConfig(r.Config)
			if ec, ok := er.Config.(*email.Config); ok {
				ec.Inherit(c.Email.Config)
				ec.Section = er.Section
			}
		}
		out = append(out, er)
	}
	return out
}

// copyConfig returns a shallow copy of the struct rc points to.
func copyConfig(rc notify.ReceiverConfig) notify.ReceiverConfig {
	v := reflect.ValueOf(rc)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return rc
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	return cp.Interface().(notify.ReceiverConfig)
}

// secretKeys lists the keys of a receiver's section that hold a secret:
// those the kind names (SecretKeys), or else every secret.Secret field
// that is set.
func secretKeys(rc notify.ReceiverConfig) []string {
	if s, ok := rc.(interface{ SecretKeys() []string }); ok {
		return s.SecretKeys()
	}
	v, ok := configStruct(rc)
	if !ok {
		return nil
	}
	var out []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if s, ok := v.Field(i).Interface().(secret.Secret); ok && !s.Empty() {
			out = append(out, yamlName(f))
		}
		if h, ok := secretHeaders(f, v.Field(i)); ok && credentialHeader(h) {
			out = append(out, yamlName(f))
		}
	}
	return out
}

// secretHeaders returns the value of a receiver's headers field (a
// webhook's Authorization, an API key): config check redacts every value.
func secretHeaders(f reflect.StructField, v reflect.Value) (map[string]string, bool) {
	h, ok := v.Interface().(map[string]string)
	return h, ok && yamlName(f) == "headers"
}

// secrets lists the secrets the receivers section holds, by YAML path.
func (c Config) receiverSecrets() []string {
	var out []string
	for i, r := range c.Receivers {
		if r.Config == nil {
			continue
		}
		for _, k := range secretKeys(r.Config) {
			out = append(out, fmt.Sprintf("receivers[%d].%s.%s", i, r.Kind, k))
		}
	}
	return out
}

// ReceiverNames lists the names of the receivers in effect.
func (c Config) ReceiverNames() []string {
	var out []string
	for _, r := range c.EffectiveReceivers() {
		out = append(out, r.Name)
	}
	return out
}

// RouteTree builds the routing tree: the route section, or, without one,
// a root route to every receiver. A root route that names no receivers
// and has no child routes sends to every receiver too, so that
// `route: {digest_above: 0}` only changes the grouping. email.digest
// (deprecated) makes the default route send a digest per tenant whatever
// its size.
func (c Config) RouteTree() (*route.Tree, error) {
	names := c.ReceiverNames()
	spec := route.Spec{Receivers: names}
	if c.Route != nil {
		spec = *c.Route
		if len(spec.Receivers) == 0 && len(spec.Routes) == 0 {
			spec.Receivers = names
		}
	} else if c.Email.Digest {
		zero := 0
		spec.DigestAbove = &zero
	}
	return route.New(spec, names, route.DefaultGrouping())
}

// validateReceivers checks the receivers, each by its kind's Validate,
// and the route.
func (c Config) validateReceivers(ps *problems) {
	seen := map[string]bool{}
	for _, r := range c.EffectiveReceivers() {
		switch {
		case strings.TrimSpace(r.Name) == "":
			ps.add(r.Section+".name", "not set: every receiver needs a name that routes refer to")
		case seen[r.Name]:
			ps.add(r.Section+".name", "%q is used twice (the email and jsonl sections are receivers \"email\" and \"jsonl\"): give each receiver its own name", r.Name)
		}
		seen[r.Name] = true
		if r.Config == nil {
			ps.add(r.Section, "set exactly one of %s", strings.Join(kinds.Names(), ", "))
			continue
		}
		ps.fieldErrors(r.Section, r.Config.Validate())
	}
	if _, err := c.RouteTree(); err != nil {
		ps.add("route", "%v", err)
	}
}

// fieldErrors records a receiver's problems under its section's path.
func (ps *problems) fieldErrors(section string, err error) {
	for _, fe := range notify.FieldErrors(err) {
		p := section
		if fe.Key != "" {
			p += "." + fe.Key
		}
		ps.add(p, "%s", fe.Msg)
	}
}

// credentialHeader tells whether a headers map holds a credential by its
// names (Authorization, Cookie, or a name with auth, token, key, secret,
// signature or password in it), so that a file holding one must not be
// readable by others; X-Source: puawatch may stay in a shared file.
func credentialHeader(h map[string]string) bool {
	for name, v := range h {
		n := strings.ToLower(name)
		if v == "" {
			continue
		}
		if n == "cookie" || strings.Contains(n, "auth") {
			return true
		}
		for _, w := range []string{"token", "key", "secret", "signature", "password"} {
			if strings.Contains(n, w) {
				return true
			}
		}
	}
	return false
}

// configStruct is the struct a receiver's section decoded into (its kind's
// config, a pointer to a struct), for the code that walks its fields by
// their YAML keys: secrets, headers and credentials. ok is false when rc
// is not such a pointer.
func configStruct(rc notify.ReceiverConfig) (reflect.Value, bool) {
	v := reflect.ValueOf(rc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	return v.Elem(), true
}
