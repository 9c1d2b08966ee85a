package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommands runs the admin subcommands as a user would.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cases := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"version", []string{"version"}, "gatehouse ", ""},
		{"migrate", []string{"migrate", "--data-dir", dir}, "migrations applied (sqlite)", ""},
		{"keys create", []string{"keys", "create", "--data-dir", dir, "--name", "ci"}, "sk_", ""},
		{"no command", nil, "", "no command given"},
		{"unknown command", []string{"frobnicate"}, "", `unknown command "frobnicate"`},
		{"bad flag", []string{"serve", "--no-such-flag"}, "", "flag provided but not defined"},
		{"keys without create", []string{"keys"}, "", "usage: gatehouse keys create"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(ctx, tc.args, &out, &errOut)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v (stderr %s)", err, errOut.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", out.String(), tc.wantOut)
			}
		})
	}
}

// TestServeShutsDownGracefully starts the server, checks it answers with a
// key made by `keys create`, then cancels it as SIGTERM would.
func TestServeShutsDownGracefully(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var keyOut bytes.Buffer
	if err := run(ctx, []string{"keys", "create", "--data-dir", dir}, &keyOut, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(keyOut.String())
	addr := freeAddr(t)
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--data-dir", dir, "--addr", addr}, &out, &bytes.Buffer{}) }()
	var res *http.Response
	var err error
	for range 100 {
		req, _ := http.NewRequest("GET", "http://"+addr+"/organizations", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		if res, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("server did not come up: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /organizations with the new key = %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), "client ID: client_") {
		t.Errorf("banner lacks the client ID: %q", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "gatehouse.db")); err != nil {
		t.Errorf("no SQLite file in the data dir: %v", err)
	}
}

// TestKeysCommands manages keys offline: create, list (no secrets), revoke.
func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	runOK := func(args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(ctx, append(args, "--data-dir", dir), &out, &errOut); err != nil {
			t.Fatalf("%v: %v (%s)", args, err, errOut.String())
		}
		return out.String(), errOut.String()
	}
	secret, note := runOK("keys", "create", "--name", "deploy")
	secret = strings.TrimSpace(secret)
	keyID := strings.Fields(strings.TrimPrefix(note, "Created "))[0]
	if !strings.HasPrefix(secret, "sk_") || !strings.HasPrefix(keyID, "key_") {
		t.Fatalf("create printed %q / %q", secret, note)
	}
	listing, _ := runOK("keys", "list")
	if !strings.Contains(listing, keyID) || !strings.Contains(listing, "deploy") || !strings.Contains(listing, "sk_…"+secret[len(secret)-4:]) ||
		!strings.Contains(listing, "never") || strings.Contains(listing, secret) {
		t.Errorf("list = %q", listing)
	}
	if out, _ := runOK("keys", "revoke", keyID); !strings.Contains(out, "revoked "+keyID) {
		t.Errorf("revoke printed %q", out)
	}
	if listing, _ := runOK("keys", "list"); strings.Contains(listing, keyID) {
		t.Errorf("revoked key still listed: %q", listing)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"revoke unknown", []string{"keys", "revoke", "key_nope", "--data-dir", dir}, "not found"},
		{"revoke without id", []string{"keys", "revoke", "--data-dir", dir}, "usage: gatehouse keys revoke KEY_ID"},
		{"unknown keys command", []string{"keys", "rotate"}, `unknown keys command "rotate"`},
		{"blank name", []string{"keys", "create", "--name", " ", "--data-dir", dir}, "name is required"},
		{"server flag on an offline command", []string{"keys", "list", "--addr", "x"}, "flag provided but not defined: -addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(ctx, tc.args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
