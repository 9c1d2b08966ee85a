package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sealer(t *testing.T, b byte) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{b}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSealOpen round-trips and proves each check rejects.
func TestSealOpen(t *testing.T) {
	s := sealer(t, 1)
	sealed := s.Seal([]byte("client-secret"), "conn_1/oidc")
	if strings.Contains(sealed, "client-secret") {
		t.Fatal("sealed value contains the plaintext")
	}
	if s.Seal([]byte("client-secret"), "conn_1/oidc") == sealed {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	got, err := s.Open(sealed, "conn_1/oidc")
	if err != nil || string(got) != "client-secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-2] ^= 1
	cases := []struct {
		name   string
		s      *Sealer
		sealed string
		label  string
	}{
		{"wrong label", s, sealed, "conn_2/oidc"},
		{"wrong key", sealer(t, 2), sealed, "conn_1/oidc"},
		{"tampered", s, string(tampered), "conn_1/oidc"},
		{"not sealed", s, "plaintext", "conn_1/oidc"},
		{"truncated", s, "v1:AAAA", "conn_1/oidc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.Open(tc.sealed, tc.label); err == nil {
				t.Error("opened")
			}
		})
	}
}

// TestParseKey accepts hex and base64 of exactly 32 bytes.
func TestParseKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	for _, tc := range []struct{ name, in string }{
		{"hex", hex.EncodeToString(key)},
		{"base64", base64.StdEncoding.EncodeToString(key)},
		{"base64url raw", base64.RawURLEncoding.EncodeToString(key)},
		{"hex with newline", hex.EncodeToString(key) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKey(tc.in)
			if err != nil || !bytes.Equal(got, key) {
				t.Errorf("ParseKey = %x, %v", got, err)
			}
		})
	}
	for _, bad := range []string{"", "short", hex.EncodeToString(key[:16])} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

// TestKeyFile makes the dev key once, private, and reads it back.
func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKeyFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKeyFile(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load = %x, %v", k2, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "secret.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, %v", fi.Mode(), err)
	}
}

func TestMACDependsOnKeyLabelAndMessage(t *testing.T) {
	k1, k2 := make([]byte, KeySize), make([]byte, KeySize)
	k2[0] = 1
	s1, _ := NewSealer(k1)
	s2, _ := NewSealer(k2)
	base := s1.MAC("download", []byte("x"))
	for _, tc := range []struct {
		name string
		mac  []byte
	}{
		{"other key", s2.MAC("download", []byte("x"))},
		{"other label", s1.MAC("upload", []byte("x"))},
		{"other message", s1.MAC("download", []byte("y"))},
		{"label and message run together", s1.MAC("downloadx", nil)},
	} {
		if string(tc.mac) == string(base) {
			t.Errorf("%s: same MAC", tc.name)
		}
	}
	if string(s1.MAC("download", []byte("x"))) != string(base) {
		t.Error("MAC is not deterministic")
	}
}

func TestToken(t *testing.T) {
	a, b := Token(32), Token(32)
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 || a == b {
		t.Fatalf("Token(32) = %q, %q (%v)", a, b, err)
	}
}

// TestRotation: values sealed with an old key open while both keys are
// configured, Reseal moves them to the new key, and after the old key is
// dropped only resealed values open.
func TestRotation(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	oldOnly, _ := NewSealer(a)
	both, err := NewSealer(b, a)
	if err != nil {
		t.Fatal(err)
	}
	newOnly, _ := NewSealer(b)
	sealed := oldOnly.Seal([]byte("s3cret"), "conn_1/x")
	if !strings.HasPrefix(sealed, "v2:"+KeyID(a)+":") {
		t.Fatalf("sealed value does not name its key: %s", sealed)
	}
	if pt, err := both.Open(sealed, "conn_1/x"); err != nil || string(pt) != "s3cret" {
		t.Fatalf("both keys: %q, %v", pt, err)
	}
	if both.Current(sealed) {
		t.Error("a value sealed with the old key counts as current")
	}
	_, err = newOnly.Open(sealed, "conn_1/x")
	if err == nil || !strings.Contains(err.Error(), KeyID(a)) {
		t.Errorf("without the old key: %v, want an error naming key %s", err, KeyID(a))
	}
	resealed, err := both.Reseal(sealed, "conn_1/x")
	if err != nil || !both.Current(resealed) {
		t.Fatalf("reseal: %s, %v", resealed, err)
	}
	if again, _ := both.Reseal(resealed, "conn_1/x"); again != resealed {
		t.Error("resealing a current value changed it")
	}
	if pt, err := newOnly.Open(resealed, "conn_1/x"); err != nil || string(pt) != "s3cret" {
		t.Errorf("new key alone: %q, %v", pt, err)
	}
	if _, err := both.Reseal(sealed, "conn_2/x"); err == nil {
		t.Error("resealed under the wrong label")
	}
	// A value from before key IDs (v1) opens by trying every key.
	k := oldOnly.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	v1 := "v1:" + base64.RawStdEncoding.EncodeToString(k.aead.Seal(nonce, nonce, []byte("legacy"), []byte("l")))
	if pt, err := both.Open(v1, "l"); err != nil || string(pt) != "legacy" {
		t.Errorf("v1 value: %q, %v", pt, err)
	}
	if _, err := NewSealer(a, a); err == nil {
		t.Error("the same key twice was accepted")
	}
}

func TestParseKeys(t *testing.T) {
	a, b := hex.EncodeToString(bytes.Repeat([]byte{1}, KeySize)), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, KeySize))
	keys, err := ParseKeys(a + ", " + b)
	if err != nil || len(keys) != 2 || keys[1][0] != 2 {
		t.Fatalf("ParseKeys = %v, %v", keys, err)
	}
	for _, bad := range []string{"", a + ",", a + ",short"} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}
