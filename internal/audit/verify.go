package audit

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Report summarises a verified log.
type Report struct {
	Records     uint64 // number of records
	HeadSeq     uint64
	HeadHash    string
	Checkpoints int // checkpoints found
	Signed      int // checkpoints whose signature verified
}

// TamperError names the first bad record or checkpoint. It unwraps to
// ErrTampered or ErrTorn.
type TamperError struct {
	File   string // LogFile or CheckpointFile
	Line   int    // 1-based line number in File
	Seq    uint64 // seq of the record concerned (0 if unknown)
	Reason string
	Kind   error // ErrTampered or ErrTorn
}

func (e *TamperError) Error() string {
	what := fmt.Sprintf("record seq %d (%s line %d)", e.Seq, e.File, e.Line)
	if e.File == CheckpointFile {
		what = fmt.Sprintf("checkpoint for seq %d (%s line %d)", e.Seq, e.File, e.Line)
	}
	if e.Seq == 0 {
		what = fmt.Sprintf("%s line %d", e.File, e.Line)
	}
	return fmt.Sprintf("%v: first bad entry is %s: %s", e.Kind, what, e.Reason)
}

func (e *TamperError) Unwrap() error { return e.Kind }

// Verify checks the chain under dir/audit: sequence numbers, the link of each
// record to the previous one, each record's hash, and each checkpoint. The
// signatures of checkpoints are checked with the public keys recorded in
// dir/audit/checkpoint-keys.pem. Those keys live beside the log, so a
// verifier that must not trust the directory should use VerifyWithKey with
// the node's certificate. The error wraps ErrTampered (or ErrTorn) and names
// the first bad record.
func Verify(dir string) (Report, error) {
	keys, err := loadKeys(filepath.Join(dir, SubDir, KeysFile))
	if err != nil {
		return Report{}, err
	}
	return verify(dir, keys, false)
}

// VerifyWithKey is Verify with the given public keys (for example from the
// node's certificate) instead of the recorded ones. Every checkpoint must
// then carry a valid signature by one of them.
func VerifyWithKey(dir string, keys ...crypto.PublicKey) (Report, error) {
	m := map[string]crypto.PublicKey{}
	for _, k := range keys {
		id, err := KeyID(k)
		if err != nil {
			return Report{}, err
		}
		m[id] = k
	}
	return verify(dir, m, true)
}

func verify(dir string, keys map[string]crypto.PublicKey, strict bool) (Report, error) {
	ad := filepath.Join(dir, SubDir)
	rep, hashes, err := verifyChain(ad)
	if err != nil {
		return rep, err
	}
	cf, err := os.Open(filepath.Join(ad, CheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("audit: %w", err)
	}
	defer cf.Close()
	err = verifyCheckpoints(cf, &rep, hashes, keys, strict)
	return rep, err
}

// verifyChain checks every record of the log in ad: its sequence, its
// link to the previous record and its hash. It returns the report so far
// and the hash of every record (hashes[seq-1]).
func verifyChain(ad string) (Report, [][32]byte, error) {
	f, err := os.Open(filepath.Join(ad, LogFile))
	if err != nil {
		return Report{}, nil, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	var rep Report
	var hashes [][32]byte // hashes[seq-1]
	prev := GenesisPrev
	var want uint64 = 1
	bad := func(line int, seq uint64, kind error, format string, a ...any) error {
		return &TamperError{File: LogFile, Line: line, Seq: seq, Kind: kind, Reason: fmt.Sprintf(format, a...)}
	}
	err = readLines(f, func(n int, line []byte, complete bool) error {
		if !complete {
			if len(bytes.Trim(line, "\x00")) == 0 {
				return bad(n, want, ErrTorn, "%d stray zero bytes after the last record", len(line))
			}
			return bad(n, want, ErrTorn, "incomplete last line (%d bytes): a crash not yet recovered, or a truncation", len(line))
		}
		r, err := parseRecord(line)
		if err != nil {
			return bad(n, want, ErrTampered, "%v", err)
		}
		if r.Seq != want {
			return bad(n, r.Seq, ErrTampered, "seq %d where seq %d was expected (record deleted, inserted or reordered)", r.Seq, want)
		}
		if r.Prev != prev {
			return bad(n, r.Seq, ErrTampered, "prev hash %.16s… does not match the previous record's hash %.16s…", r.Prev, prev)
		}
		if h := r.ComputeHash(); h != r.Hash {
			return bad(n, r.Seq, ErrTampered, "content does not match its hash (record edited)")
		}
		var hb [32]byte
		if _, err := hex.Decode(hb[:], []byte(r.Hash)); err != nil {
			return bad(n, r.Seq, ErrTampered, "malformed hash")
		}
		hashes = append(hashes, hb)
		prev = r.Hash
		rep.Records++
		rep.HeadSeq = r.Seq
		rep.HeadHash = r.Hash
		want++
		return nil
	})
	if err != nil {
		var te *TamperError
		if errors.As(err, &te) {
			return rep, hashes, err
		}
		return rep, hashes, fmt.Errorf("audit: reading %s: %w", LogFile, err)
	}
	return rep, hashes, nil
}

// verifyCheckpoints checks every checkpoint in cf against the record
// hashes and, when signed, against the known keys (strict: every one must
// be signed).
func verifyCheckpoints(cf *os.File, rep *Report, hashes [][32]byte, keys map[string]crypto.PublicKey, strict bool) error {
	cbad := func(line int, seq uint64, format string, a ...any) error {
		return &TamperError{File: CheckpointFile, Line: line, Seq: seq, Kind: ErrTampered, Reason: fmt.Sprintf(format, a...)}
	}
	err := readLines(cf, func(n int, line []byte, complete bool) error {
		if !complete {
			return &TamperError{File: CheckpointFile, Line: n, Kind: ErrTorn, Reason: "incomplete last checkpoint line"}
		}
		var c Checkpoint
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return cbad(n, 0, "bad JSON: %v", err)
		}
		rep.Checkpoints++
		if c.Seq == 0 || c.Seq > rep.HeadSeq {
			return cbad(n, c.Seq, "checkpoint for seq %d but the log ends at seq %d (records removed from the end)", c.Seq, rep.HeadSeq)
		}
		if hex.EncodeToString(hashes[c.Seq-1][:]) != c.Hash {
			return cbad(n, c.Seq, "checkpointed hash differs from record seq %d", c.Seq)
		}
		switch {
		case len(c.Sig) == 0 && strict:
			return cbad(n, c.Seq, "checkpoint is not signed")
		case len(c.Sig) == 0:
		default:
			k, ok := keys[c.KeyID]
			if !ok {
				return cbad(n, c.Seq, "signed by key %.16s… which is not among the known checkpoint keys", c.KeyID)
			}
			if !verifySig(k, c.SignedDigest(), c.Sig) {
				return cbad(n, c.Seq, "bad signature")
			}
			rep.Signed++
		}
		return nil
	})
	if err != nil {
		var te *TamperError
		if errors.As(err, &te) {
			return err
		}
		return fmt.Errorf("audit: reading %s: %w", CheckpointFile, err)
	}
	return nil
}

func verifySig(k crypto.PublicKey, digest, sig []byte) bool {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil
	case ed25519.PublicKey:
		return false // Ed25519 cannot sign a pre-hashed digest this way
	}
	return false
}

// KeyID is the hex SHA-256 of a public key's PKIX encoding.
func KeyID(k crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return "", fmt.Errorf("audit: encoding public key: %w", err)
	}
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:]), nil
}

// recordKey adds the signer's public key to the keys file if missing, so
// that Verify can check checkpoints across key rotations.
func recordKey(dir string, k crypto.PublicKey) (string, error) {
	switch k.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
	default:
		return "", fmt.Errorf("audit: checkpoint signer must be ECDSA or RSA, got %T", k)
	}
	id, err := KeyID(k)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, KeysFile)
	keys, err := loadKeys(path)
	if err != nil {
		return "", err
	}
	if _, ok := keys[id]; ok {
		return id, nil
	}
	der, _ := x509.MarshalPKIXPublicKey(k)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "PUBLIC KEY", Bytes: der}); err != nil {
		return "", fmt.Errorf("audit: writing key: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	return id, nil
}

// loadKeys reads PEM public keys or certificates; a missing file is empty.
func loadKeys(path string) (map[string]crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]crypto.PublicKey{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	keys, err := ParsePublicKeys(b)
	if err != nil {
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	m := map[string]crypto.PublicKey{}
	for _, k := range keys {
		id, err := KeyID(k)
		if err != nil {
			return nil, err
		}
		m[id] = k
	}
	return m, nil
}

// ParsePublicKeys reads every PUBLIC KEY and CERTIFICATE block of a PEM file.
func ParsePublicKeys(b []byte) ([]crypto.PublicKey, error) {
	var out []crypto.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing public key: %w", err)
			}
			out = append(out, k)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing certificate: %w", err)
			}
			out = append(out, c.PublicKey)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no PUBLIC KEY or CERTIFICATE block")
	}
	return out, nil
}
