package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/delivery/sinks/datadog"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/logstream"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func (h *Handler) logStreamRoutes(r api.Router) {
	r.Public("GET /portal/log-streams", h.page(h.logStreams))
	r.Public("POST /portal/log-streams", h.page(h.addLogStream))
	r.Public("POST /portal/log-streams/{id}", h.page(h.editLogStream))
	r.Public("POST /portal/log-streams/{id}/test", h.page(h.testLogStream))
	r.Public("POST /portal/log-streams/{id}/state", h.page(h.logStreamState))
	r.Public("POST /portal/log-streams/{id}/delete", h.page(h.deleteLogStream))
}

// lsField is one input of a destination's form. Name is the config key;
// the header pair is the portal's one-header form of config.headers.
type lsField struct {
	Name, Label, Input, Hint, Placeholder string // Input: text, url, password, textarea, checkbox, select
	Options                               []string
	Required                              bool
}

// lsType is a destination the admin can add, with its form.
type lsType struct {
	Type, Title, Text string
	Fields            []lsField
}

// lsTypes are the destinations in the order the page offers them; the
// fields follow docs/events.md "Destinations and what to fill in".
var lsTypes = []lsType{
	{Type: logstream.TypeDatadog, Title: "Datadog", Text: "Logs intake API v2.", Fields: []lsField{
		{Name: "api_key", Label: "API key", Input: "password", Required: true, Hint: "Organization Settings → API Keys in Datadog (an API key, not an application key)."},
		{Name: "site", Label: "Datadog site", Input: "select", Options: datadog.Sites, Hint: "The domain your Datadog account lives on."},
		{Name: "service", Label: "Service", Input: "text", Placeholder: "gatehouse", Hint: "Optional: the service attribute of each log entry."},
		{Name: "tags", Label: "Tags", Input: "text", Placeholder: "env:prod,team:security", Hint: "Optional: comma-separated key:value pairs."},
		{Name: "endpoint", Label: "Intake URL override", Input: "url", Hint: "Optional: a proxy or relay replacing Datadog's intake address."},
	}},
	{Type: logstream.TypeSplunk, Title: "Splunk", Text: "HTTP Event Collector (HEC).", Fields: []lsField{
		{Name: "url", Label: "HEC URL", Input: "url", Required: true, Placeholder: "https://splunk.example.com:8088", Hint: "The address of your HTTP Event Collector."},
		{Name: "token", Label: "HEC token", Input: "password", Required: true, Hint: "Settings → Data inputs → HTTP Event Collector in Splunk."},
		{Name: "index", Label: "Index", Input: "text", Hint: "Optional: the index events go to (the token's default otherwise)."},
		{Name: "source", Label: "Source", Input: "text", Hint: "Optional."},
		{Name: "sourcetype", Label: "Source type", Input: "text", Hint: "Optional."},
	}},
	{Type: logstream.TypeS3, Title: "Amazon S3", Text: "One JSON Lines object per batch in your bucket.", Fields: []lsField{
		{Name: "bucket", Label: "Bucket", Input: "text", Required: true, Placeholder: "acme-security-logs"},
		{Name: "region", Label: "Region", Input: "text", Placeholder: "eu-west-1", Hint: "The bucket's region."},
		{Name: "prefix", Label: "Key prefix", Input: "text", Placeholder: "gatehouse/", Hint: "Optional: a folder for the objects."},
		{Name: "access_key_id", Label: "Access key ID", Input: "text", Required: true, Hint: "Of an IAM user or role allowed s3:PutObject on the bucket."},
		{Name: "secret_access_key", Label: "Secret access key", Input: "password", Required: true},
		{Name: "endpoint", Label: "Endpoint override", Input: "url", Hint: "Optional: an S3-compatible service's address."},
		{Name: "force_path_style", Label: "Use path-style addresses (most S3-compatible services need this)", Input: "checkbox"},
	}},
	{Type: logstream.TypeGCS, Title: "Google Cloud Storage", Text: "One JSON Lines object per batch in your bucket.", Fields: []lsField{
		{Name: "bucket", Label: "Bucket", Input: "text", Required: true, Placeholder: "acme-security-logs"},
		{Name: "prefix", Label: "Object prefix", Input: "text", Placeholder: "gatehouse/", Hint: "Optional: a folder for the objects."},
		{Name: "credentials_json", Label: "Service account key (JSON)", Input: "textarea", Required: true, Hint: "The key file of a service account with Storage Object Creator on the bucket. It is stored encrypted and never shown again."},
		{Name: "endpoint", Label: "Endpoint override", Input: "url", Hint: "Optional: a Cloud Storage-compatible service's address."},
	}},
	{Type: logstream.TypeGenericHTTPS, Title: "HTTPS endpoint", Text: "Any collector that accepts a JSON array of events by POST.", Fields: []lsField{
		{Name: "url", Label: "URL", Input: "url", Required: true, Placeholder: "https://collector.example.com/gatehouse"},
		{Name: "header_name", Label: "Header name", Input: "text", Placeholder: "Authorization", Hint: "Optional: a header sent with every request, such as your collector's credentials."},
		{Name: "header_value", Label: "Header value", Input: "password", Hint: "Stored encrypted; shown masked afterwards."},
		{Name: "secret", Label: "Signing secret", Input: "password", Hint: "Optional: adds a Gatehouse-Signature header (HMAC-SHA256, as WorkOS webhooks) your collector can verify."},
	}},
}

func lsTypeOf(typ string) (lsType, bool) {
	for _, t := range lsTypes {
		if t.Type == typ {
			return t, true
		}
	}
	return lsType{}, false
}

// streamView is one stream as the page shows it.
type streamView struct {
	logstream.JSON
	Synced, ErrorAt time.Time
	Title           string
	Target          string // where it sends: host, bucket or site
	Settings        []setting
	Test            *testView
	// Edit is the stream's edit form: its fields with the current public
	// values; secrets are never put in the page, only their masks as hints.
	Edit     []editField
	EditOpen bool
	EditErr  string
}

// editField is one input of a stream's edit form.
type editField struct {
	lsField
	ID, Value, Err string
	// Current is the mask of a secret that is set ("••••6789"); Clearable
	// offers to remove an optional one.
	Current   string
	Clearable bool
}

type setting struct{ Name, Value string }

// testView is the result of "Test stream" on this page load.
type testView struct {
	OK                 bool
	Code, Message, Fix string
	Status             int
}

// lsForm is the add form's state after a refused submission, or a
// stream's edit form's when StreamID is set.
type lsForm struct {
	StreamID string
	Type     string
	Values   map[string]string // non-secret values only
	Errors   map[string]string // by field name
}

type logStreamsData struct {
	Types   []lsType
	Streams []streamView
	Form    lsForm
}

func (h *Handler) logStreams(w http.ResponseWriter, r *http.Request, s Session) error {
	return h.renderLogStreams(w, r, s, http.StatusOK, "", lsForm{}, "", nil)
}

// renderLogStreams shows the page; form is the refused add form, testID
// and test the result of a test just run.
func (h *Handler) renderLogStreams(w http.ResponseWriter, r *http.Request, s Session, status int, formErr string, form lsForm, testID string, test *testView) error {
	rows, _, err := h.LogStreams.List(r.Context(), s.OrganizationID, store.Page{Limit: 100, Order: store.Asc})
	if err != nil {
		return err
	}
	data := logStreamsData{Types: lsTypes}
	if form.StreamID == "" {
		data.Form = form
	}
	for _, ls := range rows {
		v := streamView{JSON: ls.JSON(), Title: ls.Type, Synced: ls.LastSyncedAt, ErrorAt: ls.LastErrorAt}
		t, _ := lsTypeOf(ls.Type)
		if t.Title != "" {
			v.Title = t.Title
		}
		label := map[string]string{}
		for _, f := range t.Fields {
			label[f.Name] = f.Label
		}
		for k, val := range v.Config {
			switch x := val.(type) {
			case map[string]string:
				for name, hv := range x {
					v.Settings = append(v.Settings, setting{"Header " + name, hv})
				}
			case bool:
				v.Settings = append(v.Settings, setting{label[k], map[bool]string{true: "yes", false: "no"}[x]})
			default:
				name := label[k]
				if name == "" {
					name = k
				}
				v.Settings = append(v.Settings, setting{name, fmt.Sprint(x)})
			}
		}
		sort.Slice(v.Settings, func(i, j int) bool { return v.Settings[i].Name < v.Settings[j].Name })
		v.Target = target(v.Config)
		if ls.ID == testID {
			v.Test = test
		}
		if form.StreamID == ls.ID {
			v.Edit, v.EditOpen, v.EditErr = editFields(t, ls.ID, v.Config, &form), true, form.Errors[""]
		} else {
			v.Edit = editFields(t, ls.ID, v.Config, nil)
		}
		data.Streams = append(data.Streams, v)
	}
	return h.render(w, r, status, "logstreams", &s, view{Title: "Log streams", Nav: "logstreams", Error: formErr, Data: data})
}

func (h *Handler) addLogStream(w http.ResponseWriter, r *http.Request, s Session) error {
	typ := r.PostFormValue("type")
	t, ok := lsTypeOf(typ)
	if !ok {
		return h.renderLogStreams(w, r, s, http.StatusUnprocessableEntity, "Choose a destination type.", lsForm{}, "", nil)
	}
	form := lsForm{Type: typ, Values: map[string]string{}, Errors: map[string]string{}}
	cfg := map[string]json.RawMessage{}
	for _, f := range t.Fields {
		v := strings.TrimSpace(r.PostFormValue(typ + "." + f.Name))
		if f.Input != "password" && f.Name != "credentials_json" {
			form.Values[f.Name] = v
		}
		switch {
		case f.Name == "header_name" || f.Name == "header_value":
		case f.Input == "checkbox":
			if v != "" {
				cfg[f.Name] = json.RawMessage("true")
			}
		case v != "":
			cfg[f.Name], _ = json.Marshal(v)
		}
	}
	if name, val := strings.TrimSpace(r.PostFormValue(typ+".header_name")), r.PostFormValue(typ+".header_value"); name != "" || val != "" {
		if name == "" || val == "" {
			form.Errors["header_name"] = "Give both the header's name and its value, or neither."
		} else {
			cfg["headers"], _ = json.Marshal(map[string]string{name: val})
		}
	}
	if len(form.Errors) == 0 {
		_, err := h.LogStreams.Create(r.Context(), logstream.CreateInput{OrganizationID: s.OrganizationID, Type: typ, Config: cfg})
		if err == nil {
			http.Redirect(w, r, "/portal/log-streams?done=stream-added", http.StatusSeeOther)
			return nil
		}
		if err := markRefused(form.Errors, err); err != nil {
			return err
		}
	}
	return h.renderLogStreams(w, r, s, http.StatusUnprocessableEntity,
		"The "+t.Title+" destination was not added: correct the fields marked below.", form, "", nil)
}

func (h *Handler) testLogStream(w http.ResponseWriter, r *http.Request, s Session) error {
	res, err := h.LogStreams.Test(r.Context(), s.OrganizationID, r.PathValue("id"))
	if err != nil {
		return err
	}
	tv := &testView{OK: res.Success, Code: res.Code, Fix: res.Fix, Status: res.Status, Message: res.Message}
	if res.Fix != "" {
		tv.Message = strings.TrimSpace(strings.TrimSuffix(res.Message, res.Fix))
	}
	return h.renderLogStreams(w, r, s, http.StatusOK, "", lsForm{}, r.PathValue("id"), tv)
}

func (h *Handler) logStreamState(w http.ResponseWriter, r *http.Request, s Session) error {
	state := r.PostFormValue("state")
	if _, err := h.LogStreams.Update(r.Context(), s.OrganizationID, r.PathValue("id"), logstream.UpdateInput{State: &state}); err != nil {
		if msg, ok := message(err); ok {
			return h.renderLogStreams(w, r, s, http.StatusUnprocessableEntity, msg, lsForm{}, "", nil)
		}
		return err
	}
	done := "stream-resumed"
	if state == store.LogStreamInactive {
		done = "stream-paused"
	}
	http.Redirect(w, r, "/portal/log-streams?done="+done+"#"+r.PathValue("id"), http.StatusSeeOther)
	return nil
}

func (h *Handler) deleteLogStream(w http.ResponseWriter, r *http.Request, s Session) error {
	if err := h.LogStreams.Delete(r.Context(), s.OrganizationID, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/portal/log-streams?done=stream-removed", http.StatusSeeOther)
	return nil
}

// secretInput reports whether a form field carries a secret: it is never
// written into the page.
func secretInput(f lsField) bool { return f.Input == "password" || f.Name == "credentials_json" }

// streamHeader is the stream's one configured header, if it has exactly
// one (the portal's form edits one; more are set through the API).
func streamHeader(cfg map[string]any) (name, mask string, n int) {
	h, _ := cfg["headers"].(map[string]string)
	for k, v := range h {
		name, mask = k, v
	}
	return name, mask, len(h)
}

// DescribedBy is the IDs of the texts that describe the input.
func (e editField) DescribedBy() string {
	var ids []string
	if e.Current != "" {
		ids = append(ids, e.ID+"-current")
	}
	if e.Hint != "" {
		ids = append(ids, e.ID+"-hint")
	}
	if e.Err != "" {
		ids = append(ids, e.ID+"-err")
	}
	return strings.Join(ids, " ")
}

// editFields is a stream's edit form, from its masked configuration, or
// from a refused submission's values and errors.
func editFields(t lsType, id string, cfg map[string]any, form *lsForm) []editField {
	hName, hMask, nHeaders := streamHeader(cfg)
	var out []editField
	for _, f := range t.Fields {
		if (f.Name == "header_name" || f.Name == "header_value") && nHeaders > 1 {
			continue
		}
		e := editField{lsField: f, ID: "ed-" + id + "-" + f.Name}
		switch {
		case f.Name == "header_name":
			e.Value = hName
		case f.Name == "header_value":
			e.Current = hMask
		case secretInput(f):
			if m, _ := cfg[f.Name].(string); m != "" {
				e.Current, e.Clearable = m, !f.Required
			}
		case f.Input == "checkbox":
			if b, _ := cfg[f.Name].(bool); b {
				e.Value = "true"
			}
		default:
			if v, ok := cfg[f.Name]; ok {
				e.Value = fmt.Sprint(v)
			}
		}
		if form != nil {
			if !secretInput(f) {
				e.Value = form.Values[f.Name]
			}
			e.Err = form.Errors[f.Name]
		}
		out = append(out, e)
	}
	return out
}

// editLogStream saves a stream's edit form. Public settings are sent as
// shown (an emptied optional one is removed); a secret left empty keeps
// its stored value, so the page never needs to hold it.
func (h *Handler) editLogStream(w http.ResponseWriter, r *http.Request, s Session) error {
	id := r.PathValue("id")
	cur, err := h.LogStreams.Get(r.Context(), s.OrganizationID, id)
	if err != nil {
		return err
	}
	t, ok := lsTypeOf(cur.Type)
	if !ok {
		return errs.InvalidField("type", "unsupported", "This stream's type cannot be edited here.")
	}
	curCfg := cur.JSON().Config
	form := lsForm{StreamID: id, Type: cur.Type, Values: map[string]string{}, Errors: map[string]string{}}
	cfg := map[string]json.RawMessage{}
	str := func(v string) json.RawMessage { b, _ := json.Marshal(v); return b }
	null := json.RawMessage("null")
	editsHeader := false
	for _, f := range t.Fields {
		v := strings.TrimSpace(r.PostFormValue(f.Name))
		if !secretInput(f) {
			form.Values[f.Name] = v
		}
		switch {
		case f.Name == "header_name" || f.Name == "header_value":
			editsHeader = true
		case f.Input == "checkbox":
			cfg[f.Name] = json.RawMessage(fmt.Sprint(v != ""))
		case secretInput(f):
			if r.PostFormValue("clear."+f.Name) != "" && !f.Required {
				cfg[f.Name] = null
			} else if v != "" {
				cfg[f.Name] = str(v)
			}
		case v == "" && !f.Required:
			cfg[f.Name] = null
		default:
			cfg[f.Name] = str(v)
		}
	}
	if oldName, _, n := streamHeader(curCfg); editsHeader && n <= 1 {
		name, val := strings.TrimSpace(r.PostFormValue("header_name")), r.PostFormValue("header_value")
		switch {
		case name == "" && val == "":
			if n == 1 {
				cfg["headers"] = null
			}
		case name == "":
			form.Errors["header_name"] = "Give the header's name, or clear both fields to send no header."
		case val == "" && name == oldName:
			// unchanged: the stored value stays
		case val == "":
			form.Errors["header_value"] = "Enter the value of the " + name + " header."
		default:
			b, _ := json.Marshal(map[string]string{name: val})
			cfg["headers"] = b
		}
	}
	if len(form.Errors) == 0 {
		_, err := h.LogStreams.Update(r.Context(), s.OrganizationID, id, logstream.UpdateInput{Config: cfg})
		if err == nil {
			http.Redirect(w, r, "/portal/log-streams?done=stream-saved#"+id, http.StatusSeeOther)
			return nil
		}
		if err := markRefused(form.Errors, err); err != nil {
			return err
		}
	}
	return h.renderLogStreams(w, r, s, http.StatusUnprocessableEntity,
		"The changes to the "+t.Title+" stream were not saved: correct the fields marked below.", form, "", nil)
}

// target names where a stream sends, to tell streams of one type apart.
func target(cfg map[string]any) string {
	for _, k := range []string{"url", "bucket", "endpoint", "site"} {
		if s, _ := cfg[k].(string); s != "" {
			if u, err := url.Parse(s); err == nil && u.Host != "" {
				return u.Host
			}
			return s
		}
	}
	return ""
}

// markRefused puts the fields a log stream service refused next to the
// form's fields; any other error is returned as it is.
func markRefused(formErrors map[string]string, err error) error {
	e, ok := errs.As(err)
	if !ok || e.Kind != errs.KindInvalid {
		return err
	}
	for _, fe := range e.Fields {
		setting := strings.TrimPrefix(fe.Field, "config.")
		// The API's message names the setting (config.url); beside the
		// form's field that name means nothing to an admin.
		msg := fe.Message
		if rest, ok := strings.CutPrefix(msg, fe.Field+": "); ok && rest != "" {
			msg = strings.ToUpper(rest[:1]) + rest[1:]
		} else if rest, ok := strings.CutPrefix(msg, fe.Field+" "); ok {
			msg = "This " + rest
		}
		name := setting
		if name == "headers" {
			name = "header_name"
		}
		formErrors[name] = strings.TrimSpace(formErrors[name] + " " + msg)
	}
	if len(e.Fields) == 0 {
		formErrors[""] = e.Message
	}
	return nil
}
