package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid STIX object")

// SpecVersion is the only STIX version Kizuna stores.
const SpecVersion = "2.1"

// Object is a validated STIX object: its common properties, read once,
// and the object itself as raw JSON.
type Object struct {
	Type        string
	ID          string
	SpecVersion string
	// Created and Modified are empty for cyber-observable objects, which
	// have neither.
	Created  string
	Modified string
	// MarkingRefs are the object_marking_refs.
	MarkingRefs []string
	// Refs are the ids the object references (every *_ref and *_refs
	// property), for linking objects to the picture.
	Refs []string
	// Raw is the object as received.
	Raw json.RawMessage
}

// Version is the object's version: modified, else created, else "".
func (o *Object) Version() string {
	if o.Modified != "" {
		return o.Modified
	}
	return o.Created
}

var typeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,248}[a-z0-9]$`)

// validType reports whether t is 3-250 characters of a-z, 0-9 and '-',
// neither starting nor ending with '-', without "--".
func validType(t string) bool {
	if len(t) < 3 || len(t) > 250 || t[0] == '-' || t[len(t)-1] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if t[i-1] == '-' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// validUUID checks the RFC 4122 textual form in lower case, versions 1-8,
// the RFC 4122 variant.
func validUUID(u string) bool {
	if len(u) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if u[i] != '-' {
				return false
			}
		default:
			if !isHex(u[i]) {
				return false
			}
		}
	}
	return u[14] >= '1' && u[14] <= '8' && (u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b')
}

// validProp reports whether k is 3-250 characters of a-z, 0-9 and '_'.
func validProp(k string) bool {
	if len(k) < 3 || len(k) > 250 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validTimestampForm checks YYYY-MM-DDTHH:MM:SS[.s+]Z.
func validTimestampForm(s string) bool {
	if len(s) < 20 || s[len(s)-1] != 'Z' {
		return false
	}
	const form = "dddd-dd-ddTdd:dd:dd"
	for i := 0; i < len(form); i++ {
		if form[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != form[i] {
			return false
		}
	}
	rest := s[19 : len(s)-1]
	if rest == "" {
		return true
	}
	if rest[0] != '.' || len(rest) < 2 {
		return false
	}
	for i := 1; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// ValidID reports whether id is TYPE--UUID with an RFC 4122 UUID.
func ValidID(id string) bool {
	t, u, ok := strings.Cut(id, "--")
	return ok && validType(t) && validUUID(u)
}

// IDType returns the type part of an identifier.
func IDType(id string) string {
	t, _, _ := strings.Cut(id, "--")
	return t
}

// ParseTimestamp parses a STIX timestamp: RFC 3339 in UTC with a "Z", the
// seconds always present and any number of fractional digits.
func ParseTimestamp(s string) (time.Time, error) {
	if !validTimestampForm(s) {
		return time.Time{}, fmt.Errorf("timestamp %q is not YYYY-MM-DDTHH:MM:SS[.s+]Z", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %v", s, err)
	}
	return t, nil
}

// FormatTimestamp renders t as a STIX timestamp with millisecond precision.
func FormatTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// NormVersion renders a timestamp so that string order is time order:
// nanoseconds always present. An invalid timestamp yields "".
func NormVersion(s string) string {
	if s == "" {
		return ""
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// Kinds of object.
const (
	kindSDO = iota + 1
	kindSRO
	kindSCO
	kindMeta
)

// typeRule says what one type must have.
type typeRule struct {
	kind     int
	required []string
	// refs maps a reference property to the types it may point at (nil:
	// any type).
	refs map[string][]string
	// check runs type-specific checks.
	check func(m map[string]json.RawMessage) error
}

var sdoTypes = []string{"attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident",
	"indicator", "infrastructure", "intrusion-set", "location", "malware", "malware-analysis", "note",
	"observed-data", "opinion", "report", "threat-actor", "tool", "vulnerability"}

var rules = map[string]typeRule{
	"attack-pattern":   {kind: kindSDO, required: []string{"name"}},
	"campaign":         {kind: kindSDO, required: []string{"name"}},
	"course-of-action": {kind: kindSDO, required: []string{"name"}},
	"grouping":         {kind: kindSDO, required: []string{"context", "object_refs"}},
	"identity":         {kind: kindSDO, required: []string{"name"}},
	"incident":         {kind: kindSDO, required: []string{"name"}},
	"indicator":        {kind: kindSDO, required: []string{"pattern", "pattern_type", "valid_from"}, check: checkIndicator},
	"infrastructure":   {kind: kindSDO, required: []string{"name"}},
	"intrusion-set":    {kind: kindSDO, required: []string{"name"}},
	"location":         {kind: kindSDO, check: checkLocation},
	"malware":          {kind: kindSDO, required: []string{"is_family"}, check: checkMalware},
	"malware-analysis": {kind: kindSDO, required: []string{"product"}},
	"note":             {kind: kindSDO, required: []string{"content", "object_refs"}},
	"observed-data":    {kind: kindSDO, required: []string{"first_observed", "last_observed", "number_observed"}, check: checkObservedData},
	"opinion":          {kind: kindSDO, required: []string{"opinion", "object_refs"}, check: checkOpinion},
	"report":           {kind: kindSDO, required: []string{"name", "published", "object_refs"}},
	"threat-actor":     {kind: kindSDO, required: []string{"name"}},
	"tool":             {kind: kindSDO, required: []string{"name"}},
	"vulnerability":    {kind: kindSDO, required: []string{"name"}},
	"relationship":     {kind: kindSRO, required: []string{"relationship_type", "source_ref", "target_ref"}, check: checkRelationship},
	"sighting": {kind: kindSRO, required: []string{"sighting_of_ref"}, check: checkSighting,
		refs: map[string][]string{"observed_data_refs": {"observed-data"}, "where_sighted_refs": {"identity", "location"}}},
	"marking-definition":   {kind: kindMeta, check: checkMarkingDefinition},
	"language-content":     {kind: kindMeta, required: []string{"object_ref", "contents"}},
	"extension-definition": {kind: kindMeta, required: []string{"name", "schema", "version", "extension_types", "created_by_ref"}},
	// Cyber-observable objects.
	"artifact":             {kind: kindSCO},
	"autonomous-system":    {kind: kindSCO, required: []string{"number"}},
	"directory":            {kind: kindSCO, required: []string{"path"}},
	"domain-name":          {kind: kindSCO, required: []string{"value"}},
	"email-addr":           {kind: kindSCO, required: []string{"value"}},
	"email-message":        {kind: kindSCO, required: []string{"is_multipart"}},
	"file":                 {kind: kindSCO, check: checkFile},
	"ipv4-addr":            {kind: kindSCO, required: []string{"value"}},
	"ipv6-addr":            {kind: kindSCO, required: []string{"value"}},
	"mac-addr":             {kind: kindSCO, required: []string{"value"}},
	"mutex":                {kind: kindSCO, required: []string{"name"}},
	"network-traffic":      {kind: kindSCO, required: []string{"protocols"}},
	"process":              {kind: kindSCO},
	"software":             {kind: kindSCO, required: []string{"name"}},
	"url":                  {kind: kindSCO, required: []string{"value"}},
	"user-account":         {kind: kindSCO},
	"windows-registry-key": {kind: kindSCO},
	"x509-certificate":     {kind: kindSCO},
}

// scoTypes are the cyber-observable object types.
var scoTypes = map[string]bool{"artifact": true, "autonomous-system": true, "directory": true, "domain-name": true,
	"email-addr": true, "email-message": true, "file": true, "ipv4-addr": true, "ipv6-addr": true, "mac-addr": true,
	"mutex": true, "network-traffic": true, "process": true, "software": true, "url": true, "user-account": true,
	"windows-registry-key": true, "x509-certificate": true}

// commonRefs are reference properties every object may carry, with the
// types they may point at.
var commonRefs = map[string][]string{
	"created_by_ref":      {"identity"},
	"object_marking_refs": {"marking-definition"},
	"sighting_of_ref":     sdoTypes,
	"observed_data_refs":  {"observed-data"},
	"where_sighted_refs":  {"identity", "location"},
	"sample_refs":         {"artifact", "file"},
}

// Validate decodes and validates one STIX 2.1 object. The error names the
// property at fault.
//
// Long on purpose: the common properties, then one case per STIX object type
// naming the properties it requires.
func Validate(raw []byte) (*Object, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrInvalid, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	o := &Object{Raw: append(json.RawMessage(nil), bytes.TrimSpace(raw)...)}
	var err error
	if o.Type, err = str(m, "type"); err != nil {
		return nil, err
	}
	if !validType(o.Type) {
		return nil, fmt.Errorf("%w: type %q: want 3-250 characters of a-z, 0-9 and '-'", ErrInvalid, o.Type)
	}
	rule, known := rules[o.Type]
	if !known {
		if !strings.HasPrefix(o.Type, "x-") {
			return nil, fmt.Errorf("%w: type %q is not a STIX 2.1 type (custom types start with \"x-\")", ErrInvalid, o.Type)
		}
		rule = typeRule{kind: kindSDO}
	}
	if o.ID, err = str(m, "id"); err != nil {
		return nil, err
	}
	if !ValidID(o.ID) {
		return nil, fmt.Errorf("%w: id %q: want %s--<RFC 4122 UUID>", ErrInvalid, o.ID, o.Type)
	}
	if IDType(o.ID) != o.Type {
		return nil, fmt.Errorf("%w: id %q does not start with its type %q", ErrInvalid, o.ID, o.Type)
	}
	if _, ok := m["spec_version"]; ok || rule.kind != kindSCO {
		if o.SpecVersion, err = str(m, "spec_version"); err != nil {
			return nil, err
		}
		if o.SpecVersion != SpecVersion {
			return nil, fmt.Errorf("%w: spec_version %q: only \"2.1\" is accepted", ErrInvalid, o.SpecVersion)
		}
	} else {
		o.SpecVersion = SpecVersion
	}
	if rule.kind != kindSCO {
		if o.Created, err = timestamp(m, "created", true); err != nil {
			return nil, err
		}
		if o.Modified, err = timestamp(m, "modified", rule.kind != kindMeta || o.Type == "language-content"); err != nil {
			return nil, err
		}
		if o.Modified != "" && NormVersion(o.Modified) < NormVersion(o.Created) {
			return nil, fmt.Errorf("%w: modified %s is before created %s", ErrInvalid, o.Modified, o.Created)
		}
	}
	for _, p := range rule.required {
		v, ok := m[p]
		if !ok || isNull(v) {
			return nil, fmt.Errorf("%w: %s %s: required property %q is missing", ErrInvalid, o.Type, o.ID, p)
		}
		if isEmptyList(v) {
			return nil, fmt.Errorf("%w: %s %s: property %q must not be an empty list", ErrInvalid, o.Type, o.ID, p)
		}
	}
	for k, v := range m {
		if !validProp(k) && k != "id" {
			return nil, fmt.Errorf("%w: property name %q: want 3-250 characters of a-z, 0-9 and '_'", ErrInvalid, k)
		}
		if isNull(v) {
			return nil, fmt.Errorf("%w: property %q is null; omit it instead", ErrInvalid, k)
		}
		if !strings.HasSuffix(k, "_ref") && !strings.HasSuffix(k, "_refs") {
			continue
		}
		allowed := rule.refs[k]
		if allowed == nil {
			allowed = commonRefs[k]
		}
		refs, err := refList(k, v)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			if !ValidID(r) {
				return nil, fmt.Errorf("%w: %s: %q is not a STIX identifier", ErrInvalid, k, r)
			}
			if allowed != nil && !contains(allowed, IDType(r)) {
				return nil, fmt.Errorf("%w: %s: %q must point at %s", ErrInvalid, k, r, strings.Join(allowed, " or "))
			}
			if k == "object_marking_refs" {
				o.MarkingRefs = append(o.MarkingRefs, r)
			} else {
				o.Refs = append(o.Refs, r)
			}
		}
	}
	if err := checkCommonLists(m); err != nil {
		return nil, err
	}
	if rule.check != nil {
		if err := rule.check(m); err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrInvalid, o.Type, o.ID, err)
		}
	}
	return o, nil
}

func checkCommonLists(m map[string]json.RawMessage) error {
	if v, ok := m["labels"]; ok {
		var s []string
		if json.Unmarshal(v, &s) != nil || len(s) == 0 {
			return fmt.Errorf("%w: labels must be a non-empty list of strings", ErrInvalid)
		}
	}
	if v, ok := m["revoked"]; ok {
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return fmt.Errorf("%w: revoked must be a boolean", ErrInvalid)
		}
	}
	if v, ok := m["confidence"]; ok {
		var n int
		if json.Unmarshal(v, &n) != nil || n < 0 || n > 100 {
			return fmt.Errorf("%w: confidence must be an integer from 0 to 100", ErrInvalid)
		}
	}
	if v, ok := m["granular_markings"]; ok {
		var gm []struct {
			MarkingRef string   `json:"marking_ref"`
			Lang       string   `json:"lang"`
			Selectors  []string `json:"selectors"`
		}
		if json.Unmarshal(v, &gm) != nil || len(gm) == 0 {
			return fmt.Errorf("%w: granular_markings must be a non-empty list of granular markings", ErrInvalid)
		}
		for _, g := range gm {
			if (g.MarkingRef == "") == (g.Lang == "") || len(g.Selectors) == 0 {
				return fmt.Errorf("%w: a granular marking needs exactly one of marking_ref and lang, and selectors", ErrInvalid)
			}
			if g.MarkingRef != "" && (!ValidID(g.MarkingRef) || IDType(g.MarkingRef) != "marking-definition") {
				return fmt.Errorf("%w: granular marking_ref %q must point at a marking-definition", ErrInvalid, g.MarkingRef)
			}
		}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }
func isEmptyList(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) >= 2 && t[0] == '[' && len(bytes.TrimSpace(t[1:len(t)-1])) == 0
}

func str(m map[string]json.RawMessage, k string) (string, error) {
	v, ok := m[k]
	if !ok {
		return "", fmt.Errorf("%w: required property %q is missing", ErrInvalid, k)
	}
	if s, ok := plainString(v); ok {
		return s, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%w: property %q must be a string", ErrInvalid, k)
	}
	return s, nil
}

// plainString decodes a JSON string without escapes or control
// characters (ASCII only) without the cost of encoding/json; anything else
// is left to it.
func plainString(v json.RawMessage) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	for _, c := range v[1 : len(v)-1] {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return "", false
		}
	}
	return string(v[1 : len(v)-1]), true
}

func timestamp(m map[string]json.RawMessage, k string, required bool) (string, error) {
	if _, ok := m[k]; !ok {
		if required {
			return "", fmt.Errorf("%w: required property %q is missing", ErrInvalid, k)
		}
		return "", nil
	}
	s, err := str(m, k)
	if err != nil {
		return "", err
	}
	if _, err := ParseTimestamp(s); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrInvalid, k, err)
	}
	return s, nil
}

func refList(k string, v json.RawMessage) ([]string, error) {
	if strings.HasSuffix(k, "_ref") {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%w: %s must be an identifier string", ErrInvalid, k)
		}
		return []string{s}, nil
	}
	var l []string
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fmt.Errorf("%w: %s must be a list of identifiers", ErrInvalid, k)
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("%w: %s must not be an empty list", ErrInvalid, k)
	}
	return l, nil
}

func tsOf(m map[string]json.RawMessage, k string) (time.Time, bool, error) {
	if _, ok := m[k]; !ok {
		return time.Time{}, false, nil
	}
	s, err := str(m, k)
	if err != nil {
		return time.Time{}, false, err
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%s: %v", k, err)
	}
	return t, true, nil
}

func checkIndicator(m map[string]json.RawMessage) error {
	pt, err := str(m, "pattern_type")
	if err != nil {
		return err
	}
	pat, err := str(m, "pattern")
	if err != nil {
		return err
	}
	if pt == "stix" {
		if _, err := ParsePattern(pat); err != nil {
			return fmt.Errorf("pattern: %w", err)
		}
	}
	from, _, err := tsOf(m, "valid_from")
	if err != nil {
		return err
	}
	until, ok, err := tsOf(m, "valid_until")
	if err != nil {
		return err
	}
	if ok && !until.After(from) {
		return errors.New("valid_until must be later than valid_from")
	}
	return nil
}

func checkLocation(m map[string]json.RawMessage) error {
	_, region := m["region"]
	_, country := m["country"]
	_, lat := m["latitude"]
	_, lon := m["longitude"]
	if !region && !country && !(lat && lon) {
		return errors.New("one of region, country, or latitude and longitude is required")
	}
	if lat != lon {
		return errors.New("latitude and longitude go together")
	}
	if lat {
		var la, lo float64
		if json.Unmarshal(m["latitude"], &la) != nil || la < -90 || la > 90 {
			return errors.New("latitude must be a number from -90 to 90")
		}
		if json.Unmarshal(m["longitude"], &lo) != nil || lo < -180 || lo > 180 {
			return errors.New("longitude must be a number from -180 to 180")
		}
	}
	return nil
}

func checkMalware(m map[string]json.RawMessage) error {
	var fam bool
	if json.Unmarshal(m["is_family"], &fam) != nil {
		return errors.New("is_family must be a boolean")
	}
	if _, ok := m["name"]; fam && !ok {
		return errors.New("a malware family needs a name")
	}
	return nil
}

func checkObservedData(m map[string]json.RawMessage) error {
	first, _, err := tsOf(m, "first_observed")
	if err != nil {
		return err
	}
	last, _, err := tsOf(m, "last_observed")
	if err != nil {
		return err
	}
	if last.Before(first) {
		return errors.New("last_observed is before first_observed")
	}
	var n int64
	if json.Unmarshal(m["number_observed"], &n) != nil || n < 1 || n > 999999999 {
		return errors.New("number_observed must be an integer from 1 to 999,999,999")
	}
	_, objs := m["objects"]
	_, refs := m["object_refs"]
	if objs == refs {
		return errors.New("exactly one of object_refs and objects is required")
	}
	if refs {
		var l []string
		json.Unmarshal(m["object_refs"], &l)
		for _, r := range l {
			if !scoTypes[IDType(r)] && IDType(r) != "relationship" {
				return fmt.Errorf("object_refs: %q must point at a cyber-observable object", r)
			}
		}
	}
	return nil
}

func checkOpinion(m map[string]json.RawMessage) error {
	s, err := str(m, "opinion")
	if err != nil {
		return err
	}
	switch s {
	case "strongly-disagree", "disagree", "neutral", "agree", "strongly-agree":
		return nil
	}
	return fmt.Errorf("opinion %q is not in the opinion-enum", s)
}

func checkRelationship(m map[string]json.RawMessage) error {
	rt, err := str(m, "relationship_type")
	if err != nil {
		return err
	}
	if !typeRe.MatchString(rt) {
		return fmt.Errorf("relationship_type %q: want a-z, 0-9 and '-'", rt)
	}
	for _, k := range []string{"source_ref", "target_ref"} {
		s, _ := str(m, k)
		t := IDType(s)
		if t == "relationship" || t == "sighting" || t == "marking-definition" || t == "language-content" || t == "extension-definition" {
			return fmt.Errorf("%s %q must point at an SDO or SCO, not a %s", k, s, t)
		}
	}
	return nil
}

func checkSighting(m map[string]json.RawMessage) error {
	s, _ := str(m, "sighting_of_ref")
	if t := IDType(s); !contains(sdoTypes, t) && !strings.HasPrefix(t, "x-") {
		return fmt.Errorf("sighting_of_ref %q must point at an SDO", s)
	}
	if v, ok := m["count"]; ok {
		var n int64
		if json.Unmarshal(v, &n) != nil || n < 0 || n > 999999999 {
			return errors.New("count must be an integer from 0 to 999,999,999")
		}
	}
	first, okF, err := tsOf(m, "first_seen")
	if err != nil {
		return err
	}
	last, okL, err := tsOf(m, "last_seen")
	if err != nil {
		return err
	}
	if okF && okL && last.Before(first) {
		return errors.New("last_seen is before first_seen")
	}
	return nil
}

func checkFile(m map[string]json.RawMessage) error {
	_, h := m["hashes"]
	_, n := m["name"]
	if !h && !n {
		return errors.New("a file needs hashes or name")
	}
	return nil
}

func checkMarkingDefinition(m map[string]json.RawMessage) error {
	_, dt := m["definition_type"]
	_, def := m["definition"]
	_, ext := m["extensions"]
	if dt != def {
		return errors.New("definition_type and definition go together")
	}
	if !dt && !ext {
		return errors.New("a marking definition needs definition_type and definition, or extensions")
	}
	if dt {
		t, err := str(m, "definition_type")
		if err != nil {
			return err
		}
		switch t {
		case "statement", "tlp":
		default:
			if !strings.HasPrefix(t, "x-") {
				return fmt.Errorf("definition_type %q is neither statement nor tlp", t)
			}
		}
	}
	if ext {
		return checkKizunaMarking(m["extensions"])
	}
	return nil
}
