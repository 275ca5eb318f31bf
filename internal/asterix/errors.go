package asterix

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them, so
// callers can branch with errors.Is.
var (
	// ErrTruncated means the input ended before a length announced by the
	// data (block header, FSPEC, item) was complete.
	ErrTruncated = errors.New("asterix: truncated")
	// ErrBadLength means a length field is impossible: a data block LEN
	// smaller than its own header, an explicit item length of zero, a
	// repetition factor of zero. (A LEN beyond the end of the datagram is
	// ErrTruncated.)
	ErrBadLength = errors.New("asterix: bad length")
	// ErrUnknownCategory means a data block carries a category this package
	// has no User Application Profile for. The block itself is well framed
	// and has been skipped.
	ErrUnknownCategory = errors.New("asterix: unknown category")
	// ErrUnknownItem means an FSPEC or compound primary subfield selects a
	// slot that the UAP marks spare or does not define, so its length
	// cannot be known.
	ErrUnknownItem = errors.New("asterix: unknown item")
	// ErrMalformed means the structure is inconsistent in another way, for
	// example a record whose FSPEC selects no item.
	ErrMalformed = errors.New("asterix: malformed")
)
