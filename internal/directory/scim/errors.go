package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/api"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// SCIM error types (RFC 7644 §3.12).
const (
	TypeInvalidFilter = "invalidFilter"
	TypeTooMany       = "tooMany"
	TypeUniqueness    = "uniqueness"
	TypeMutability    = "mutability"
	TypeInvalidSyntax = "invalidSyntax"
	TypeInvalidPath   = "invalidPath"
	TypeNoTarget      = "noTarget"
	TypeInvalidValue  = "invalidValue"
	TypeInvalidVers   = "invalidVers"
	TypeSensitive     = "sensitive"
)

var scimTypes = map[string]bool{
	TypeInvalidFilter: true, TypeTooMany: true, TypeUniqueness: true, TypeMutability: true, TypeInvalidSyntax: true,
	TypeInvalidPath: true, TypeNoTarget: true, TypeInvalidValue: true, TypeInvalidVers: true, TypeSensitive: true,
}

// Error is a SCIM protocol error: an HTTP status and a scimType.
type Error struct {
	Status   int
	SCIMType string
	Detail   string
}

// Error implements error.
func (e *Error) Error() string { return fmt.Sprintf("scim %d %s: %s", e.Status, e.SCIMType, e.Detail) }

func badRequest(scimType, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, SCIMType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// errorBody is the SCIM error response (RFC 7644 §3.12). status is a
// string there.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	SCIMType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
}

// defaultType gives every 4xx a scimType so clients that key on it always
// find one; specific errors set their own.
func defaultType(status int) string {
	switch status {
	case http.StatusConflict:
		return TypeUniqueness
	case http.StatusNotFound:
		return TypeNoTarget
	case http.StatusRequestEntityTooLarge:
		return TypeTooMany
	case http.StatusPreconditionFailed:
		return TypeInvalidVers
	case http.StatusUnauthorized, http.StatusForbidden:
		return TypeInvalidValue
	}
	return TypeInvalidSyntax
}

// toSCIM maps any error to a SCIM error, once, at the edge. Unknown
// errors are 500s whose detail names only the request ID.
func toSCIM(r *http.Request, err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	if e, ok := errs.As(err); ok {
		st := api.StatusOf(e.Kind)
		if st == http.StatusUnprocessableEntity {
			st = http.StatusBadRequest
		}
		t := e.Code
		if !scimTypes[t] {
			t = defaultType(st)
		}
		if e.Kind == errs.KindConflict {
			t = TypeUniqueness
		}
		return &Error{Status: st, SCIMType: t, Detail: e.Message}
	}
	if errors.Is(err, store.ErrNotFound) {
		return &Error{Status: http.StatusNotFound, SCIMType: TypeNoTarget, Detail: "Resource not found."}
	}
	rid := api.RequestID(r.Context())
	slog.ErrorContext(r.Context(), "scim: internal error", "err", err, "request_id", rid, "method", r.Method, "path", r.URL.Path)
	return &Error{Status: http.StatusInternalServerError, Detail: "Internal server error (request " + rid + ")."}
}

// writeError writes a SCIM error response.
func writeError(w http.ResponseWriter, r *http.Request, err error) *Error {
	se := toSCIM(r, err)
	t := se.SCIMType
	if t == "" && se.Status >= 400 && se.Status < 500 {
		t = defaultType(se.Status)
	}
	if se.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
	}
	writeJSON(w, se.Status, errorBody{Schemas: []string{SchemaError}, Status: strconv.Itoa(se.Status), SCIMType: t, Detail: se.Detail})
	return se
}

// writeJSON writes a SCIM response body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
