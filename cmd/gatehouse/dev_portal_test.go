package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// TestDevAdminPortal: the demo host app's settings page opens the Admin
// Portal with a fresh server-side link, and the banner says where.
func TestDevAdminPortal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--addr", addr, "--data-dir", t.TempDir(), "--log-level", "error"}, &out, io.Discard)
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			break
		}
		if i > 100 {
			cancel()
			t.Fatalf("dev did not start: %v", <-done)
		}
		time.Sleep(50 * time.Millisecond)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, page := get("/demo/settings"); res.StatusCode != 200 || !strings.Contains(page, "Open the Admin Portal") || !strings.Contains(page, `window.open("/demo/admin-portal"`) {
		t.Fatalf("settings page: %d %s", res.StatusCode, page)
	}
	// The pop-up's URL makes a link and lands, through it, in the portal
	// of the demo organization on a clean URL.
	res, page := get("/demo/admin-portal")
	if res.StatusCode != 200 || res.Request.URL.Path != "/portal/" || res.Request.URL.RawQuery != "" || !strings.Contains(page, "Demo Corp") {
		t.Fatalf("admin portal: %d at %s: %.300s", res.StatusCode, res.Request.URL, page)
	}
	// Each press makes a new link: a second one works too.
	if res, _ := get("/demo/admin-portal"); res.StatusCode != 200 {
		t.Errorf("second portal link: %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), base+"/demo/settings") {
		t.Errorf("banner has no portal link:\n%s", out.String())
	}
}
