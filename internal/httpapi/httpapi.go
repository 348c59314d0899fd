// Package httpapi holds what the master's and the agent's HTTP APIs share:
// errors that carry the HTTP status Mesos answers with, request decoding
// in the request's encoding, and JSON answers.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/plateau/plateau/internal/actor"
	"github.com/plateau/plateau/internal/api/codec"
)

// MaxBody bounds a call's body.
const MaxBody = 64 << 20

// Error is an error with the status Mesos answers it with.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Errorf makes an Error.
func Errorf(status int, format string, args ...any) error {
	return &Error{status, fmt.Sprintf(format, args...)}
}

// BadRequest is a 400.
func BadRequest(format string, args ...any) error {
	return Errorf(http.StatusBadRequest, format, args...)
}

// Forbidden is a 403.
func Forbidden(msg string) error { return &Error{http.StatusForbidden, msg} }

// StatusOf maps an error to its status: an Error's own, the codec's
// negotiation errors (400, 415, 406), 503 for a stopped component, else
// 500.
func StatusOf(err error) int {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Status
	case errors.Is(err, codec.ErrMissingContentType):
		return http.StatusBadRequest
	case errors.Is(err, codec.ErrUnsupportedMediaType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, codec.ErrNotAcceptable):
		return http.StatusNotAcceptable
	case errors.Is(err, actor.ErrStopped):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// WriteError answers err with its status and message.
func WriteError(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), StatusOf(err))
}

// RequirePOST answers anything but POST with 405, as Mesos does, and
// reports whether the request may go on.
func RequirePOST(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, fmt.Sprintf("Expecting one of { 'POST' }, but received '%s'", r.Method), http.StatusMethodNotAllowed)
	return false
}

// Decode reads r's body into msg in the encoding its Content-Type names.
func Decode(r *http.Request, msg proto.Message) error {
	c, err := codec.ForContentType(r.Header.Get("Content-Type"))
	if err != nil {
		if errors.Is(err, codec.ErrMissingContentType) {
			return BadRequest("Expecting 'Content-Type' to be present")
		}
		return err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody))
	if err != nil {
		return BadRequest("Failed to read request body: %v", err)
	}
	if err := c.Unmarshal(body, msg); err != nil {
		return BadRequest("Failed to parse body into %s: %v", msg.ProtoReflect().Descriptor().Name(), err)
	}
	return nil
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeCall is the start of every v1 API handler: POST only, the call
// decoded in its Content-Type's encoding, and the response codec chosen
// from Accept. On failure it has answered and returns false.
func DecodeCall(w http.ResponseWriter, r *http.Request, call proto.Message) (codec.Codec, bool) {
	if !RequirePOST(w, r) {
		return nil, false
	}
	if err := Decode(r, call); err != nil {
		WriteError(w, err)
		return nil, false
	}
	enc, err := codec.ForAccept(r.Header.Get("Accept"))
	if err != nil {
		WriteError(w, err)
		return nil, false
	}
	return enc, true
}

// WriteMessage answers with msg in the encoding enc.
func WriteMessage(w http.ResponseWriter, enc codec.Codec, msg proto.Message) {
	body, err := enc.Marshal(msg)
	if err != nil {
		WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
	_, _ = w.Write(body)
}

// RequireCallBody checks, as Mesos's call validation does, that a call
// (a scheduler or operator Call) whose type has a message of its own
// carries it: a SET_QUOTA call needs its set_quota field. The optional
// types' messages may be left out (a scheduler's REVIVE).
func RequireCallBody(call protoreflect.Message, callType string, optional ...string) error {
	if slices.Contains(optional, callType) {
		return nil
	}
	name := strings.ToLower(callType)
	field := call.Descriptor().Fields().ByName(protoreflect.Name(name))
	if field != nil && field.Message() != nil && !call.Has(field) {
		return BadRequest("Expecting '%s' to be present", name)
	}
	return nil
}
