package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, machine-readable error code. Codes are part of the API:
// they are only ever added, never renamed.
type Code string

// Error codes that cross the wire.
const (
	CodeBadRequest        Code = "bad_request"
	CodeInvalidJSON       Code = "invalid_json"
	CodeUnknownField      Code = "unknown_field"
	CodeInvalidDocument   Code = "invalid_document"
	CodeMissingField      Code = "missing_field"
	CodeInvalidField      Code = "invalid_field"
	CodeInvalidRule       Code = "invalid_rule"
	CodeUnknownKind       Code = "unknown_kind"
	CodeDuplicateDocument Code = "duplicate_document"
	CodeReferenceNotFound Code = "reference_not_found"
	CodeInUse             Code = "in_use"
	CodeNotFound          Code = "not_found"
	CodeBodyTooLarge      Code = "body_too_large"
	CodeUnauthorized      Code = "unauthorized"
	CodeForbidden         Code = "forbidden"
	CodeNoLeader          Code = "no_leader"
	CodeUnavailable       Code = "unavailable"
	CodeTimeout           Code = "timeout"
	CodeConflict          Code = "conflict"
	CodeInvalidSnapshot   Code = "invalid_snapshot"
	CodeInternal          Code = "internal"
	// CodeOutboxFull: an agent refused a contact because its outbox of
	// unsent events is full (served with 503: retry later).
	CodeOutboxFull Code = "outbox_full"
	// CodeUnknownCustomer: an agent was asked to decide for a customer
	// neither its cache nor the control plane knows (404). Its message
	// says when the control plane could not be asked.
	CodeUnknownCustomer Code = "unknown_customer"
	// CodeInvalidModel: a Model document's body cannot score (broken
	// trees, coefficients that do not match the features, …) (400).
	CodeInvalidModel Code = "invalid_model"
	// CodeNoActiveModel: the request needs the active churn model and
	// none is active (409): activate one with `touchpoint models activate`.
	CodeNoActiveModel Code = "no_active_model"
	// CodeRevoked: the control plane revoked this agent (403). Enrollment
	// refuses a revoked id; an agent told it is revoked refuses contacts,
	// which could never reach the ledger.
	CodeRevoked Code = "revoked"
	// CodeWrongCluster: every control-plane node an agent reached for
	// enrollment presented another cluster's CA than the one its join
	// token names: a token from another cluster, or addresses of another
	// cluster's nodes. Asking again cannot help.
	CodeWrongCluster Code = "wrong_cluster"
	// CodeSequenceGap: a batch of contact events does not continue from
	// the highest sequence the ledger holds for its agent or import source.
	CodeSequenceGap Code = "sequence_gap"
	// CodeMethodNotAllowed: the path exists, but not for this method (the
	// Allow header names those it answers).
	CodeMethodNotAllowed Code = "method_not_allowed"
	// CodeUnsupportedMediaType: a request body sent with a
	// Content-Encoding (gzip, …): bodies are read as sent.
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	// CodeInsufficientStorage: a node or agent refused a write because the
	// file system under its data directory has less free space than it
	// keeps (--min-free-disk-mb) (507). What is stored stays readable;
	// retry once space is freed.
	CodeInsufficientStorage Code = "insufficient_storage"
)

// HTTPStatus is the status code an error with this code is served with.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeBadRequest, CodeInvalidJSON, CodeUnknownField, CodeInvalidDocument,
		CodeMissingField, CodeInvalidField, CodeInvalidRule, CodeUnknownKind,
		CodeDuplicateDocument, CodeReferenceNotFound, CodeInvalidSnapshot:
		return http.StatusBadRequest
	case CodeNotFound, CodeUnknownCustomer:
		return http.StatusNotFound
	case CodeInUse, CodeConflict, CodeSequenceGap:
		return http.StatusConflict
	case CodeBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden, CodeRevoked:
		return http.StatusForbidden
	case CodeNoLeader, CodeUnavailable, CodeOutboxFull:
		return http.StatusServiceUnavailable
	case CodeTimeout:
		return http.StatusGatewayTimeout
	case CodeInvalidModel:
		return http.StatusBadRequest
	case CodeNoActiveModel:
		return http.StatusConflict
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case CodeInsufficientStorage:
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

// Error is the error body every API returns:
// {"error":{"code":"…","message":"…"}}. Document and Field locate the
// problem inside a multi-document request when they apply.
type Error struct {
	Code     Code   `json:"code"`
	Message  string `json:"message"`
	Document *int   `json:"document,omitempty"`
	Field    string `json:"field,omitempty"`
	// Status is the HTTP status the error arrived with (client side only).
	Status int `json:"-"`
}

// ErrorBody is the envelope of an error response.
type ErrorBody struct {
	Error *Error `json:"error"`
}

func (e *Error) Error() string {
	loc := ""
	if e.Document != nil {
		loc = fmt.Sprintf("document %d: ", *e.Document)
	}
	if e.Field != "" {
		loc += e.Field + ": "
	}
	return fmt.Sprintf("%s: %s%s", e.Code, loc, e.Message)
}

// Errorf builds an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InDocument returns a copy of e located at document i (0-based) and field.
func (e *Error) InDocument(i int, field string) *Error {
	c := *e
	c.Document = &i
	if field != "" {
		c.Field = field
	}
	return &c
}

// CodeOf returns the code of err if it is (or wraps) an *Error, else
// CodeInternal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
