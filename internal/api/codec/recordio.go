package codec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"
)

// MaxRecordSize bounds one RecordIO record a Reader accepts.
const MaxRecordSize = 64 << 20

// ErrRecordTooLarge is returned for records over the Reader's limit.
var ErrRecordTooLarge = errors.New("recordio: record too large")

// RecordIOWriter writes each message as one RecordIO record
// ("<length>\n<bytes>") and flushes it when the writer can.
type RecordIOWriter struct {
	w     io.Writer
	codec Codec
	buf   []byte
}

// NewRecordIOWriter frames messages encoded with c onto w.
func NewRecordIOWriter(w io.Writer, c Codec) *RecordIOWriter {
	return &RecordIOWriter{w: w, codec: c}
}

// Write encodes and frames m, then flushes if w is an http.Flusher.
func (rw *RecordIOWriter) Write(m proto.Message) error {
	data, err := rw.codec.Marshal(m)
	if err != nil {
		return err
	}
	return rw.WriteRecord(data)
}

// WriteRecord frames raw bytes.
func (rw *RecordIOWriter) WriteRecord(data []byte) error {
	rw.buf = strconv.AppendInt(rw.buf[:0], int64(len(data)), 10)
	rw.buf = append(rw.buf, '\n')
	rw.buf = append(rw.buf, data...)
	if _, err := rw.w.Write(rw.buf); err != nil {
		return err
	}
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// RecordIOReader reads RecordIO records.
type RecordIOReader struct {
	r     *bufio.Reader
	codec Codec
	max   int
}

// NewRecordIOReader reads records from r and decodes them with c.
func NewRecordIOReader(r io.Reader, c Codec) *RecordIOReader {
	return &RecordIOReader{r: bufio.NewReader(r), codec: c, max: MaxRecordSize}
}

// ReadRecord returns the next record's bytes; io.EOF at a clean end.
func (rr *RecordIOReader) ReadRecord() ([]byte, error) {
	header, err := rr.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(header) == 0 {
			return nil, io.EOF
		}
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("recordio: reading length: %w", err)
	}
	n, err := strconv.ParseUint(string(header[:len(header)-1]), 10, 63)
	if err != nil {
		return nil, fmt.Errorf("%w: recordio: bad length prefix %q", ErrMalformed, header)
	}
	if n > uint64(rr.max) {
		return nil, fmt.Errorf("%w: %d bytes", ErrRecordTooLarge, n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(rr.r, data); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("recordio: reading record: %w", err)
	}
	return data, nil
}

// Read decodes the next record into m.
func (rr *RecordIOReader) Read(m proto.Message) error {
	data, err := rr.ReadRecord()
	if err != nil {
		return err
	}
	return rr.codec.Unmarshal(data, m)
}
