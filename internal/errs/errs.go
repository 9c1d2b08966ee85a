// Package errs holds the typed errors that services return and that the HTTP
// edge maps to status codes once (see internal/api).
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the HTTP edge.
type Kind int

// The kinds of error a service can return.
const (
	KindInvalid      Kind = iota + 1 // 422: the request is well-formed but a field is wrong
	KindBadRequest                   // 400: the request cannot be understood or the operation is not allowed now
	KindUnauthorized                 // 401
	KindForbidden                    // 403
	KindNotFound                     // 404
	KindConflict                     // 409
	KindTooLarge                     // 413
	KindRateLimited                  // 429
	KindUnavailable                  // 503: a dependency (database, DNS, IdP) cannot be reached
)

// FieldError names one invalid field, in WorkOS's `errors[{field, code}]` shape.
type FieldError struct {
	Field string `json:"field,omitempty"`
	// InstancePath is a JSON pointer into the body, used instead of Field
	// where WorkOS answers that way (audit log events: "/targets/0/type").
	InstancePath string `json:"instancePath,omitempty"`
	Code         string `json:"code,omitempty"`
	Message      string `json:"message,omitempty"`
}

// Error is a typed, user-facing error. Message is safe to show to API callers.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
	Err     error // the cause, never shown to callers
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsKind reports whether err is a typed error of kind k.
func IsKind(err error, k Kind) bool {
	e, ok := As(err)
	return ok && e.Kind == k
}

// NotFound reports a missing entity, e.g. NotFound("Organization", "org_1").
func NotFound(entity, id string) *Error {
	return &Error{Kind: KindNotFound, Code: "entity_not_found", Message: fmt.Sprintf("%s not found: '%s'.", entity, id)}
}

// Invalid reports one or more invalid fields (422).
func Invalid(fields ...FieldError) *Error {
	msg := "Validation failed."
	if len(fields) == 1 && fields[0].Message != "" {
		msg = "Validation failed: " + fields[0].Message
	}
	return &Error{Kind: KindInvalid, Code: "invalid_request_parameters", Message: msg, Fields: fields}
}

// InvalidField is Invalid with a single field.
func InvalidField(field, code, message string) *Error {
	return Invalid(FieldError{Field: field, Code: code, Message: message})
}

// BadRequest reports a request that cannot be carried out as asked (400).
func BadRequest(code, message string) *Error {
	return &Error{Kind: KindBadRequest, Code: code, Message: message}
}

// Conflict reports a uniqueness or state conflict (409).
func Conflict(code, message string) *Error {
	return &Error{Kind: KindConflict, Code: code, Message: message}
}

// Unauthorized reports missing or wrong credentials (401).
func Unauthorized(message string) *Error {
	return &Error{Kind: KindUnauthorized, Code: "unauthorized", Message: message}
}

// Forbidden reports credentials that do not allow the operation (403).
func Forbidden(message string) *Error {
	return &Error{Kind: KindForbidden, Code: "forbidden", Message: message}
}

// Unavailable reports a dependency that could not be reached (503).
func Unavailable(code, message string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: code, Message: message, Err: cause}
}
