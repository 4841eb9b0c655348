package gen

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// This file derives tenants, endpoints and events from a seed. Every value
// is a pure function of (seed, tenant index, event sequence number): there
// is no package-level mutable state and a Generator is immutable, so it can
// be shared by any number of goroutines.
//
// Hashing scheme (all mixers are bijections on uint64):
//
//	key  = mix64(seed ^ c)                  per generator
//	tk   = mix64(key + ti*golden + 1)       per tenant
//	x    = tk + seq*golden                  per event (distinct per seq)
//	h    = mix64(x)                         -> event type
//	id   = (fmix64(x^c1), mix64(seq ^ fmix64(tk^c2)))  -> event UUID
//	rng  = PCG(mix64(x^c3), fmix64(x^c4))   -> everything else

// Options tunes the generated data.
type Options struct {
	OtherShare   float64 // share of events that are NOT of the PUA family (0..1), e.g. 0.6
	HostileShare float64 // share of events whose endpoint-supplied fields carry hostile values (0..1), e.g. 0.05
}

// Generator derives tenants, endpoints and events from a seed. Safe for
// concurrent use (immutable after New).
type Generator struct {
	key        uint64
	otherThr   uint64   // event is "other" when h>>32 < otherThr
	hostileThr uint64   // event is hostile when rng>>32 < hostileThr
	names      []uint16 // permutation of namePool; read-only
}

// TenantSpec is a generated tenant.
type TenantSpec struct {
	ID          string // UUID string (lower-case, 8-4-4-4-12)
	Name        string // realistic company name; unique per index within one generator; a share non-ASCII
	Region      string // one of the regions passed to Tenant, chosen deterministically
	Geography   string // dataGeography matching Region (eu01->IE, eu02->DE, us0x->US, ...)
	BillingType string // "term", "trial" or "usage"
}

const golden = 0x9e3779b97f4a7c15

// mix64 is the splitmix64 finalizer (a bijection).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// fmix64 is the murmur3 finalizer (a bijection, independent of mix64).
func fmix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// shareThreshold maps a probability to a threshold over 32-bit values.
func shareThreshold(p float64) uint64 {
	if !(p > 0) { // also NaN
		return 0
	}
	if p >= 1 {
		return 1 << 32
	}
	return uint64(math.Round(p * (1 << 32)))
}

// New returns a generator for seed. Shares outside 0..1 are
// clamped.
func New(seed int64, opts Options) *Generator {
	g := &Generator{
		key:        mix64(uint64(seed) ^ 0x6a09e667f3bcc908),
		otherThr:   shareThreshold(opts.OtherShare),
		hostileThr: shareThreshold(opts.HostileShare),
	}
	// Tenant names: a seeded shuffle of the pool, reordered so that every
	// company appears once (with some legal form) before any repeats with
	// another legal form.
	var r rng
	r.p.Seed(fmix64(g.key^0x3c6ef372fe94f82b), mix64(g.key^0xa54ff53a5f1d36f1))
	perm := make([]uint16, len(namePool))
	for i := range perm {
		perm[i] = uint16(i)
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := r.n(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	seen := map[string]int{}
	rank := make([]int, len(perm))
	for i, pi := range perm {
		d := namePool[pi].base
		rank[i] = seen[d]
		seen[d]++
	}
	g.names = make([]uint16, 0, len(perm))
	for k := 0; len(g.names) < len(perm); k++ {
		for i, pi := range perm {
			if rank[i] == k {
				g.names = append(g.names, pi)
			}
		}
	}
	return g
}

func (g *Generator) tenantKey(ti int) uint64 {
	return mix64(g.key + uint64(ti)*golden + 1)
}

// ---------------------------------------------------------------------------
// Small deterministic RNG (no allocation).

type rng struct{ p rand.PCG }

func (r *rng) u64() uint64 { return r.p.Uint64() }

// n returns a value in [0, n); n must be > 0.
func (r *rng) n(n int) int {
	hi, _ := bits.Mul64(r.p.Uint64(), uint64(n))
	return int(hi)
}

// chance reports true with probability p.
func (r *rng) chance(p float64) bool {
	return float64(r.p.Uint64()>>11)*(1.0/(1<<53)) < p
}

func pick[T any](r *rng, s []T) T { return s[r.n(len(s))] }

// ---------------------------------------------------------------------------
// Tenants.

type nameEntry struct {
	name    string
	base    string // company name without legal form
	domain  string // NetBIOS domain used in "DOMAIN\user"
	culture int
}

type culture struct {
	bases   [][2]string // {name, domain}
	formats []string    // "%s GmbH"
	regions []string    // preferred data regions
}

var cultures = []culture{
	{ // English / international
		bases: [][2]string{
			{"Contoso", "CONTOSO"}, {"Fabrikam", "FABRIKAM"}, {"Northwind Traders", "NORTHWIND"},
			{"Adventure Works", "ADVWORKS"}, {"Tailspin Toys", "TAILSPIN"}, {"Wide World Importers", "WWI"},
			{"Litware", "LITWARE"}, {"Proseware", "PROSEWARE"}, {"Woodgrove Bank", "WOODGROVE"},
			{"Alpine Ski House", "ALPINE"}, {"Coho Winery", "COHO"}, {"Blue Yonder Airlines", "BLUEYONDER"},
			{"Fourth Coffee", "FOURTHCOFFEE"}, {"Lamna Healthcare", "LAMNA"}, {"Margie's Travel", "MARGIES"},
			{"Trey Research", "TREY"}, {"Humongous Insurance", "HUMONGOUS"}, {"Relecloud", "RELECLOUD"},
			{"VanArsdel", "VANARSDEL"}, {"Wingtip Toys", "WINGTIP"}, {"Southridge Video", "SOUTHRIDGE"},
			{"City Power & Light", "CPL"}, {"Consolidated Messenger", "CONSOLIDATED"}, {"A. Datum", "ADATUM"},
			{"Nod Publishers", "NODPUB"}, {"Bellows College", "BELLOWS"}, {"Graphic Design Institute", "GDI"},
		},
		formats: []string{"%s Ltd", "%s Inc.", "%s LLC", "%s plc", "%s Corp.", "%s Pty Ltd"},
		regions: []string{"us01", "us02", "us03", "ca01", "au01", "in01", "eu01"},
	},
	{ // German
		bases: [][2]string{
			{"Müller & Söhne", "MUELLER"}, {"Schäfer Logistik", "SCHAEFER"}, {"Bäckerei Groß", "GROSS"},
			{"Köhler Maschinenbau", "KOEHLER"}, {"Weiß Elektrotechnik", "WEISS"}, {"Meyer Bau", "MEYERBAU"},
			{"Schneider Medizintechnik", "SCHNEIDER"}, {"Hoffmann Spedition", "HOFFMANN"},
			{"Brandt & Partner", "BRANDT"}, {"Stadtwerke Lüneburg", "SWLG"}, {"Zahnärzte am Dom", "ZAHNDOM"},
			{"Fischer Druck", "FISCHER"}, {"Wagner Immobilien", "WAGNER"}, {"Becker Steuerberatung", "BECKER"},
			{"Krüger Autohaus", "KRUEGER"},
		},
		formats: []string{"%s GmbH", "%s AG", "%s KG", "%s GmbH & Co. KG"},
		regions: []string{"eu02", "eu01"},
	},
	{ // French
		bases: [][2]string{
			{"Boulangerie Lefèvre", "LEFEVRE"}, {"Société Générale d'Équipement", "SGE"},
			{"Crédit Régional du Rhône", "CREDREG"}, {"Transports Girard", "GIRARD"},
			{"Pharmacie Saint-Éloi", "STELOI"}, {"Dubois Architectes", "DUBOIS"},
		},
		formats: []string{"%s SARL", "%s SA", "%s SAS"},
		regions: []string{"eu01", "eu02", "ca01"},
	},
	{ // Danish
		bases:   [][2]string{{"Ærøskøbing Fiskeri", "AEROFISK"}, {"Søndergaard Byg", "SONDERG"}, {"Nørrebro Revision", "NORREBRO"}},
		formats: []string{"%s A/S", "%s ApS"},
		regions: []string{"eu01", "eu02"},
	},
	{ // Swedish, Norwegian, Finnish
		bases:   [][2]string{{"Åkesson Bygg", "AKESSON"}, {"Björk & Löfgren", "BJORK"}, {"Nordlys Energi", "NORDLYS"}},
		formats: []string{"%s AB", "%s AS"},
		regions: []string{"eu01", "eu02"},
	},
	{
		bases:   [][2]string{{"Häkkinen Metalli", "HAKKINEN"}, {"Järvinen Kuljetus", "JARVINEN"}},
		formats: []string{"%s Oy"},
		regions: []string{"eu01", "eu02"},
	},
	{ // Spanish
		bases:   [][2]string{{"Construcciones Núñez", "NUNEZ"}, {"Clínica Peñalara", "PENALARA"}, {"Transportes Gómez", "GOMEZ"}},
		formats: []string{"%s S.L.", "%s S.A."},
		regions: []string{"eu01", "eu02", "us01"},
	},
	{ // Portuguese (Brazil)
		bases:   [][2]string{{"Distribuidora São Paulo", "DISTSP"}, {"Comércio Conceição", "CONCEICAO"}, {"Agropecuária Paraná", "AGROPR"}},
		formats: []string{"%s Ltda.", "%s S.A."},
		regions: []string{"br01", "us01"},
	},
	{ // Japanese
		bases: [][2]string{
			{"サンプル", "SAMPLE"}, {"山田製作所", "YAMADA"}, {"東京ロジスティクス", "TKLOGI"},
			{"大阪精密", "OSAKASEI"}, {"北海道フーズ", "HFOODS"}, {"さくら電子", "SAKURA"},
		},
		formats: []string{"株式会社%s", "%s株式会社", "有限会社%s", "合同会社%s"},
		regions: []string{"jp01", "au01"},
	},
	{ // Chinese
		bases:   [][2]string{{"深圳市示例科技", "SHILI"}, {"华南贸易", "HUANAN"}},
		formats: []string{"%s有限公司"},
		regions: []string{"jp01", "au01", "in01"},
	},
	{ // Turkish
		bases:   [][2]string{{"Öztürk İnşaat", "OZTURK"}, {"Çelik Gıda", "CELIK"}},
		formats: []string{"%s A.Ş.", "%s Ltd. Şti."},
		regions: []string{"eu01", "eu02"},
	},
	{ // Polish
		bases:   [][2]string{{"Łódzkie Zakłady Włókiennicze", "LZW"}, {"Śląska Stal", "SLSTAL"}},
		formats: []string{"%s Sp. z o.o.", "%s S.A."},
		regions: []string{"eu02", "eu01"},
	},
	{ // Indian
		bases:   [][2]string{{"Shree Ganesh Textiles", "SGTEX"}, {"Bharat Agro", "BHARAT"}},
		formats: []string{"%s Pvt. Ltd.", "%s Ltd."},
		regions: []string{"in01"},
	},
}

// namePool holds every distinct company name; immutable after init.
var namePool = buildNamePool()

func buildNamePool() []nameEntry {
	seen := map[string]bool{}
	var out []nameEntry
	for ci, c := range cultures {
		for _, f := range c.formats {
			for _, b := range c.bases {
				n := strings.Replace(f, "%s", b[0], 1)
				if seen[n] {
					continue
				}
				seen[n] = true
				out = append(out, nameEntry{name: n, base: b[0], domain: b[1], culture: ci})
			}
		}
	}
	return out
}

// nameIndex maps tenant index i to (pool entry, round); distinct i give
// distinct (entry, round) pairs.
func (g *Generator) nameIndex(i int) (int, uint64) {
	p := uint64(len(g.names))
	k := uint64(i)
	return int(g.names[k%p]), k / p
}

var defaultRegions = []string{"eu01", "eu02", "us01", "us02", "us03", "ca01", "au01", "jp01", "br01", "in01"}

// Regions are the data regions of Sophos Central the generator knows, in
// a fixed order.
func Regions() []string { return append([]string(nil), defaultRegions...) }

// GeographyOf returns the dataGeography of a data region.
func GeographyOf(region string) string {
	switch region {
	case "eu01":
		return "IE"
	case "eu02":
		return "DE"
	case "us01", "us02", "us03":
		return "US"
	case "ca01":
		return "CA"
	case "au01":
		return "AU"
	case "jp01":
		return "JP"
	case "br01":
		return "BR"
	case "in01":
		return "IN"
	}
	if len(region) >= 2 {
		switch region[:2] {
		case "eu":
			return "IE"
		case "us":
			return "US"
		}
	}
	return "US"
}

// Tenant returns tenant number i. Region is one of regions (a default list
// of all known regions if regions is empty); it does not influence the
// other fields.
func (g *Generator) Tenant(i int, regions []string) TenantSpec {
	tk := g.tenantKey(i)
	var r rng
	r.p.Seed(mix64(tk^0x510e527fade682d1), fmix64(tk^0x9b05688c2b3e6c1f))
	var idb [36]byte
	putUUID(idb[:], fmix64(tk^0x1f83d9abfb41bd6b), mix64(tk^0x5be0cd19137e2179))

	ni, round := g.nameIndex(i)
	ne := namePool[ni]
	name := ne.name
	if round > 0 {
		name += " " + strconv.FormatUint(round+1, 10)
	}

	if len(regions) == 0 {
		regions = defaultRegions
	}
	region := ""
	if r.chance(0.7) {
		// Prefer a region matching the company's culture when offered.
		var pref [16]string
		np := 0
		for _, cr := range cultures[ne.culture].regions {
			for _, rr := range regions {
				if rr == cr && np < len(pref) {
					pref[np] = rr
					np++
				}
			}
		}
		if np > 0 {
			region = pref[r.n(np)]
		}
	}
	if region == "" {
		region = regions[r.n(len(regions))]
	}

	billing := "term"
	switch v := r.n(100); {
	case v < 10:
		billing = "trial"
	case v < 25:
		billing = "usage"
	}
	return TenantSpec{
		ID:          string(idb[:]),
		Name:        name,
		Region:      region,
		Geography:   GeographyOf(region),
		BillingType: billing,
	}
}

// ---------------------------------------------------------------------------
// Event types.

// Content categories: what a type's threat/path/extra values are drawn from.
const (
	catNone      = iota
	catPUA       // local PUA file
	catPUARemote // PUA on a network share (UNC)
	catHmpa      // HitmanPro.Alert process
	catHome      // Sophos Home remnants
	catMalware   // local malware file
	catMalRemote // malware on a network share
	catWebCat    // web control: site and category
	catWebURL    // web filtering: URL and reason
	catDevice    // peripheral
	catApp       // controlled application
	catUpdate    // update failure reason
	catHost      // name mentions the host only
)

// Origin policies.
const (
	orNone   = iota
	orCore   // ML / SAV / BLOCKLISTED / nil
	orLegacy // SAV / nil
)

type typeInfo struct {
	name    string
	pua     bool
	weight  int
	group   string
	tpl     string   // {t} threat, {p} path, {h} location, {x} {y} extras
	alt     []string // alternative templates, used 20% of the time
	cat     int
	threat  bool
	sevA    string
	sevB    string
	pSevB   float64
	remedy  string // remedy item result, "" for none
	detail  string // detail type, "" for none
	origin  int
	pSha    float64 // probability of appSha256 (and appCerts)
	hasPath bool    // derived: tpl/alt mention {p}
	needsP  bool    // derived: a path is needed at all
}

// Weights: PUA family sums to 100 with detections 50; other types to 100.
var eventTypes = prepTypes([]typeInfo{
	// PUA detections.
	{name: TypeCorePuaDetection, pua: true, weight: 30, group: "PUA", tpl: "PUA detected: '{t}' at '{p}'",
		cat: catPUA, threat: true, sevA: "medium", sevB: "low", pSevB: 0.4, origin: orCore, pSha: 0.75},
	{name: TypeCorePuaRemoteDetection, pua: true, weight: 5, group: "PUA",
		tpl: "PUA '{t}' detected in network location '{p}' requires attention",
		cat: catPUARemote, threat: true, sevA: "medium", sevB: "high", pSevB: 0.15, pSha: 0.2},
	{name: TypeThreatPuaDetected, pua: true, weight: 6, group: "PUA", tpl: "PUA detected: '{t}' at '{p}'",
		cat: catPUA, threat: true, sevA: "medium", sevB: "low", pSevB: 0.3, origin: orLegacy, pSha: 0.3},
	{name: TypeHmpaPuaDetected, pua: true, weight: 5, group: "PUA", tpl: "Detected PUA: {t}",
		cat: catHmpa, threat: true, sevA: "medium", detail: "HMPA_PROCESS_PATH"},
	{name: TypeHomePuaRemnantsDetected, pua: true, weight: 4, group: "PUA",
		tpl: "Remnants found of Potentially Unwanted App: {t}",
		cat: catHome, threat: true, sevA: "low", detail: "HOME_REMNANT_PATHS"},
	// PUA follow-ups.
	{name: TypeCorePuaClean, pua: true, weight: 18, group: "PUA", tpl: "PUA cleaned up: '{t}' at '{p}'",
		cat: catPUA, threat: true, sevA: "low", remedy: "SUCCESS", origin: orCore, pSha: 0.5},
	{name: TypeCorePuaCleanFailed, pua: true, weight: 4, group: "PUA",
		tpl: "Manual PUA cleanup required: '{t}' at '{p}'",
		cat: catPUA, threat: true, sevA: "medium", sevB: "high", pSevB: 0.1, remedy: "FAILED_TO_DELETE", pSha: 0.3},
	{name: TypeCorePuaCleanNothing, pua: true, weight: 3, group: "PUA", tpl: "No items were cleaned.",
		cat: catPUA, sevA: "low", remedy: "NOT_FOUND"},
	{name: TypeCorePuaReboot, pua: true, weight: 3, group: "PUA",
		tpl: "Reboot required for complete PUA cleanup: '{t}' at '{p}'",
		cat: catPUA, threat: true, sevA: "medium", sevB: "low", pSevB: 0.3},
	{name: TypeCorePuaRestore, pua: true, weight: 2, group: "PUA", tpl: "Restored: '{t}' and associated items",
		cat: catPUA, threat: true, sevA: "low"},
	{name: TypeCorePuaRestoreFailed, pua: true, weight: 1, group: "PUA",
		tpl: "Restore failed: '{t}' and associated items", cat: catPUA, threat: true, sevA: "medium"},
	{name: TypeThreatPuaCleanedUp, pua: true, weight: 6, group: "PUA", tpl: "PUA cleaned up: '{t}' at '{p}'",
		cat: catPUA, threat: true, sevA: "low"},
	{name: TypeThreatPuaDismissed, pua: true, weight: 3, group: "PUA", tpl: "PUA locally cleared: '{t}' at '{p}'",
		cat: catPUA, threat: true, sevA: "low"},
	{name: TypeThreatPuaCleanupFailed, pua: true, weight: 3, group: "PUA",
		tpl: "Manual PUA cleanup required: '{t}' at '{p}'",
		alt: []string{
			"Computer scan required to complete PUA cleanup: '{t}' at '{p}'",
			"PUA not cleaned up: '{t}' at '{p}'",
			"Reboot required to complete PUA cleanup: '{t}' at '{p}'",
		},
		cat: catPUA, threat: true, sevA: "medium", remedy: "FAILED_TO_DELETE"},
	{name: TypeHmpaPuaCleanup, pua: true, weight: 4, group: "PUA", tpl: "{t} has been cleaned up",
		cat: catHmpa, threat: true, sevA: "low", detail: "HMPA_PROCESS_PATH"},
	{name: TypeHomePuaRemnantsDeleted, pua: true, weight: 3, group: "PUA",
		tpl: "Remnants deleted of Potentially Unwanted App: {t}",
		cat: catHome, threat: true, sevA: "low", detail: "HOME_REMNANT_PATHS"},

	// Other types.
	{name: "Event::Endpoint::UpdateSuccess", weight: 30, group: "UPDATING", tpl: "Update succeeded",
		sevA: "low", sevB: "none", pSevB: 0.1},
	{name: "Event::Endpoint::UpdateFailure", weight: 5, group: "UPDATING", tpl: "Update failed: {x}",
		cat: catUpdate, sevA: "medium", sevB: "high", pSevB: 0.2},
	{name: "Event::Endpoint::UpdateRebootRequired", weight: 3, group: "UPDATING",
		tpl: "Reboot required to complete update", sevA: "medium", sevB: "low", pSevB: 0.3},
	{name: "Event::Endpoint::WebControlViolation", weight: 9, group: "WEB",
		tpl: "'{x}' blocked due to category '{y}'", cat: catWebCat, sevA: "low"},
	{name: "Event::Endpoint::WebFilteringBlocked", weight: 6, group: "WEB",
		tpl: "Access was blocked to '{x}' because of '{y}'", cat: catWebURL, sevA: "medium", sevB: "low", pSevB: 0.3},
	{name: "Event::Endpoint::CoreDetection", weight: 3, group: "MALWARE", tpl: "Malware detected: '{t}' at '{p}'",
		cat: catMalware, threat: true, sevA: "high", sevB: "critical", pSevB: 0.1, origin: orCore, pSha: 0.8},
	{name: "Event::Endpoint::CoreRemoteDetection", weight: 1, group: "MALWARE",
		tpl: "Malware '{t}' detected in network location '{p}' requires attention",
		cat: catMalRemote, threat: true, sevA: "high"},
	{name: "Event::Endpoint::CoreClean", weight: 3, group: "MALWARE", tpl: "Malware cleaned up: '{t}' at '{p}'",
		cat: catMalware, threat: true, sevA: "low", remedy: "SUCCESS", origin: orCore, pSha: 0.5},
	{name: "Event::Endpoint::CoreCleanFailed", weight: 1, group: "MALWARE",
		tpl: "Manual malware cleanup required: '{t}' at '{p}'",
		cat: catMalware, threat: true, sevA: "high", sevB: "critical", pSevB: 0.2, remedy: "FAILED_TO_DELETE"},
	{name: "Event::Endpoint::Threat::Detected", weight: 2, group: "MALWARE", tpl: "Malware detected: '{t}' at '{p}'",
		cat: catMalware, threat: true, sevA: "high", sevB: "critical", pSevB: 0.05, origin: orLegacy},
	{name: "Event::Endpoint::Threat::CleanupFailed", weight: 1, group: "MALWARE",
		tpl: "Manual cleanup required: '{t}' at '{p}'",
		cat: catMalware, threat: true, sevA: "high", remedy: "FAILED_TO_DELETE"},
	{name: "Event::Endpoint::Device::AlertedOnly", weight: 5, group: "PERIPHERALS",
		tpl: "Peripheral allowed (alert only): '{x}'", cat: catDevice, sevA: "low"},
	{name: "Event::Endpoint::SavScanComplete", weight: 6, group: "PROTECTION",
		tpl: "Scan 'Sophos Cloud Scheduled Scan' completed", sevA: "none", sevB: "low", pSevB: 0.4},
	{name: "Event::Endpoint::Application::Allowed", weight: 4, group: "APPLICATION_CONTROL",
		tpl: "Controlled application allowed: '{x}'", cat: catApp, sevA: "low"},
	{name: "Event::Endpoint::Registered", weight: 2, group: "PROTECTION", tpl: "New {x} registered: '{h}'",
		cat: catHost, sevA: "none", sevB: "low", pSevB: 0.3},
	{name: "Event::Endpoint::NotProtected", weight: 2, group: "PROTECTION", tpl: "Failed to protect computer: '{h}'",
		cat: catHost, sevA: "high", sevB: "critical", pSevB: 0.15},
	{name: "Event::Endpoint::Compliant", weight: 2, group: "PROTECTION", tpl: "Computer is compliant with policy",
		sevA: "low", sevB: "none", pSevB: 0.5},
})

// puaPick and otherPick index into eventTypes by a uniform value over the
// family's total weight. Immutable after init.
var puaPick, otherPick = buildPick(true), buildPick(false)

func buildPick(pua bool) []uint8 {
	var t []uint8
	for i := range eventTypes {
		ti := &eventTypes[i]
		if ti.pua != pua {
			continue
		}
		for range ti.weight {
			t = append(t, uint8(i))
		}
	}
	return t
}

// prepTypes fills the derived fields of a type table.
func prepTypes(t []typeInfo) []typeInfo {
	for i := range t {
		ti := &t[i]
		ti.hasPath = strings.Contains(ti.tpl, "{p}")
		for _, a := range ti.alt {
			ti.hasPath = ti.hasPath || strings.Contains(a, "{p}")
		}
		ti.needsP = ti.hasPath || ti.remedy != "" || ti.detail != ""
		if ti.sevB == "" {
			ti.sevB = ti.sevA
		}
	}
	return t
}

// typeIdx returns the eventTypes index for type hash h.
func (g *Generator) typeIdx(h uint64) uint8 {
	if h>>32 < g.otherThr {
		return otherPick[(uint64(uint32(h))*uint64(len(otherPick)))>>32]
	}
	return puaPick[(uint64(uint32(h))*uint64(len(puaPick)))>>32]
}

// EventType returns the type of event number seq of tenant number ti.
// It is cheap (no allocation) and consistent with Event.
func (g *Generator) EventType(ti int, seq uint64) string {
	x := g.tenantKey(ti) + seq*golden
	return eventTypes[g.typeIdx(mix64(x))].name
}

func eventIDWords(tk, seq uint64) (hi, lo uint64) {
	x := tk + seq*golden
	return fmix64(x ^ 0x243f6a8885a308d3), mix64(seq ^ fmix64(tk^0x13198a2e03707344))
}

// eventID returns the UUID (version 4 layout) of event seq of tenant ti;
// consistent with Event.
func (g *Generator) eventID(ti int, seq uint64) string {
	var b [36]byte
	hi, lo := eventIDWords(g.tenantKey(ti), seq)
	putUUID(b[:], hi, lo)
	return string(b[:])
}

// ---------------------------------------------------------------------------
// Formatting helpers (append into a byte buffer; no allocation).

const hexDigits = "0123456789abcdef"

// putUUID writes hi/lo as a lower-case version-4, RFC 4122 variant UUID
// into dst[:36].
func putUUID(dst []byte, hi, lo uint64) {
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(hi >> (56 - 8*i))
		raw[8+i] = byte(lo >> (56 - 8*i))
	}
	raw[6] = raw[6]&0x0f | 0x40
	raw[8] = raw[8]&0x3f | 0x80
	j := 0
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j] = hexDigits[c>>4]
		dst[j+1] = hexDigits[c&15]
		j += 2
	}
}

func appendUUID(b []byte, hi, lo uint64) []byte {
	var u [36]byte
	putUUID(u[:], hi, lo)
	return append(b, u[:]...)
}

// appendHex appends the low n nibbles of v (n <= 16), most significant first.
func appendHex(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, hexDigits[(v>>(4*uint(i)))&15])
	}
	return b
}

// appendPad appends v in decimal, zero-padded to at least width digits.
func appendPad(b []byte, v uint64, width int) []byte {
	var d [20]byte
	i := len(d)
	for v > 0 || i == len(d) {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	for n := len(d) - i; n < width; n++ {
		b = append(b, '0')
	}
	return append(b, d[i:]...)
}

// appendTpl appends a path template, replacing {u} by user and {s} by
// server.
func appendTpl(b []byte, tpl string, user []byte, server string) []byte {
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 || i+2 >= len(tpl) || tpl[i+2] != '}' {
			return append(b, tpl...)
		}
		b = append(b, tpl[:i]...)
		switch tpl[i+1] {
		case 'u':
			b = append(b, user...)
		case 's':
			b = append(b, server...)
		default:
			b = append(b, tpl[i:i+3]...)
		}
		tpl = tpl[i+3:]
	}
}

// ---------------------------------------------------------------------------
// Endpoints.

const (
	epComputer = iota
	epServer
	epMobile
)

var endpointTypeNames = [...]string{"computer", "server", "mobile"}

// endpoint is one endpoint of a tenant; all fields derive from (tk, index).
type endpoint struct {
	h       uint64 // endpoint hash
	idx     int
	kind    int
	style   int // hostname style
	hostile int // >= 0: index into hostileHosts (a hostile endpoint)
}

var (
	depts        = []string{"FIN", "HR", "IT", "MKT", "SALES", "OPS", "ENG", "LEGAL", "PROD", "LOG", "RND", "ADM", "CS", "PUR"}
	sites        = []string{"BER", "MUC", "HAM", "FRA", "LON", "PAR", "NYC", "CHI", "SYD", "TYO", "SAO", "BLR", "TOR", "AMS", "VIE", "ZRH"}
	serverRoles  = []string{"APP", "FS", "DC", "SQL", "EXCH", "WEB", "BKP", "PRINT", "RDS", "HV", "ERP", "CTX"}
	mobileModels = []string{"iPhone-", "iPad-", "Galaxy-S23-", "Pixel-8-", "Galaxy-Tab-"}
	// Ordinary non-ASCII host name prefixes (a small share of endpoints).
	intlHosts  = []string{"PC-MÜNCHEN-", "BÜRO-", "ÆRØSKØBING-", "ノートPC-", "PC-ZÜRICH-", "ПК-БУХ-", "İSTANBUL-PC", "SÃO-PAULO-", "MÅLØY-WS"}
	firstNames = []string{
		"anna", "jan", "julia", "lukas", "sarah", "thomas", "laura", "michael", "lisa", "stefan",
		"emma", "oliver", "sophie", "daniel", "marie", "james", "olivia", "david", "emily", "peter",
		"claire", "pierre", "marco", "giulia", "carlos", "lucia", "kenji", "yuki", "priya", "arjun",
	}
	lastNames = []string{
		"meyer", "weber", "fischer", "schmidt", "wagner", "becker", "hoffmann", "schulz", "koch", "richter",
		"klein", "wolf", "neumann", "schwarz", "braun", "hartmann", "lange", "werner", "krause", "lehmann",
		"smith", "johnson", "brown", "taylor", "wilson", "davies", "evans", "walker", "wright", "green",
		"martin", "dubois", "rossi", "garcia", "silva", "tanaka", "sato", "nguyen", "kim", "patel",
	}
	// Ordinary non-ASCII account names (a small share of users).
	intlUsers   = []string{"jürgen.groß", "søren.ærø", "zoë.brontë", "łukasz.wójcik", "çağrı.öztürk", "ユーザー", "田中.太郎", "josé.núñez", "françois.lefèvre", "björn.åkesson"}
	serverUsers = []string{"svc_backup", "svc_sql", "Administrator", "svc_deploy"}
	fileServers = []string{"FS01", "FS02", "NAS01", "SRV-FS-01", "fileserver", "DFS01"}
	shares      = []string{`Tools`, `Software`, `IT$`, `Public`, `Install`, `Users$\{u}`, `Transfer`, `Abteilungen\IT`}
)

// endpointCount returns how many endpoints tenant tk has (5..200, skewed
// towards small tenants).
func endpointCount(tk uint64) int {
	u := float64(fmix64(tk^0x8a5cd789635d2dff)>>11) * (1.0 / (1 << 53))
	return 5 + int(195*u*u)
}

func endpointAt(tk uint64, e int) endpoint {
	h := mix64(fmix64(tk^0xe8f3b5a1c2d4f607) + uint64(e)*golden)
	ep := endpoint{h: h, idx: e, hostile: -1}
	switch k := h % 1000; {
	case k < 15:
		ep.kind = epMobile
	case k < 165:
		ep.kind = epServer
	}
	ep.style = int(fmix64(tk^0x7c1f0e2d3b4a5968) % 4) // tenant naming scheme
	if (h>>10)%100 < 15 {
		ep.style = 3 // unmanaged Windows default name
	}
	return ep
}

func hostileEndpoint(tk uint64, k int) endpoint {
	h := mix64(fmix64(tk^0x2d7e9f1a3c5b7d9e) + uint64(k)*golden)
	return endpoint{h: h, idx: k, kind: epComputer, hostile: k}
}

// intlHost and intlUser report whether the endpoint uses ordinary non-ASCII names.
func (ep endpoint) intlHost() bool { return (ep.h>>20)%100 < 3 }
func (ep endpoint) intlUser() bool { return (ep.h>>27)%100 < 4 }

func (ep endpoint) appendID(b []byte) []byte {
	return appendUUID(b, fmix64(ep.h^0x4f1bbcdcbfa54d6b), mix64(ep.h^0x1a2b3c4d5e6f7081))
}

func (ep endpoint) appendHost(b []byte, tk uint64) []byte {
	if ep.hostile >= 0 {
		return append(b, hostileHosts[ep.hostile]...)
	}
	e := uint64(ep.idx)
	if ep.intlHost() {
		b = append(b, intlHosts[(ep.h>>33)%uint64(len(intlHosts))]...)
		return appendPad(b, e+1, 2)
	}
	switch ep.kind {
	case epServer:
		if (ep.h>>40)%4 == 0 {
			b = append(b, serverRoles[(ep.h>>44)%uint64(len(serverRoles))]...)
			return appendPad(b, e+1, 2)
		}
		b = append(b, "SRV-"...)
		b = append(b, serverRoles[(ep.h>>44)%uint64(len(serverRoles))]...)
		b = append(b, '-')
		return appendPad(b, e+1, 2)
	case epMobile:
		b = append(b, mobileModels[(ep.h>>40)%uint64(len(mobileModels))]...)
		return appendPad(b, e*37%1000+1, 3)
	}
	num := (e*7919 + fmix64(tk)%10000) % 10000 // distinct for e < 10000
	switch ep.style {
	case 0:
		b = append(b, "WS-"...)
		b = append(b, depts[(ep.h>>40)%uint64(len(depts))]...)
		b = append(b, '-')
		return appendPad(b, num, 4)
	case 1:
		b = append(b, sites[(tk>>20)%uint64(len(sites))]...)
		b = append(b, "-PC"...)
		return appendPad(b, num, 4)
	case 2:
		b = append(b, sites[(tk>>20)%uint64(len(sites))]...)
		b = append(b, "-NB-"...)
		return appendPad(b, num, 4)
	}
	if (ep.h>>40)&1 == 0 {
		b = append(b, "DESKTOP-"...)
	} else {
		b = append(b, "LAPTOP-"...)
	}
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	v := fmix64(ep.h ^ 0x0123456789abcdef)
	for range 7 {
		b = append(b, alnum[v%36])
		v /= 36
	}
	return b
}

// appendUser appends the endpoint's usual account name; ok is false when
// the endpoint has no user (source "n/a").
func (ep endpoint) appendUser(b []byte, tk uint64) ([]byte, bool) {
	u := fmix64(ep.h ^ 0x5555aaaa3333cccc)
	if ep.kind == epServer {
		if u%10 < 6 {
			return b, false
		}
		if u%10 == 9 {
			b = append(b, "admin."...)
			return append(b, lastNames[(tk>>8)%uint64(len(lastNames))]...), true
		}
		return append(b, serverUsers[(u>>8)%uint64(len(serverUsers))]...), true
	}
	if ep.intlUser() {
		return append(b, intlUsers[(u>>8)%uint64(len(intlUsers))]...), true
	}
	first := firstNames[(u>>8)%uint64(len(firstNames))]
	last := lastNames[(u>>16)%uint64(len(lastNames))]
	switch (tk >> 36) % 4 { // tenant account naming scheme
	case 0:
		b = append(b, first[0], '.')
		b = append(b, last...)
	case 1:
		b = append(b, first...)
		b = append(b, '.')
		b = append(b, last...)
	case 2:
		b = append(b, last...)
		b = append(b, first[0])
	default:
		b = append(b, first[0])
		b = append(b, last...)
	}
	return b, true
}

func (ep endpoint) appendIP(b []byte, tk uint64) []byte {
	b = append(b, "10."...)
	b = strconv.AppendUint(b, 1+tk%254, 10)
	b = append(b, '.')
	if ep.hostile >= 0 {
		b = append(b, "250."...)
		return strconv.AppendUint(b, uint64(10+ep.idx), 10)
	}
	b = strconv.AppendUint(b, 1+(ep.h>>48)%64, 10)
	b = append(b, '.')
	return strconv.AppendUint(b, 2+uint64(ep.idx)%250, 10)
}

// ---------------------------------------------------------------------------
// Threat catalogues. Path templates: {u} user, {s} file server.

type threatDef struct {
	name   string
	weight int
	files  []string
	signer int // index into signers, -1 unsigned, -2 random generic signer
}

var genericFiles = []string{
	`C:\Users\{u}\Downloads\pdf_converter_setup.exe`,
	`C:\Users\{u}\Downloads\FreeYouTubeDownloader_Setup.exe`,
	`C:\Users\{u}\AppData\Local\Temp\is-4T2QK.tmp\setup.tmp`,
	`C:\Users\{u}\Downloads\driver_booster_setup.exe`,
	`C:\Users\{u}\Downloads\WinZipSetup.exe`,
	`C:\Users\{u}\Desktop\Tools\KMSpico_setup.exe`,
	`C:\Users\{u}\Downloads\Wondershare_Filmora_setup.exe`,
	`C:\Users\{u}\AppData\Local\Temp\7zS4A2B\OneSafePCCleaner.exe`,
	`C:\Users\{u}\Downloads\ChromeSetup (1).exe`,
	`C:\Users\{u}\AppData\Roaming\WebCompanion\WebCompanion.exe`,
	`C:\Program Files (x86)\Common Files\Toolbar\tbcore.dll`,
}

var puaThreats = []threatDef{
	{"Generic Reputation PUA", 30, genericFiles, -2},
	{"Generic ML PUA", 15, genericFiles, -2},
	{"Rule Generic PUA", 6, genericFiles, -2},
	{"PsExec", 10, []string{`C:\Tools\Sysinternals\PsExec64.exe`, `C:\Users\{u}\Downloads\PSTools\PsExec.exe`, `C:\Windows\PSEXESVC.exe`}, 0},
	{"NetCat", 4, []string{`C:\Users\{u}\Downloads\netcat-1.11\nc64.exe`, `C:\Tools\nc.exe`}, -1},
	{"Advanced IP Scanner", 8, []string{`C:\Program Files (x86)\Advanced IP Scanner\advanced_ip_scanner.exe`, `C:\Users\{u}\Downloads\Advanced_IP_Scanner_2.5.4594.1.exe`}, 1},
	{"AnyDesk", 8, []string{`C:\Users\{u}\Downloads\AnyDesk.exe`, `C:\ProgramData\AnyDesk\AnyDesk.exe`}, 2},
	{"NirSoft Password Recovery", 4, []string{`C:\Users\{u}\Downloads\WebBrowserPassView.exe`, `C:\Users\{u}\Downloads\mailpv\mailpv.exe`}, -1},
	{"PUA/CoinMiner.Generic", 3, []string{`C:\Users\{u}\AppData\Roaming\xmrig\xmrig.exe`}, -1},
	{"OpenCandy", 3, []string{`C:\Users\{u}\AppData\Local\Temp\OpenCandy\OCSetupHlp.dll`}, -1},
	{"Process Hacker", 3, []string{`C:\Program Files\Process Hacker 2\ProcessHacker.exe`}, 3},
	{"uTorrent", 3, []string{`C:\Users\{u}\AppData\Roaming\uTorrent\uTorrent.exe`}, 4},
	{"Cheat Engine", 2, []string{`C:\Program Files\Cheat Engine 7.5\cheatengine-x86_64.exe`}, -1},
}

var hmpaThreats = []threatDef{
	{"PUA/CoinMiner.Generic", 4, []string{`C:\Program Files\Google\Chrome\Application\chrome.exe`, `C:\Users\{u}\AppData\Roaming\xmrig\xmrig.exe`}, -1},
	{"PUA/CryptoMiner.XMRig", 2, []string{`C:\Users\{u}\AppData\Local\Temp\xmrig-6.21.0\xmrig.exe`}, -1},
	{"PUA/Adware.Generic", 2, []string{`C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe`}, -1},
	{"PUA/BrowserModifier.Generic", 1, []string{`C:\Program Files\Mozilla Firefox\firefox.exe`}, -1},
}

var homeThreats = []threatDef{
	{"OpenCandy", 3, []string{`C:\ProgramData\OpenCandy`, `C:\Users\{u}\AppData\Local\Temp\OpenCandy`}, -1},
	{"InstallCore", 2, []string{`C:\Users\{u}\AppData\Local\Temp\InstallCore`}, -1},
	{"Conduit Search", 1, []string{`C:\Users\{u}\AppData\Local\Conduit`}, -1},
	{"Ask Toolbar", 1, []string{`C:\Program Files (x86)\Ask.com`}, -1},
	{"Babylon Toolbar", 1, []string{`C:\Users\{u}\AppData\Roaming\Babylon`}, -1},
	{"MyWebSearch", 1, []string{`C:\Program Files (x86)\MyWebSearch`}, -1},
	{"Wajam", 1, []string{`C:\Program Files (x86)\Wajam`}, -1},
}

var malwareThreats = []threatDef{
	{"Troj/Agent-BHXT", 3, []string{`C:\Users\{u}\Downloads\invoice_2025_06.exe`, `C:\Windows\Temp\svchost32.exe`}, -1},
	{"Mal/Generic-S", 4, []string{`C:\Users\{u}\AppData\Local\Temp\Rar$EXa4120.3381\Rechnung.pdf.exe`}, -1},
	{"ML/PE-A", 4, []string{`C:\Users\{u}\Downloads\setup_crack.exe`, `C:\Users\{u}\AppData\Roaming\updater.exe`}, -1},
	{"Troj/Ransom-GXS", 1, []string{`C:\Users\{u}\Desktop\decrypt_files.exe`}, -1},
	{"Mal/HTMLGen-A", 2, []string{`C:\Users\{u}\AppData\Local\Microsoft\Windows\INetCache\IE\X1Y2Z3\index[1].htm`}, -1},
	{"EICAR-AV-Test", 2, []string{`C:\Users\{u}\Downloads\eicar.com`, `C:\Users\{u}\Desktop\eicar_com.zip`}, -1},
	{"Troj/Emotet-CQR", 1, []string{`C:\Users\{u}\AppData\Local\Temp\Auftrag_0615.doc`}, -1},
	{"Troj/PDFJs-AAV", 1, []string{`C:\Users\{u}\Downloads\Lieferschein.pdf`}, -1},
}

type signerDef struct {
	name       string
	thumbprint string
}

// signers: 0..4 fixed (PsExec, Advanced IP Scanner, AnyDesk, Process
// Hacker, uTorrent), the rest are generic bundleware signers.
var signers = buildSigners([]string{
	"Microsoft Corporation", "Famatech Corp.", "AnyDesk Software GmbH", "Wen Jia Liu", "BitTorrent Inc",
	"Softonic International S.A.", "Wondershare Technology Co.,Ltd", "IObit Information Technology",
	"Lavasoft Software Canada Inc.", "Corel Corporation", "Digital River Ireland Ltd.",
})

const firstGenericSigner = 5

func buildSigners(names []string) []signerDef {
	out := make([]signerDef, len(names))
	for i, n := range names {
		h := hashString(n)
		b := make([]byte, 0, 64)
		for k := range 4 {
			b = appendHex(b, mix64(h+uint64(k)*golden), 16)
		}
		out[i] = signerDef{name: n, thumbprint: string(b)}
	}
	return out
}

// Threat pick tables (indices into the threat slices by weight).
var (
	puaThreatPick     = buildThreatPick(puaThreats)
	hmpaThreatPick    = buildThreatPick(hmpaThreats)
	homeThreatPick    = buildThreatPick(homeThreats)
	malwareThreatPick = buildThreatPick(malwareThreats)
)

func buildThreatPick(ts []threatDef) []uint8 {
	var t []uint8
	for i, d := range ts {
		for range d.weight {
			t = append(t, uint8(i))
		}
	}
	return t
}

var (
	webSites = [][2]string{
		{"www.pokerstars.com", "Gambling"}, {"www.facebook.com", "Social Networking"},
		{"store.steampowered.com", "Games"}, {"www.twitch.tv", "Streaming Media"},
		{"thepiratebay.org", "Peer to Peer and Torrents"}, {"www.bet365.com", "Gambling"},
		{"www.tiktok.com", "Social Networking"}, {"www.dropbox.com", "Online Storage"},
	}
	webURLs = [][2]string{
		{"http://sophostest.com/malware/index.html", "Malicious site"},
		{"http://update-flash-player.xyz/download/", "Malicious site"},
		{"https://login-microsoftonline.example-secure.com/", "Phishing"},
		{"http://cdn.free-pdf-tools.top/setup.exe", "High risk download"},
		{"http://sophostest.com/pua/index.html", "Potentially unwanted application"},
	}
	devices = []string{
		"SanDisk Cruzer Blade", "Kingston DataTraveler 3.0", "WD My Passport 25E2",
		"Samsung Galaxy S23 (MTP)", "Generic USB Mass Storage", "Intenso Speed Line",
	}
	apps = []string{
		"TeamViewer", "Dropbox", "Zoom", "Spotify", "WhatsApp Desktop", "Skype", "Google Drive", "WinSCP",
	}
	updateReasons = []string{
		"could not contact a server containing updates",
		"download of Sophos Endpoint Agent failed",
		"not enough disk space",
		"installation of Sophos Intercept X failed",
	}
	mobileApps = []string{"com.cleaner.boost", "com.free.vpn.proxy", "com.flashlight.pro", "com.coinminer.app"}
)

// ---------------------------------------------------------------------------
// Hostile values.

var hostileHosts = []string{
	`<script>alert(1)</script>`,
	`WS-<img src=x onerror=alert(1)>`,
	`PC-"QUOTED"-01`,
	`HOST'OR'1'='1`,
	"WS-`id`-02",
	"WS-FIN-0001\r\nX-Injected: 1",
	"LAPTOP-01\nX-Injected: 1",
	`WS|CEF=1\2`,
	`PC-MÜNCHEN-01`,
	`ノートPC-ユーザー`,
	`Ærøskøbing`,
	`SRV-"><svg onload=alert(1)>`,
}

type hostileUser struct {
	s    string
	full bool // s is a whole "DOMAIN\user" source
}

var hostileUsers = []hostileUser{
	{`<script>alert(1)</script>`, false},
	{`<img src=x onerror=alert(1)>`, false},
	{`o'brien`, false},
	{`"admin"`, false},
	{"`whoami`", false},
	{"j.doe\r\nX-Injected: 1", false},
	{`a|b=c\d`, false},
	{`ユーザー`, false},
	{`jürgen.groß`, false},
	{`søren.ærø`, false},
	{`MÜNCHEN\jürgen`, true},
	{`EVIL|DOMAIN\x=y`, true},
	{`<b>CORP</b>\user`, true},
}

var hostilePaths = buildHostilePaths()

func buildHostilePaths() []string {
	var long strings.Builder
	long.WriteString(`C:\Users\j.meyer\AppData\Local\Temp\`)
	for i := 1; long.Len() < 330; i++ {
		long.WriteString("Very Long Folder Name Number ")
		long.WriteString(strconv.Itoa(i))
		long.WriteByte('\\')
	}
	long.WriteString("installer_setup_x64.exe")

	var unc strings.Builder
	unc.WriteString(`\\fileserver01.corp.example.com\Department Share$\`)
	for i := 1; unc.Len() < 330; i++ {
		unc.WriteString("Projekte Unterordner ")
		unc.WriteString(strconv.Itoa(i))
		unc.WriteByte('\\')
	}
	unc.WriteString("netscan64.exe")

	return []string{
		`C:\Users\Public\Downloads\<script>alert(1)</script>.exe`,
		`C:\Users\Public\<img src=x onerror=alert(1)>\setup.exe`,
		`C:\Temp\"quoted" 'single' ` + "`tick`" + `\tool.exe`,
		"C:\\Temp\\evil.exe\r\nX-Injected: 1",
		`C:\Temp\cef|pipe=equals\back\\slash\x.exe`,
		long.String(),
		unc.String(),
		`C:\Users\ユーザー\ダウンロード\ツール.exe`,
		`C:\Users\Jürgen Groß\Downloads\Übersetzer_Setup.exe`,
		`\\srv\share\<svg onload=alert(1)>\a"b'c.exe`,
	}
}

// ---------------------------------------------------------------------------
// Events.

type span struct{ a, b int }

// Event builds the full event seq of tenant t (index ti), created at
// created. CreatedAt is created normalised to UTC and truncated to the
// millisecond; When precedes it by 0..3 s. The same generator seed, ti, seq
// and created always give a DeepEqual event.
func (g *Generator) Event(t TenantSpec, ti int, seq uint64, created time.Time) Event {
	tk := g.tenantKey(ti)
	x := tk + seq*golden
	info := &eventTypes[g.typeIdx(mix64(x))]
	var r rng
	r.p.Seed(mix64(x^0xa4093822299f31d0), fmix64(x^0x082efa98ec4e6c89))

	created = created.UTC().Truncate(time.Millisecond)
	ev := Event{
		Type:         info.name,
		Group:        info.group,
		CustomerID:   t.ID,
		CreatedAt:    created,
		When:         created.Add(-time.Duration(r.n(3001)) * time.Millisecond),
		EndpointType: "computer",
	}
	if r.chance(info.pSevB) {
		ev.Severity = info.sevB
	} else {
		ev.Severity = info.sevA
	}

	// Endpoint: a few endpoints per tenant are much noisier than others.
	n := endpointCount(tk)
	var e int
	if r.chance(0.5) {
		f := float64(r.u64()>>11) * (1.0 / (1 << 53))
		e = int(f * f * float64(n))
	} else {
		e = r.n(n)
	}
	ep := endpointAt(tk, e)

	// Hostile fields.
	const hLoc, hSrc, hPath = 1, 2, 4
	mask := 0
	if r.u64()>>32 < g.hostileThr {
		mask = 1 + r.n(7)
		if mask&(hLoc|hSrc) == 0 && !info.hasPath {
			mask |= hLoc << r.n(2) // the path is not visible: location or source
		}
	}
	if mask&hLoc != 0 {
		ep = hostileEndpoint(tk, r.n(len(hostileHosts)))
	}
	ev.EndpointType = endpointTypeNames[ep.kind]

	buf := make([]byte, 0, 1024)
	var sID, sEP, sLoc, sSrc, sIP, sUID, sPath, sSha, sName, sX, sY span
	mark := func(s *span, start int) { *s = span{start, len(buf)} }

	hi, lo := eventIDWords(tk, seq)
	st := len(buf)
	buf = appendUUID(buf, hi, lo)
	mark(&sID, st)

	st = len(buf)
	buf = ep.appendID(buf)
	mark(&sEP, st)

	st = len(buf)
	buf = ep.appendHost(buf, tk)
	mark(&sLoc, st)

	ni, _ := g.nameIndex(ti)
	domain := namePool[ni].domain
	// Usual user (also used in paths).
	uStart := len(buf)
	var hasUser bool
	buf, hasUser = ep.appendUser(buf, tk)
	sUser := span{uStart, len(buf)}
	userKey := ep.h
	if ep.kind != epServer && hasUser && r.chance(0.05) {
		// An IT admin working on the machine.
		uStart = len(buf)
		buf = append(buf, "admin."...)
		buf = append(buf, lastNames[(tk>>8)%uint64(len(lastNames))]...)
		sUser = span{uStart, len(buf)}
		userKey = tk ^ 0xadadadadadadadad
	}

	st = len(buf)
	switch {
	case mask&hSrc != 0:
		hu := pick(&r, hostileUsers)
		if !hu.full {
			buf = append(buf, domain...)
			buf = append(buf, '\\')
		}
		buf = append(buf, hu.s...)
		hasUser = true
		userKey = ep.h ^ 0x4057113
	case hasUser:
		buf = append(buf, domain...)
		buf = append(buf, '\\')
		buf = append(buf, buf[sUser.a:sUser.b]...)
	default:
		buf = append(buf, "n/a"...)
	}
	mark(&sSrc, st)

	st = len(buf)
	buf = ep.appendIP(buf, tk)
	mark(&sIP, st)

	var ptrs *[4]string // user_id, threat, origin, appSha256
	getPtrs := func() *[4]string {
		if ptrs == nil {
			ptrs = new([4]string)
		}
		return ptrs
	}
	if hasUser && r.chance(0.93) {
		st = len(buf)
		uh := fmix64(userKey ^ 0x0b1ec7)
		buf = appendHex(buf, 0x6000_0000|uh>>40&0x0fff_ffff, 8)
		buf = appendHex(buf, mix64(uh), 16)
		mark(&sUID, st)
	}

	// Threat, path and extras.
	threat, signer := "", -1
	var td *threatDef
	switch info.cat {
	case catPUA, catPUARemote:
		td = &puaThreats[pick(&r, puaThreatPick)]
	case catHmpa:
		td = &hmpaThreats[pick(&r, hmpaThreatPick)]
	case catHome:
		td = &homeThreats[pick(&r, homeThreatPick)]
	case catMalware, catMalRemote:
		td = &malwareThreats[pick(&r, malwareThreatPick)]
	case catWebCat:
		w := pick(&r, webSites)
		buf, sX = appendSpan(buf, w[0])
		buf, sY = appendSpan(buf, w[1])
	case catWebURL:
		w := pick(&r, webURLs)
		buf, sX = appendSpan(buf, w[0])
		buf, sY = appendSpan(buf, w[1])
	case catDevice:
		buf, sX = appendSpan(buf, pick(&r, devices))
	case catApp:
		buf, sX = appendSpan(buf, pick(&r, apps))
	case catUpdate:
		buf, sX = appendSpan(buf, pick(&r, updateReasons))
	case catHost:
		buf, sX = appendSpan(buf, endpointTypeNames[ep.kind])
	}
	fileIdx := 0
	if td != nil {
		threat = td.name
		signer = td.signer
		if signer == -2 {
			signer = firstGenericSigner + r.n(len(signers)-firstGenericSigner)
			if r.chance(0.3) {
				signer = -1
			}
		}
		fileIdx = r.n(len(td.files))
		if ep.kind == epMobile && (info.cat == catPUA || info.cat == catMalware) {
			// Android: no Windows tools, no Authenticode signers.
			threat, signer = "Andr/PUA-Generic", -1
			if info.cat == catMalware {
				threat = "Andr/Generic-S"
			}
		}
	}
	if info.needsP {
		if sUser.a == sUser.b {
			buf, sUser = appendSpan(buf, "Administrator")
		}
		// userForPath aliases buf; appending it to buf is safe because it
		// lies below len(buf).
		userForPath := buf[sUser.a:sUser.b]
		st = len(buf)
		switch {
		case mask&hPath != 0:
			buf = append(buf, pick(&r, hostilePaths)...)
		case td == nil:
			buf = append(buf, `C:\Users\`...)
			buf = append(buf, userForPath...)
			buf = append(buf, `\Downloads\setup.exe`...)
		case ep.kind == epMobile && (info.cat == catPUA || info.cat == catMalware):
			buf = append(buf, "/data/app/"...)
			buf = append(buf, mobileApps[fileIdx%len(mobileApps)]...)
			buf = append(buf, "/base.apk"...)
		case info.cat == catPUARemote || info.cat == catMalRemote:
			f := td.files[fileIdx]
			base := f[strings.LastIndexByte(f, '\\')+1:]
			srv := pick(&r, fileServers)
			buf = append(buf, `\\`...)
			buf = append(buf, srv...)
			buf = append(buf, '\\')
			buf = appendTpl(buf, pick(&r, shares), userForPath, srv)
			buf = append(buf, '\\')
			buf = append(buf, base...)
		default:
			buf = appendTpl(buf, td.files[fileIdx], userForPath, pick(&r, fileServers))
		}
		mark(&sPath, st)
	}

	// Name.
	tpl := info.tpl
	if len(info.alt) > 0 && r.chance(0.2) {
		tpl = pick(&r, info.alt)
	}
	st = len(buf)
	for {
		i := strings.IndexByte(tpl, '{')
		if i < 0 || i+2 >= len(tpl) {
			buf = append(buf, tpl...)
			break
		}
		buf = append(buf, tpl[:i]...)
		var sp span
		switch tpl[i+1] {
		case 't':
			buf = append(buf, threat...)
		case 'p':
			sp = sPath
		case 'h':
			sp = sLoc
		case 'x':
			sp = sX
		case 'y':
			sp = sY
		}
		buf = append(buf, buf[sp.a:sp.b]...)
		tpl = tpl[i+3:]
	}
	mark(&sName, st)

	// Origin, appSha256, appCerts.
	origin := ""
	switch info.origin {
	case orCore:
		switch v := r.n(100); {
		case v < 55:
			origin = "ML"
		case v < 80:
			origin = "SAV"
		case v < 85:
			origin = "BLOCKLISTED"
		}
	case orLegacy:
		if r.chance(0.6) {
			origin = "SAV"
		}
	}
	hasSha := td != nil && r.chance(info.pSha)
	if hasSha {
		st = len(buf)
		// The same file of the same threat has the same hash everywhere.
		fh := fmix64(g.key^hashString(threat)) + uint64(fileIdx)*golden
		if mask&hPath != 0 {
			fh = mix64(fh ^ 0xbadbadbad)
		}
		for k := range 4 {
			buf = appendHex(buf, mix64(fh+uint64(k)*golden), 16)
		}
		mark(&sSha, st)
		switch v := r.n(10); {
		case v < 5:
			ev.AppCerts = []AppCert{}
		case v < 8 && signer >= 0:
			ev.AppCerts = []AppCert{{Signer: signers[signer].name, Thumbprint: signers[signer].thumbprint}}
		case v < 8:
			ev.AppCerts = []AppCert{}
		}
	}

	// Freeze the buffer into one string and slice the fields out of it.
	s := string(buf)
	sub := func(sp span) string { return s[sp.a:sp.b] }
	ev.ID = sub(sID)
	ev.EndpointID = sub(sEP)
	ev.Location = sub(sLoc)
	ev.Source = sub(sSrc)
	ev.SourceIP = sub(sIP)
	ev.Name = sub(sName)
	if sUID.b > sUID.a {
		p := getPtrs()
		p[0] = sub(sUID)
		ev.UserID = &p[0]
	}
	if info.threat && threat != "" {
		p := getPtrs()
		p[1] = threat
		ev.Threat = &p[1]
	}
	if origin != "" {
		p := getPtrs()
		p[2] = origin
		ev.Origin = &p[2]
	}
	if hasSha {
		p := getPtrs()
		p[3] = sub(sSha)
		ev.AppSha256 = &p[3]
	}
	path := sub(sPath)
	if info.remedy != "" {
		items := make([]RemedyItem, 1, 2)
		items[0] = RemedyItem{Type: "file", Result: info.remedy, SuspendResult: "NOT_APPLICABLE", Descriptor: path}
		if info.remedy == "SUCCESS" && mask&hPath == 0 && r.chance(0.2) {
			// A second artefact next to the first one.
			if i := strings.LastIndexByte(path, '\\'); i > 0 {
				items = append(items, RemedyItem{Type: "file", Result: "SUCCESS", SuspendResult: "NOT_APPLICABLE",
					Descriptor: path[:i+1] + "uninstall.exe"})
			}
		}
		ev.CoreRemedyItems = items
	}
	if info.detail != "" {
		d := make([]Detail, 1, 2)
		d[0] = Detail{Type: info.detail, Property: path}
		if info.cat == catHome && r.chance(0.5) {
			d = append(d, Detail{Type: "HOME_REMNANT_FAMILY", Property: threat})
		}
		ev.Details = d
	}
	return ev
}

// hashString is FNV-1a over s.
func hashString(s string) uint64 {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 0x100000001b3
	}
	return h
}

// appendSpan appends s to b and returns the span it occupies.
func appendSpan(b []byte, s string) ([]byte, span) {
	a := len(b)
	b = append(b, s...)
	return b, span{a, len(b)}
}
