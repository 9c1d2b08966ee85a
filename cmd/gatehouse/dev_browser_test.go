package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
)

// startDev runs `gatehouse dev` on a free port until the test ends and
// returns its base URL and data directory.
func startDev(t *testing.T) (base, dir string) {
	t.Helper()
	dir = t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--data-dir", dir, "--addr", addr, "--log-level", "error"}, io.Discard, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	base = "http://" + addr
	for i := 0; ; i++ {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		if i > 200 {
			t.Fatalf("gatehouse dev did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return base, dir
}

// newBrowser starts a headless Chromium with its own profile in userDir,
// its viewport width×height (a phone's when mobile), for two minutes.
func newBrowser(t *testing.T, browser, userDir string, width, height int64, mobile bool) context.Context {
	t.Helper()
	bctx := apptest.Browser(t, browser, userDir, int(width), int(height), 2*time.Minute)
	var emulate []chromedp.EmulateViewportOption
	if mobile {
		emulate = append(emulate, chromedp.EmulateMobile)
	}
	if _, err := chromedp.Run(bctx, chromedp.EmulateViewport(width, height, emulate...)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// TestDevDemoLoginInBrowser runs `gatehouse dev` and signs in through the
// demo host app and the built-in IdP in a real headless Chromium, as a
// newcomer would in their first minute.
func TestDevDemoLoginInBrowser(t *testing.T) {
	browser := apptest.Chromium(t)
	base, dir := startDev(t)
	bctx := newBrowser(t, browser, filepath.Join(dir, "chromium"), 1100, 900, false)

	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(base + "/demo/"),
		chromedp.WaitVisible(`a[href="/demo/login"]`),
		chromedp.Click(`a[href="/demo/login"]`),
		chromedp.WaitVisible(`#password`),
		chromedp.SendKeys(`#email`, "alice@example.com"),
		chromedp.SendKeys(`#password`, "alice"),
		chromedp.Click(`button.primary`),
	}
	for i, step := range steps {
		if _, err := chromedp.Run(bctx, step); err != nil {
			if shot, serr := chromedp.Run(context.WithoutCancel(bctx), chromedp.FullScreenshot(90)); serr == nil {
				os.WriteFile(filepath.Join(apptest.ArtifactDir(t, ""), "dev-demo-failure.png"), shot, 0o644)
			}
			t.Fatalf("browser step %d: %v", i, err)
		}
	}
	// The IdP posts the response to the ACS with a self-submitting form,
	// which redirects to the demo callback: poll until the profile shows.
	var body string
	for start := time.Now(); time.Since(start) < 30*time.Second; {
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		if strings.Contains(loc, "/demo/callback") {
			if body, _ = chromedp.Run(bctx, chromedp.Text(`body`)); strings.Contains(body, "Signed in with SSO") {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(apptest.ArtifactDir(t, ""), "dev-demo-profile.png")
	if err := os.WriteFile(path, shot, 0o644); err == nil {
		t.Logf("screenshot: %s", path)
	}
	for _, want := range []string{"Signed in with SSO", "alice@example.com", `"object": "profile"`, "GenericSAML"} {
		if !strings.Contains(body, want) {
			t.Errorf("profile page lacks %q:\n%s", want, body)
		}
	}
}
