package asterix

import "fmt"

// ScanBlocks is a bufio.SplitFunc that cuts a byte stream (ASTERIX over
// TCP, or a recording of concatenated blocks) into data blocks: each token
// is one whole block, header included, ready for Decode. A LEN below 3
// makes the stream unusable and stops the scan with ErrBadLength; a stream
// that ends inside a block stops it with ErrTruncated. The Scanner's default
// 64 KiB buffer holds the largest block.
func ScanBlocks(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if len(data) >= 3 {
		n := int(data[1])<<8 | int(data[2])
		if n < 3 {
			return 0, nil, fmt.Errorf("data block LEN %d: %w", n, ErrBadLength)
		}
		if len(data) >= n {
			return n, data[:n], nil
		}
	}
	if atEOF && len(data) > 0 {
		return 0, nil, fmt.Errorf("stream ends inside a data block (%d octets): %w", len(data), ErrTruncated)
	}
	return 0, nil, nil
}
