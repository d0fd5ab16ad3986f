package checkpoint

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
)

// Limits of the restricted unpickler. Real state dicts stay far below them;
// they exist so hostile input cannot exhaust memory.
const (
	maxStack     = 1 << 20 // values on the stack plus marks
	maxMemo      = 1 << 22 // memo entries
	maxLongBytes = 1 << 10 // bytes of one LONG1/LONG4 integer
	maxDepth     = 64      // nesting depth when converting values to Go
)

// Python values produced by the unpickler.
type (
	pyTuple []any
	pyList  struct{ items []any }
	// pyDict keeps insertion order, as Python dicts and OrderedDict do.
	pyDict struct {
		keys  []any
		vals  []any
		index map[any]int
		attrs any // state set by BUILD (state_dict's _metadata), ignored
	}
	pyGlobal struct{ module, name string }
	// pyOpaque stands for an object built from a global outside the
	// allow-list when Options.AllowUnknownGlobals is set. It is never
	// called; it only lets the rest of the pickle load.
	pyOpaque struct{ name string }
	// pyBytes distinguishes Python bytes from str.
	pyBytes []byte
	// markT is the MARK sentinel on the stack.
	markT struct{}
)

var mark = &markT{}

func newDict() *pyDict { return &pyDict{index: map[any]int{}} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, float64, nil:
	default:
		return fmt.Errorf("%w: unsupported dictionary key type %T", ErrPickle, k)
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// unpickler is a pickle virtual machine for the subset of protocols 2-5
// that torch.save emits for state dicts. It never imports or calls
// anything: GLOBAL only resolves names on an allow-list, and REDUCE only
// applies the few constructors torch state dicts need.
type unpickler struct {
	r       *bufio.Reader
	pos     int64 // bytes consumed
	limit   int64 // bytes available in the source
	stack   []any
	marks   []int
	memo    map[int64]any
	persist func(pid any) (any, error)
	// opaque makes unknown globals inert placeholders instead of errors.
	opaque  bool
	opPos   int64   // position of the current opcode, for messages
	scratch [8]byte // integer arguments
	// mem, when set, is charged for every value the machine builds (never
	// refunded: what it builds stays reachable until the load ends), so a
	// list or memo bomb is refused at the caller's budget.
	mem *budget
}

// Approximate bytes of the values the machine builds, for the budget.
const (
	costValue = 32 // a stack slot and a boxed value
	costItem  = 32 // one element of a list, tuple or dict (with growth slack)
)

// charge reserves n bytes of the budget for what the current opcode builds.
func (u *unpickler) charge(n int64) error {
	if u.mem == nil {
		return nil
	}
	if err := u.mem.take(n, "the pickle's values"); err != nil {
		return fmt.Errorf("%w (opcode at byte %d)", err, u.opPos)
	}
	return nil
}

func newUnpickler(r io.Reader, size int64, persist func(any) (any, error)) *unpickler {
	return &unpickler{r: bufio.NewReaderSize(r, int(min(max(size, 16), 1<<16))), limit: size, memo: map[int64]any{}, persist: persist}
}

func (u *unpickler) errf(op byte, format string, args ...any) error {
	return fmt.Errorf("%w: opcode %s at byte %d: %s", ErrPickle, opName(op), u.opPos, fmt.Sprintf(format, args...))
}

func (u *unpickler) readByte() (byte, error) {
	b, err := u.r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("%w: truncated stream at byte %d", ErrPickle, u.pos)
	}
	u.pos++
	return b, nil
}

// read returns the next n bytes; n is checked against the bytes left in
// the source before anything is allocated.
func (u *unpickler) read(n int64) ([]byte, error) {
	if n < 0 || n > u.limit-u.pos {
		return nil, fmt.Errorf("%w: length %d at byte %d exceeds the %d bytes left", ErrPickle, n, u.pos, u.limit-u.pos)
	}
	if err := u.charge(n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(u.r, b); err != nil {
		return nil, fmt.Errorf("%w: truncated stream at byte %d", ErrPickle, u.pos)
	}
	u.pos += n
	return b, nil
}

func (u *unpickler) uint(n int) (uint64, error) {
	b := u.scratch[:n]
	if _, err := io.ReadFull(u.r, b); err != nil {
		return 0, fmt.Errorf("%w: truncated stream at byte %d", ErrPickle, u.pos)
	}
	u.pos += int64(n)
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (u *unpickler) push(v any) error {
	if len(u.stack)+len(u.marks) >= maxStack {
		return fmt.Errorf("%w: stack deeper than %d", ErrPickle, maxStack)
	}
	if err := u.charge(costValue); err != nil {
		return err
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, fmt.Errorf("%w: stack underflow at byte %d", ErrPickle, u.pos)
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, fmt.Errorf("%w: stack underflow at byte %d", ErrPickle, u.pos)
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and removes them.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, fmt.Errorf("%w: no MARK on the stack at byte %d", ErrPickle, u.pos)
	}
	m := u.marks[len(u.marks)-1]
	if err := u.charge(int64(len(u.stack)-m) * costItem); err != nil {
		return nil, err
	}
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(i int64) error {
	if len(u.memo) >= maxMemo {
		return fmt.Errorf("%w: more than %d memo entries", ErrPickle, maxMemo)
	}
	if err := u.charge(2 * costItem); err != nil {
		return err
	}
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

func (u *unpickler) memoGet(i int64) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("%w: memo key %d not defined at byte %d", ErrPickle, i, u.pos)
	}
	return u.push(v)
}

// load runs the machine until STOP and returns the object.
func (u *unpickler) load() (any, error) {
	u.stack, u.marks, u.memo = u.stack[:0], u.marks[:0], map[int64]any{}
	for {
		u.opPos = u.pos
		op, err := u.readByte()
		if err != nil {
			return nil, err
		}
		if op == '.' { // STOP
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			return v, nil
		}
		if err := u.step(op); err != nil {
			return nil, err
		}
	}
}

func (u *unpickler) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		p, err := u.readByte()
		if err != nil {
			return err
		}
		if p < 2 || p > 5 {
			return u.errf(op, "unsupported pickle protocol %d (want 2 to 5)", p)
		}
		return nil
	case 0x95: // FRAME: the frame length is only a buffering hint
		_, err := u.uint(8)
		return err
	case '(': // MARK
		if len(u.stack)+len(u.marks) >= maxStack {
			return fmt.Errorf("%w: stack deeper than %d", ErrPickle, maxStack)
		}
		u.marks = append(u.marks, len(u.stack))
		return nil
	case '0': // POP
		_, err := u.pop()
		return err
	case '1': // POP_MARK
		_, err := u.popMark()
		return err
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return err
		}
		return u.push(v)
	case 'N':
		return u.push(nil)
	case 0x88:
		return u.push(true)
	case 0x89:
		return u.push(false)
	case 'J', 'K', 'M': // BININT, BININT1, BININT2
		n := argWidth(op)
		v, err := u.uint(n)
		if err != nil {
			return err
		}
		if op == 'J' {
			return u.push(int64(int32(uint32(v))))
		}
		return u.push(int64(v))
	case 0x8a, 0x8b: // LONG1, LONG4
		return u.long(op)
	case 'G': // BINFLOAT, big-endian
		b, err := u.read(8)
		if err != nil {
			return err
		}
		return u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'X', 0x8c, 0x8d, 'T', 'U': // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING
		return u.text(op)
	case 'B', 'C', 0x8e: // BINBYTES, SHORT_BINBYTES, BINBYTES8
		n := argWidth(op)
		l, err := u.uint(n)
		if err != nil {
			return err
		}
		if l > math.MaxInt64 {
			return u.errf(op, "length %d too large", l)
		}
		b, err := u.read(int64(l))
		if err != nil {
			return err
		}
		return u.push(pyBytes(b))
	case ')':
		return u.push(pyTuple{})
	case 't':
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(pyTuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		if len(u.stack) < n || (len(u.marks) > 0 && len(u.stack)-n < u.marks[len(u.marks)-1]) {
			return u.errf(op, "stack underflow")
		}
		if err := u.charge(int64(n) * costItem); err != nil {
			return err
		}
		t := append(pyTuple(nil), u.stack[len(u.stack)-n:]...)
		u.stack = u.stack[:len(u.stack)-n]
		return u.push(t)
	case ']':
		return u.push(&pyList{})
	case 'l': // LIST
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.push(&pyList{items: items})
	case 'a', 'e': // APPEND, APPENDS
		return u.appends(op)
	case '}':
		return u.push(newDict())
	case 'd': // DICT
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := newDict()
		if err := setPairs(d, items); err != nil {
			return err
		}
		return u.push(d)
	case 's', 'u': // SETITEM, SETITEMS
		return u.setItems(op)
	case 'c': // GLOBAL "module\nname\n"
		mod, err := u.line()
		if err != nil {
			return err
		}
		name, err := u.line()
		if err != nil {
			return err
		}
		return u.global(mod, name)
	case 0x93: // STACK_GLOBAL
		name, err1 := u.pop()
		mod, err2 := u.pop()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return u.errf(op, "STACK_GLOBAL needs two strings, got %T and %T", mod, name)
		}
		return u.global(ms, ns)
	case 'R': // REDUCE
		args, err1 := u.pop()
		fn, err2 := u.pop()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		t, ok := args.(pyTuple)
		if !ok {
			return u.errf(op, "REDUCE arguments must be a tuple, got %T", args)
		}
		v, err := reduce(fn, t)
		if err != nil {
			return fmt.Errorf("%w at byte %d", err, u.pos)
		}
		return u.push(v)
	case 0x81: // NEWOBJ
		args, err1 := u.pop()
		cls, err2 := u.pop()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		t, ok := args.(pyTuple)
		if !ok {
			return u.errf(op, "NEWOBJ arguments must be a tuple, got %T", args)
		}
		v, err := reduce(cls, t)
		if err != nil {
			return err
		}
		return u.push(v)
	case 'b': // BUILD
		state, err := u.pop()
		if err != nil {
			return err
		}
		obj, err := u.top()
		if err != nil {
			return err
		}
		return build(obj, state)
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return err
		}
		if u.persist == nil {
			return u.errf(op, "persistent id without a storage source")
		}
		v, err := u.persist(pid)
		if err != nil {
			return err
		}
		return u.push(v)
	case 'h', 'j': // BINGET, LONG_BINGET
		i, err := u.uint(argWidth(op))
		if err != nil {
			return err
		}
		return u.memoGet(int64(i))
	case 'q', 'r': // BINPUT, LONG_BINPUT
		i, err := u.uint(argWidth(op))
		if err != nil {
			return err
		}
		return u.memoPut(int64(i))
	case 0x94: // MEMOIZE
		return u.memoPut(int64(len(u.memo)))
	}
	return u.errf(op, "not supported by the restricted unpickler")
}

// argWidth is the byte width of an opcode's integer or length argument.
func argWidth(op byte) int {
	switch op {
	case 'K', 'C', 'h', 'q', 0x8c, 'U', 0x8a:
		return 1
	case 'M':
		return 2
	case 0x8d, 0x8e, 0x95:
		return 8
	}
	return 4 // 'J', 'B', 'X', 'T', 'j', 'r', 0x8b
}

// opNames names the pickle opcodes for error messages.
var opNames = map[byte]string{
	0x80: "PROTO", 0x95: "FRAME", '.': "STOP", '(': "MARK", '0': "POP", '1': "POP_MARK",
	'2': "DUP", 'N': "NONE", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 'J': "BININT",
	'K': "BININT1", 'M': "BININT2", 0x8a: "LONG1", 0x8b: "LONG4", 'G': "BINFLOAT",
	'X': "BINUNICODE", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 'T': "BINSTRING",
	'U': "SHORT_BINSTRING", 'B': "BINBYTES", 'C': "SHORT_BINBYTES", 0x8e: "BINBYTES8",
	')': "EMPTY_TUPLE", 't': "TUPLE", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
	']': "EMPTY_LIST", 'l': "LIST", 'a': "APPEND", 'e': "APPENDS", '}': "EMPTY_DICT",
	'd': "DICT", 's': "SETITEM", 'u': "SETITEMS", 'c': "GLOBAL", 0x93: "STACK_GLOBAL",
	'R': "REDUCE", 0x81: "NEWOBJ", 'b': "BUILD", 'Q': "BINPERSID", 'h': "BINGET",
	'j': "LONG_BINGET", 'q': "BINPUT", 'r': "LONG_BINPUT", 0x94: "MEMOIZE",
	// Not supported by the restricted machine:
	'i': "INST", 'o': "OBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
	0x92: "NEWOBJ_EX", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
	0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
	'P': "PERSID", 'I': "INT", 'L': "LONG", 'F': "FLOAT", 'S': "STRING",
	'V': "UNICODE", 'g': "GET", 'p': "PUT",
}

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", op)
}

func (u *unpickler) long(op byte) error {
	n := 1
	if op == 0x8b {
		n = 4
	}
	l, err := u.uint(n)
	if err != nil {
		return err
	}
	if l > maxLongBytes {
		return u.errf(op, "integer of %d bytes exceeds %d", l, maxLongBytes)
	}
	b, err := u.read(int64(l))
	if err != nil {
		return err
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if len(b) > 0 && len(b) < 8 && b[len(b)-1]&0x80 != 0 {
			v |= ^uint64(0) << (8 * len(b)) // sign-extend
		}
		return u.push(int64(v))
	}
	// Two's complement little-endian of arbitrary length.
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return u.push(v.Int64())
	}
	return u.push(v)
}

func (u *unpickler) text(op byte) error {
	n := argWidth(op)
	l, err := u.uint(n)
	if err != nil {
		return err
	}
	if l > math.MaxInt64 {
		return u.errf(op, "length %d too large", l)
	}
	b, err := u.read(int64(l))
	if err != nil {
		return err
	}
	if op == 'T' || op == 'U' {
		// Python 2 str: bytes, decoded as Latin-1 as torch.load does.
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return u.push(string(r))
	}
	return u.push(string(b))
}

// line reads a newline-terminated ASCII name of at most 256 bytes.
func (u *unpickler) line() (string, error) {
	var b []byte
	for len(b) <= 256 {
		c, err := u.readByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return string(b), nil
		}
		b = append(b, c)
	}
	return "", fmt.Errorf("%w: GLOBAL name longer than 256 bytes at byte %d", ErrPickle, u.pos)
}

func (u *unpickler) appends(op byte) error {
	items, err := u.popItems(op == 'a', 1)
	if err != nil {
		return err
	}
	t, err := u.top()
	if err != nil {
		return err
	}
	l, ok := t.(*pyList)
	if !ok {
		return u.errf(op, "APPEND to %s, want a list", typeName(t))
	}
	if err := u.charge(int64(len(items)) * costItem); err != nil {
		return err
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItems(op byte) error {
	items, err := u.popItems(op == 's', 2)
	if err != nil {
		return err
	}
	t, err := u.top()
	if err != nil {
		return err
	}
	d, ok := t.(*pyDict)
	if !ok {
		return u.errf(op, "SETITEM on %s, want a dict", typeName(t))
	}
	if err := u.charge(int64(len(items)) * 2 * costItem); err != nil {
		return err
	}
	return setPairs(d, items)
}

// popItems pops the operands of APPEND/SETITEM (single: the last n stack
// values, in stack order) or of APPENDS/SETITEMS (everything above the
// mark).
func (u *unpickler) popItems(single bool, n int) ([]any, error) {
	if !single {
		return u.popMark()
	}
	items := make([]any, n)
	for i := n - 1; i >= 0; i-- {
		v, err := u.pop()
		if err != nil {
			return nil, err
		}
		items[i] = v
	}
	return items, nil
}

func setPairs(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("%w: odd number of items (%d) for a dict", ErrPickle, len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// allowedGlobals lists every name the unpickler resolves. Anything else is
// refused: a checkpoint that needs it is not a plain state dict.
var allowedGlobals = map[string]bool{
	"collections.OrderedDict":                    true,
	"builtins.dict":                              true,
	"__builtin__.dict":                           true,
	"torch._utils._rebuild_tensor":               true,
	"torch._utils._rebuild_tensor_v2":            true,
	"torch._utils._rebuild_parameter":            true,
	"torch._utils._rebuild_parameter_with_state": true,
	"torch.Size":                                 true,
	"_codecs.encode":                             true,
	"torch._tensor._rebuild_from_type_v2":        true,
	"torch._tensor._rebuild_from_type":           true,
	"torch.Tensor":                               true,
	"torch.nn.parameter.Parameter":               true,
}

// tensorClasses are the classes _rebuild_from_type(_v2) may name.
var tensorClasses = map[string]bool{"torch.Tensor": true, "torch.nn.parameter.Parameter": true}

func (u *unpickler) global(mod, name string) error {
	full := mod + "." + name
	if allowedGlobals[full] {
		return u.push(&pyGlobal{mod, name})
	}
	if mod == "torch" {
		if _, ok := storageDTypes[name]; ok {
			return u.push(&pyGlobal{mod, name})
		}
	}
	if u.opaque {
		return u.push(&pyOpaque{full})
	}
	return fmt.Errorf("%w: global %q is not allowed (a state dict needs only tensors, OrderedDict and primitives)", ErrPickle, full)
}

func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case *pyGlobal:
		return v.module + "." + v.name
	case *pyOpaque:
		return v.name + " (not loaded)"
	}
	return fmt.Sprintf("%T", v)
}

// brief describes a pickle value for an error message in bounded space and
// time: scalars are shown (strings cut to 48 bytes, big integers by their
// size), containers only by kind and length. Hostile pickles nest values
// millions deep, and fmt's %v would recurse through them until the stack
// overflows, a fatal error that recover cannot catch; never format a pickle
// value with %v.
func brief(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool, int64, float64:
		return fmt.Sprint(v)
	case string:
		if len(v) > 48 {
			return fmt.Sprintf("%q… (%d bytes)", v[:48], len(v))
		}
		return fmt.Sprintf("%q", v)
	case *big.Int:
		if v.BitLen() > 64 {
			return fmt.Sprintf("a %d-bit integer", v.BitLen())
		}
		return v.String()
	case pyBytes:
		return fmt.Sprintf("bytes of length %d", len(v))
	case pyTuple:
		return fmt.Sprintf("a tuple of %d items", len(v))
	case *pyList:
		return fmt.Sprintf("a list of %d items", len(v.items))
	case *pyDict:
		return fmt.Sprintf("a dict of %d items", len(v.keys))
	}
	return typeName(v)
}

// briefInts shows a shape or offset list read from a file, cut after 8
// entries.
func briefInts(v []int64) string {
	if len(v) > 8 {
		return fmt.Sprintf("%v… (%d entries)", v[:8], len(v))
	}
	return fmt.Sprint(v)
}

// reduce applies an allowed callable to its arguments.
func reduce(fn any, args pyTuple) (any, error) {
	if o, ok := fn.(*pyOpaque); ok {
		return &pyOpaque{o.name + "(...)"}, nil
	}
	g, ok := fn.(*pyGlobal)
	if !ok {
		return nil, fmt.Errorf("%w: REDUCE on %s, want an allowed global", ErrPickle, typeName(fn))
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict", "builtins.dict", "__builtin__.dict":
		return newOrderedDict(args)
	case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
		return rebuildTensor(args)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(args) < 1 {
			return nil, fmt.Errorf("%w: %s needs a tensor argument", ErrPickle, g.name)
		}
		if _, ok := args[0].(*tensorRef); !ok {
			return nil, fmt.Errorf("%w: %s of %s, want a tensor", ErrPickle, g.name, typeName(args[0]))
		}
		return args[0], nil
	case "torch._tensor._rebuild_from_type_v2", "torch._tensor._rebuild_from_type":
		// (func, type, args[, state]): a tensor whose class or Python
		// attributes torch records separately; only plain Tensor and
		// Parameter classes are accepted, the attributes are dropped.
		if len(args) < 3 {
			return nil, fmt.Errorf("%w: %s needs (func, type, args)", ErrPickle, g.name)
		}
		if c, ok := args[1].(*pyGlobal); !ok || !tensorClasses[c.module+"."+c.name] {
			return nil, fmt.Errorf("%w: %s of class %s, want torch.Tensor or Parameter", ErrPickle, g.name, typeName(args[1]))
		}
		inner, ok := args[2].(pyTuple)
		if !ok {
			return nil, fmt.Errorf("%w: %s arguments are %s, want a tuple", ErrPickle, g.name, typeName(args[2]))
		}
		return reduce(args[0], inner)
	case "torch.Tensor", "torch.nn.parameter.Parameter":
		return nil, fmt.Errorf("%w: %s.%s cannot be called", ErrPickle, g.module, g.name)
	case "torch.Size":
		if len(args) != 1 {
			return nil, fmt.Errorf("%w: torch.Size takes one tuple", ErrPickle)
		}
		t, ok := args[0].(pyTuple)
		if !ok {
			return nil, fmt.Errorf("%w: torch.Size of %s, want a tuple", ErrPickle, typeName(args[0]))
		}
		return t, nil
	case "_codecs.encode":
		// Python 3 bytes pickled with protocol 2: encode(latin1_text, "latin1").
		if len(args) != 2 || args[1] != "latin1" {
			return nil, fmt.Errorf("%w: _codecs.encode supports only (text, 'latin1')", ErrPickle)
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%w: _codecs.encode of %s, want a string", ErrPickle, typeName(args[0]))
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, fmt.Errorf("%w: _codecs.encode: %q is not Latin-1", ErrPickle, r)
			}
			b = append(b, byte(r))
		}
		return pyBytes(b), nil
	}
	return nil, fmt.Errorf("%w: %s.%s cannot be called", ErrPickle, g.module, g.name)
}

func newOrderedDict(args pyTuple) (any, error) {
	d := newDict()
	if len(args) == 0 {
		return d, nil
	}
	if len(args) > 1 {
		return nil, fmt.Errorf("%w: OrderedDict takes at most one argument", ErrPickle)
	}
	var pairs []any
	switch a := args[0].(type) {
	case *pyList:
		pairs = a.items
	case pyTuple:
		pairs = a
	case *pyDict:
		for i := range a.keys {
			if err := d.set(a.keys[i], a.vals[i]); err != nil {
				return nil, err
			}
		}
		return d, nil
	default:
		return nil, fmt.Errorf("%w: OrderedDict of %s, want pairs", ErrPickle, typeName(a))
	}
	for _, p := range pairs {
		var kv []any
		switch p := p.(type) {
		case pyTuple:
			kv = p
		case *pyList:
			kv = p.items
		}
		if len(kv) != 2 {
			return nil, fmt.Errorf("%w: OrderedDict item is not a pair", ErrPickle)
		}
		if err := d.set(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// build handles BUILD: torch uses it to attach _metadata to state dicts
// and, for parameters, to restore attributes; both are kept inert.
func build(obj, state any) error {
	switch o := obj.(type) {
	case *pyDict:
		o.attrs = state
		return nil
	case *tensorRef, *pyOpaque:
		return nil
	}
	return fmt.Errorf("%w: BUILD on %s is not supported", ErrPickle, typeName(obj))
}
