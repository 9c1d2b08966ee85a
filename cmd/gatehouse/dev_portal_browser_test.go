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

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/gatehouse-dev/gatehouse/internal/app/apptest"
)

// TestDevAdminPortalPopup plays the host app's admin in Chromium: Account
// settings → Edit account opens the Admin Portal in a pop-up, and its Done
// button tells the opener ("close") and closes the pop-up.
func TestDevAdminPortalPopup(t *testing.T) {
	browser := apptest.Chromium(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--data-dir", dir, "--addr", addr, "--log-level", "error"}, &bytes.Buffer{}, &bytes.Buffer{})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	base := "http://" + addr
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
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "chromium")), chromedp.WindowSize(1100, 900))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	defer tcancel()
	fail := func(c context.Context, what string, err error) {
		t.Helper()
		if shot, serr := chromedp.Run(context.WithoutCancel(c), chromedp.FullScreenshot(100)); serr == nil {
			os.WriteFile(filepath.Join(apptest.ArtifactDir(t, ""), "dev-portal-popup-failure.png"), shot, 0o644)
		}
		t.Fatalf("%s: %v", what, err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/demo/"), chromedp.Click(`a[href="/demo/settings"]`),
		chromedp.WaitVisible(`#open-portal`)); err != nil {
		fail(bctx, "settings page", err)
	}
	popup := chromedp.WaitNewTarget(bctx, func(i *target.Info) bool { return i.Type == "page" })
	if err := chromedp.Do(bctx, chromedp.Click(`#open-portal`)); err != nil {
		fail(bctx, "open the portal", err)
	}
	var pid target.ID
	select {
	case pid = <-popup:
	case <-bctx.Done():
		fail(bctx, "no pop-up opened", bctx.Err())
	}
	pctx, pcancel := chromedp.NewContext(bctx, chromedp.WithTargetID(pid))
	defer pcancel()
	if err := chromedp.Do(pctx, chromedp.WaitVisible(`.menu`)); err != nil {
		fail(pctx, "portal in the pop-up", err)
	}
	loc, _ := chromedp.Run(pctx, chromedp.Location())
	title, _ := chromedp.Run(pctx, chromedp.Text(`main h1`))
	if loc != base+"/portal/" || !strings.Contains(title, "Demo Corp") {
		t.Errorf("pop-up shows %q at %s", title, loc)
	}
	// Done closes the pop-up, so press it from a timer: a click that is
	// still in flight when its target closes would report an error.
	if _, err := chromedp.Run(pctx, chromedp.Evaluate[bool](`setTimeout(() => document.querySelector("[data-action=done]").click(), 50); true`)); err != nil {
		fail(pctx, "press Done", err)
	}
	// The opener hears "close".
	for start := time.Now(); ; {
		log, err := chromedp.Run(bctx, chromedp.Text(`#log`))
		if err == nil && strings.Contains(log, "portal: close") {
			break
		}
		if time.Since(start) > 20*time.Second {
			fail(bctx, "the opener never heard from the portal (log "+log+")", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
