package burrowchild

// A small msgpack codec (https://github.com/msgpack/msgpack/blob/master/spec.md) for the
// values Burrow's protocol carries: nil, bool, integers, floats, str (UTF-8), bin, arrays
// and maps. Decoded maps are map[string]interface{} (other keys are printed with %v),
// integers int64 (uint64 above MaxInt64), floats float64.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"unicode/utf8"
)

const maxDepth = 512

func encode(buf []byte, v interface{}) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(buf, 0xc0), nil
	case bool:
		if x {
			return append(buf, 0xc3), nil
		}
		return append(buf, 0xc2), nil
	case int:
		return encodeInt(buf, int64(x)), nil
	case int8:
		return encodeInt(buf, int64(x)), nil
	case int16:
		return encodeInt(buf, int64(x)), nil
	case int32:
		return encodeInt(buf, int64(x)), nil
	case int64:
		return encodeInt(buf, x), nil
	case uint8:
		return encodeUint(buf, uint64(x)), nil
	case uint16:
		return encodeUint(buf, uint64(x)), nil
	case uint32:
		return encodeUint(buf, uint64(x)), nil
	case uint:
		return encodeUint(buf, uint64(x)), nil
	case uint64:
		return encodeUint(buf, x), nil
	case float32:
		return encodeFloat(buf, float64(x)), nil
	case float64:
		return encodeFloat(buf, x), nil
	case string:
		return encodeStr(buf, x), nil
	case []byte:
		n := len(x)
		switch {
		case n < 1<<8:
			buf = append(buf, 0xc4, byte(n))
		case n < 1<<16:
			buf = append(buf, 0xc5)
			buf = binary.BigEndian.AppendUint16(buf, uint16(n))
		default:
			buf = append(buf, 0xc6)
			buf = binary.BigEndian.AppendUint32(buf, uint32(n))
		}
		return append(buf, x...), nil
	case []string:
		buf = arrayHeader(buf, len(x))
		for _, s := range x {
			buf = encodeStr(buf, s)
		}
		return buf, nil
	case []interface{}:
		buf = arrayHeader(buf, len(x))
		var err error
		for _, e := range x {
			if buf, err = encode(buf, e); err != nil {
				return nil, err
			}
		}
		return buf, nil
	case map[string]string:
		buf = mapHeader(buf, len(x))
		for _, k := range sortedKeys(x) {
			buf = encodeStr(encodeStr(buf, k), x[k])
		}
		return buf, nil
	case map[string]interface{}:
		buf = mapHeader(buf, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var err error
		for _, k := range keys {
			if buf, err = encode(encodeStr(buf, k), x[k]); err != nil {
				return nil, err
			}
		}
		return buf, nil
	}
	return nil, fmt.Errorf("msgpack: cannot encode a %T", v)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func encodeInt(buf []byte, i int64) []byte {
	if i >= 0 {
		return encodeUint(buf, uint64(i))
	}
	switch {
	case i >= -32:
		return append(buf, byte(i))
	case i >= math.MinInt8:
		return append(buf, 0xd0, byte(i))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(buf, 0xd1), uint16(i))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(buf, 0xd2), uint32(i))
	}
	return binary.BigEndian.AppendUint64(append(buf, 0xd3), uint64(i))
}

func encodeUint(buf []byte, u uint64) []byte {
	switch {
	case u < 128:
		return append(buf, byte(u))
	case u < 1<<8:
		return append(buf, 0xcc, byte(u))
	case u < 1<<16:
		return binary.BigEndian.AppendUint16(append(buf, 0xcd), uint16(u))
	case u < 1<<32:
		return binary.BigEndian.AppendUint32(append(buf, 0xce), uint32(u))
	}
	return binary.BigEndian.AppendUint64(append(buf, 0xcf), u)
}

func encodeFloat(buf []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(buf, 0xcb), math.Float64bits(f))
}

func encodeStr(buf []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // invalid bytes become U+FFFD: the protocol refuses invalid UTF-8
	}
	n := len(s)
	switch {
	case n < 32:
		buf = append(buf, 0xa0|byte(n))
	case n < 1<<8:
		buf = append(buf, 0xd9, byte(n))
	case n < 1<<16:
		buf = binary.BigEndian.AppendUint16(append(buf, 0xda), uint16(n))
	default:
		buf = binary.BigEndian.AppendUint32(append(buf, 0xdb), uint32(n))
	}
	return append(buf, s...)
}

func arrayHeader(buf []byte, n int) []byte {
	switch {
	case n < 16:
		return append(buf, 0x90|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(buf, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(buf, 0xdd), uint32(n))
}

func mapHeader(buf []byte, n int) []byte {
	switch {
	case n < 16:
		return append(buf, 0x80|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(buf, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(buf, 0xdf), uint32(n))
}

// decoder reads msgpack values; `left` is how many more bytes the current message may take
// (the size limit, checked before anything is allocated).
type decoder struct {
	r    *bufio.Reader
	left int
}

var errDepth = errors.New("msgpack: nesting too deep")

var errTooLarge = errors.New("a message exceeds the size limit")

func (d *decoder) take(size int) error {
	if size < 0 || size > d.left {
		return errTooLarge
	}
	d.left -= size
	return nil
}

func (d *decoder) n(size int) ([]byte, error) {
	if err := d.take(size); err != nil {
		return nil, err
	}
	b := make([]byte, size)
	_, err := io.ReadFull(d.r, b)
	return b, err
}

func (d *decoder) uint(size int) (uint64, error) {
	b, err := d.n(size)
	if err != nil {
		return 0, err
	}
	var u uint64
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return u, nil
}

func (d *decoder) decode(depth int) (interface{}, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	c, err := d.r.ReadByte()
	if err != nil {
		return nil, err
	}
	if err := d.take(1); err != nil {
		return nil, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c&0xf0 == 0x80:
		return d.mapOf(int(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return d.arrayOf(int(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return d.str(int(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return nil, err
		}
		return d.n(int(n))
	case 0xca:
		u, err := d.uint(4)
		return float64(math.Float32frombits(uint32(u))), err
	case 0xcb:
		u, err := d.uint(8)
		return math.Float64frombits(u), err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.uint(1 << (c - 0xcc))
		if u > math.MaxInt64 {
			return u, err
		}
		return int64(u), err
	case 0xd0:
		u, err := d.uint(1)
		return int64(int8(u)), err
	case 0xd1:
		u, err := d.uint(2)
		return int64(int16(u)), err
	case 0xd2:
		u, err := d.uint(4)
		return int64(int32(u)), err
	case 0xd3:
		u, err := d.uint(8)
		return int64(u), err
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return nil, err
		}
		return d.str(int(n))
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.arrayOf(int(n), depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapOf(int(n), depth)
	}
	return nil, fmt.Errorf("msgpack: unsupported type byte 0x%02x", c)
}

func (d *decoder) str(n int) (interface{}, error) {
	b, err := d.n(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, errors.New("msgpack: invalid UTF-8 in a str")
	}
	return string(b), nil
}

func (d *decoder) arrayOf(n int, depth int) (interface{}, error) {
	out := make([]interface{}, 0, min(n, 1024))
	for i := 0; i < n; i++ {
		v, err := d.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *decoder) mapOf(n int, depth int) (interface{}, error) {
	out := make(map[string]interface{}, min(n, 1024))
	for i := 0; i < n; i++ {
		k, err := d.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		if s, ok := k.(string); ok {
			out[s] = v
		} else {
			out[fmt.Sprint(k)] = v
		}
	}
	return out, nil
}
