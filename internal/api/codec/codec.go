// Package codec encodes Mesos API messages the two ways Mesos serves them,
// application/x-protobuf and application/json (Mesos's JSON dialect, see
// json.go), chooses between them from HTTP headers as Mesos does, and frames
// streamed responses with RecordIO.
package codec

import (
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
)

// Media types Mesos speaks.
const (
	MediaTypeProtobuf = "application/x-protobuf"
	MediaTypeJSON     = "application/json"
	MediaTypeRecordIO = "application/recordio"
)

// Negotiation errors; handlers map them to 400, 415 and 406.
var (
	ErrMissingContentType   = errors.New("expecting 'Content-Type' to be present")
	ErrUnsupportedMediaType = errors.New("expecting 'Content-Type' of application/json or application/x-protobuf")
	ErrNotAcceptable        = errors.New("expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'")
)

// Codec turns messages into bytes of one media type and back.
type Codec interface {
	Marshal(proto.Message) ([]byte, error)
	Unmarshal([]byte, proto.Message) error
	ContentType() string
}

// The two codecs.
var (
	Protobuf Codec = protobufCodec{}
	JSON     Codec = jsonCodec{}
)

type protobufCodec struct{}

func (protobufCodec) Marshal(m proto.Message) ([]byte, error) { return proto.Marshal(m) }
func (protobufCodec) Unmarshal(b []byte, m proto.Message) error {
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
func (protobufCodec) ContentType() string { return MediaTypeProtobuf }

type jsonCodec struct{}

func (jsonCodec) Marshal(m proto.Message) ([]byte, error)   { return MarshalJSON(m) }
func (jsonCodec) Unmarshal(b []byte, m proto.Message) error { return UnmarshalJSON(b, m) }
func (jsonCodec) ContentType() string                       { return MediaTypeJSON }

// ForMediaType returns the codec of a media type, if there is one.
func ForMediaType(mediaType string) (Codec, bool) {
	switch strings.ToLower(mediaType) {
	case MediaTypeJSON:
		return JSON, true
	case MediaTypeProtobuf:
		return Protobuf, true
	}
	return nil, false
}

// ForContentType returns the codec for a request's Content-Type header.
func ForContentType(header string) (Codec, error) {
	if strings.TrimSpace(header) == "" {
		return nil, ErrMissingContentType
	}
	mt, _, err := mime.ParseMediaType(header)
	if err != nil {
		return nil, fmt.Errorf("%w (got %q)", ErrUnsupportedMediaType, header)
	}
	if c, ok := ForMediaType(mt); ok {
		return c, nil
	}
	return nil, fmt.Errorf("%w (got %q)", ErrUnsupportedMediaType, header)
}

// ForAccept returns the codec for a response, from the request's Accept
// header. Like Mesos it prefers JSON when both are acceptable, and a
// missing Accept header accepts anything.
func ForAccept(header string) (Codec, error) {
	if Accepts(header, MediaTypeJSON) {
		return JSON, nil
	}
	if Accepts(header, MediaTypeProtobuf) {
		return Protobuf, nil
	}
	return nil, fmt.Errorf("%w (got %q)", ErrNotAcceptable, header)
}

// Accepts reports whether an Accept header admits mediaType, honouring
// wildcards and q=0 exclusions.
func Accepts(header, mediaType string) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	typ, sub, _ := strings.Cut(mediaType, "/")
	best := -1.0 // q of the most specific matching range; -1 = no match
	bestSpecificity := -1
	for _, part := range strings.Split(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		rt, rs, _ := strings.Cut(mt, "/")
		specificity := -1
		switch {
		case rt == typ && rs == sub:
			specificity = 2
		case rt == typ && rs == "*":
			specificity = 1
		case rt == "*" && rs == "*":
			specificity = 0
		}
		if specificity > bestSpecificity {
			best, bestSpecificity = q, specificity
		}
	}
	return best > 0
}
