package sim

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// tsLayout is the timestamp format of the SIEM API: UTC, milliseconds, Z.
const tsLayout = "2006-01-02T15:04:05.000Z"

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			if r == '\u2028' || r == '\u2029' {
				b = append(b, s[start:i]...)
				b = append(b, `\u202`...)
				b = append(b, hexd[r&0xf])
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendNullable(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, tsLayout)
	return append(b, '"')
}

func appendField(b []byte, name string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func appendRemedy(b []byte, items []RemedyItem) []byte {
	if items == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"items":[`...)
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = appendString(b, it.Type)
		b = append(b, `,"result":`...)
		b = appendString(b, it.Result)
		b = append(b, `,"suspendResult":`...)
		b = appendString(b, it.SuspendResult)
		b = append(b, `,"descriptor":`...)
		b = appendString(b, it.Descriptor)
		b = append(b, `,"processPath":"","sophosPid":""}`...)
	}
	b = append(b, `],"totalItems":`...)
	b = strconv.AppendInt(b, int64(len(items)), 10)
	return append(b, '}')
}

func appendCerts(b []byte, certs []AppCert) []byte {
	if certs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, c := range certs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"signer":`...)
		b = appendString(b, c.Signer)
		b = append(b, `,"thumbprint":`...)
		b = appendString(b, c.Thumbprint)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendSourceInfo(b []byte, ip string) []byte {
	if ip == "" {
		return append(b, "{}"...)
	}
	b = append(b, `{"ip":`...)
	b = appendString(b, ip)
	return append(b, '}')
}

// appendEvent appends e as a /siem/v1/events item. It is hand-written
// because page encoding is the simulator's hot path.
func appendEvent(b []byte, e *Event) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = appendField(b, "type")
	b = appendString(b, e.Type)
	b = appendField(b, "name")
	b = appendString(b, e.Name)
	b = appendField(b, "severity")
	b = appendString(b, e.Severity)
	b = appendField(b, "group")
	b = appendString(b, e.Group)
	b = appendField(b, "location")
	b = appendString(b, e.Location)
	b = appendField(b, "source")
	b = appendString(b, e.Source)
	b = appendField(b, "source_info")
	b = appendSourceInfo(b, e.SourceIP)
	b = appendField(b, "customer_id")
	b = appendString(b, e.CustomerID)
	b = appendField(b, "endpoint_id")
	b = appendString(b, e.EndpointID)
	b = appendField(b, "endpoint_type")
	b = appendString(b, e.EndpointType)
	b = appendField(b, "user_id")
	b = appendNullable(b, e.UserID)
	b = appendField(b, "when")
	b = appendTime(b, e.When)
	b = appendField(b, "created_at")
	b = appendTime(b, e.CreatedAt)
	b = appendField(b, "threat")
	b = appendNullable(b, e.Threat)
	b = appendField(b, "origin")
	b = appendNullable(b, e.Origin)
	b = appendField(b, "appSha256")
	b = appendNullable(b, e.AppSha256)
	b = appendField(b, "appCerts")
	b = appendCerts(b, e.AppCerts)
	b = appendField(b, "core_remedy_items")
	b = appendRemedy(b, e.CoreRemedyItems)
	b = append(b, `,"ips_threat_data":null,"amsi_threat_data":null`...)
	if e.Details != nil {
		b = appendField(b, "details")
		b = append(b, '[')
		for i, d := range e.Details {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = appendString(b, d.Type)
			b = append(b, `,"property":`...)
			b = appendString(b, d.Property)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendAlert appends the /siem/v1/alerts item raised by e.
func appendAlert(b []byte, e *Event) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = appendField(b, "event_service_event_id")
	b = appendString(b, e.ID)
	b = appendField(b, "type")
	b = appendString(b, e.Type)
	b = appendField(b, "description")
	b = appendString(b, e.Name)
	b = appendField(b, "severity")
	b = appendString(b, e.Severity)
	b = appendField(b, "location")
	b = appendString(b, e.Location)
	b = appendField(b, "source")
	b = appendString(b, e.Source)
	b = appendField(b, "when")
	b = appendTime(b, e.When)
	b = appendField(b, "created_at")
	b = appendTime(b, e.CreatedAt)
	b = appendField(b, "customer_id")
	b = appendString(b, e.CustomerID)
	b = appendField(b, "threat")
	b = appendNullable(b, e.Threat)
	b = append(b, `,"threat_cleanable":false,"info":{},"data":{"endpoint_id":`...)
	b = appendString(b, e.EndpointID)
	b = appendField(b, "endpoint_java_id")
	b = appendString(b, e.EndpointID)
	b = appendField(b, "endpoint_type")
	b = appendString(b, e.EndpointType)
	b = append(b, `,"endpoint_platform":"windows","source_info":`...)
	b = appendSourceInfo(b, e.SourceIP)
	b = appendField(b, "created_at")
	b = strconv.AppendInt(b, e.CreatedAt.UnixMilli(), 10)
	b = appendField(b, "inserted_at")
	b = strconv.AppendInt(b, e.CreatedAt.UnixMilli(), 10)
	b = append(b, `,"threat_status":"NONE","source_app_id":"CORE","policy_type":30,"certificates":[],"core_remedy_items":`...)
	b = appendRemedy(b, e.CoreRemedyItems)
	b = appendField(b, "event_service_id")
	b = appendString(b, e.ID)
	return append(b, "}}"...)
}
