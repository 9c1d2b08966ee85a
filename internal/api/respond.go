// Package api holds what every HTTP handler of the management API shares:
// JSON in and out, the WorkOS error and list envelopes, pagination and
// array query parameters, and the middleware (request IDs, API-key auth,
// idempotency, logging, metrics, panic recovery).
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// MaxBodyBytes bounds a JSON request body.
const MaxBodyBytes = 1 << 20

// HandlerFunc is an HTTP handler that returns its error instead of writing
// it, so errors are mapped to responses in one place (WriteError).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP calls f and writes any error it returns.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status == http.StatusNoContent {
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// ErrorBody is WorkOS's error envelope.
type ErrorBody struct {
	Message string            `json:"message"`
	Code    string            `json:"code,omitempty"`
	Errors  []errs.FieldError `json:"errors,omitempty"`
}

// StatusOf maps a typed error kind to its HTTP status.
func StatusOf(k errs.Kind) int {
	switch k {
	case errs.KindInvalid:
		return http.StatusUnprocessableEntity
	case errs.KindBadRequest:
		return http.StatusBadRequest
	case errs.KindUnauthorized:
		return http.StatusUnauthorized
	case errs.KindForbidden:
		return http.StatusForbidden
	case errs.KindNotFound:
		return http.StatusNotFound
	case errs.KindConflict:
		return http.StatusConflict
	case errs.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.KindRateLimited:
		return http.StatusTooManyRequests
	case errs.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// WriteError writes err in WorkOS's error envelope. Typed errors keep their
// status and message; anything else is logged and answered with a bare 500
// that names the request ID, so no internal detail leaks.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := errs.As(err); ok {
		WriteJSON(w, StatusOf(e.Kind), ErrorBody{Message: e.Message, Code: e.Code, Errors: e.Fields})
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		WriteJSON(w, http.StatusNotFound, ErrorBody{Message: "Not found.", Code: "entity_not_found"})
		return
	}
	rid := RequestID(r.Context())
	slog.ErrorContext(r.Context(), "internal error", "err", err, "request_id", rid, "method", r.Method, "path", r.URL.Path)
	WriteJSON(w, http.StatusInternalServerError, ErrorBody{Message: "Internal server error (request " + rid + ").", Code: "server_error"})
}

// DecodeJSON reads a JSON request body into v. An empty body decodes as
// {}. Errors are typed 400s (or 413) that say what is wrong.
func DecodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return errs.BadRequest("invalid_body", "Could not read the request body.")
	}
	if len(body) > MaxBodyBytes {
		return &errs.Error{Kind: errs.KindTooLarge, Code: "payload_too_large", Message: fmt.Sprintf("The request body is larger than %d bytes.", MaxBodyBytes)}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		body = []byte("{}")
	}
	if HasNUL(body) {
		return errs.BadRequest("invalid_text", "Text in the request may not contain the NUL character (U+0000).")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			msg := fmt.Sprintf("The request body is not valid JSON (at byte %d).", syn.Offset)
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "" && mt != "application/json" {
				msg += fmt.Sprintf(" Send JSON with Content-Type: application/json (got %s).", mt)
			}
			return errs.BadRequest("invalid_json", msg)
		case errors.As(err, &typ):
			field := typ.Field
			if field == "" {
				field = "body"
			}
			return errs.InvalidField(field, "invalid_type", fmt.Sprintf("%s must be %s, not %s.", field, jsonKind(typ.Type.Kind().String()), typ.Value))
		default:
			return errs.BadRequest("invalid_json", "The request body is not valid JSON: "+err.Error())
		}
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int64", "int32", "float64", "uint":
		return "a number"
	}
	return goKind
}

// HasNUL reports whether a JSON document contains the NUL character, raw or
// as the escape \u0000. PostgreSQL cannot store NUL in text, and no
// legitimate name, email or ID contains it, so every backend refuses it at
// the edge rather than failing (or differing) at the database.
func HasNUL(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(`u0000`))
		if j < 0 {
			return false
		}
		k := i + j
		// It is an escape only if an odd number of backslashes precede it.
		n := 0
		for p := k - 1; p >= 0 && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = k + 1
	}
}
