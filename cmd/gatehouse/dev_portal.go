package main

import (
	"html/template"
	"net/http"
	"sync"

	"github.com/workos/workos-go/v7"
)

// The demo host app's "Account settings → Admin → Edit account" page: it
// opens the Admin Portal for the demo organization in a pop-up, the way a
// real host app would. The link is generated server-side (it needs the API
// key) each time the button is pressed, because a link works once and for
// five minutes.

var demoSettingsPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("settings").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Account settings · Demo app</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#1f2937}
nav{color:#6b7280;margin-bottom:1rem}
button,a.button{display:inline-block;background:#4f46e5;color:#fff;padding:.7rem 1.2rem;border:0;border-radius:6px;text-decoration:none;font:inherit;font-weight:600;cursor:pointer}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:1.25rem;margin:1rem 0}
#log{background:#f3f4f6;padding:.75rem 1rem;border-radius:6px;min-height:1.5rem;font-family:ui-monospace,monospace;font-size:.85rem}
</style></head><body>
<nav aria-label="Breadcrumb"><a href="/demo/">Demo app</a> › Account settings › Admin</nav>
<h1>Edit account</h1>
<div class="card">
<h2>Single sign-on and directory</h2>
<p>Let your IT admin connect your identity provider, directory and domains for <strong>Demo Corp</strong>.</p>
<p><button type="button" id="open-portal">Open the Admin Portal</button></p>
<p>Without JavaScript: <a href="/demo/admin-portal">open it in this window</a>.</p>
</div>
<p>Messages from the portal:</p><div id="log" aria-live="polite">{{if .Done}}The admin finished in the portal.{{end}}</div>
<script>
document.getElementById("open-portal").addEventListener("click", function () {
  window.open("/demo/admin-portal", "gatehouse-admin-portal", "width=1040,height=820");
});
window.addEventListener("message", function (ev) {
  if (ev.origin !== {{.Origin}} || !ev.data || ev.data.source !== "gatehouse-admin-portal") return;
  document.getElementById("log").textContent += "portal: " + ev.data.event + "\n";
});
</script>
</body></html>
`))
})

func (d *demoApp) settings(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := demoSettingsPage().Execute(w, map[string]any{"Origin": d.base, "Done": r.URL.Query().Get("portal") == "done"}); err != nil {
		d.log.Error("demo settings page", "err", err)
	}
}

// adminPortal makes a fresh one-time portal link for the demo organization
// with the WorkOS SDK and sends the browser (the pop-up) to it.
func (d *demoApp) adminPortal(w http.ResponseWriter, r *http.Request) {
	ret, done := d.base+"/demo/settings", d.base+"/demo/settings?portal=done"
	res, err := d.sdk.AdminPortal().GenerateLink(r.Context(), &workos.AdminPortalGenerateLinkParams{
		Organization: d.orgID, ReturnURL: &ret, SuccessURL: &done,
	})
	if err != nil {
		d.render(w, http.StatusBadGateway, demoData{Error: "portal_link_failed", Description: err.Error()})
		return
	}
	http.Redirect(w, r, res.Link, http.StatusFound)
}
