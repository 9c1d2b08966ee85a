package apptest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium finds Debian's chromium for the browser tests. Without it a
// test skips locally; in CI (CI=true) a missing browser fails the test,
// because .ci/run installs it.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed; .ci/run must install it")
	}
	t.Skip("chromium not installed")
	return ""
}

// ArtifactDir is where a test keeps its screenshots: GATEHOUSE_TEST_ARTIFACTS/sub
// if that is set, else the test's artefact directory (kept with go test
// -artifacts).
func ArtifactDir(t *testing.T, sub string) string {
	if d := os.Getenv("GATEHOUSE_TEST_ARTIFACTS"); d != "" {
		d = filepath.Join(d, sub)
		if err := os.MkdirAll(d, 0o755); err == nil {
			return d
		}
	}
	return t.ArtifactDir()
}

// Browser starts a headless Chromium (the binary chrome, its own profile in
// userDir) with a window of width × height, for at most timeout; it is
// closed when the test ends.
func Browser(t testing.TB, chrome, userDir string, width, height int, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userDir), chromedp.WindowSize(width, height))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	bctx, tcancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(tcancel)
	return bctx
}
