// Package checkpoint reads and writes model weights: PyTorch .pt/.pth
// checkpoints and safetensors files, as state dicts (map from PyTorch/MONAI
// parameter names to nn.Tensor).
//
// # Entry points
//
// Load (a path) and Read (an io.ReaderAt) read every supported format,
// detecting it from the first bytes as image.Decode does; Save (a path,
// atomically, format from the extension or SaveOptions.Format) and Write
// (an io.Writer) write torch zip or safetensors files. LoadInto and
// ReadInto stream a checkpoint straight into a module's parameters.
//
// The readers take a context.Context first: a large checkpoint takes
// seconds to read (the 2 GB LaMIM file 4–16 s), so ctx is checked between
// tensors and every 4 MB read, and a cancelled load returns an error
// wrapping ctx.Err() (errors.Is(err, context.Canceled)).
//
// # PyTorch
//
// Load understands both torch.save formats: the zip archive written
// since PyTorch 1.6 (<name>/data.pkl, <name>/data/<key> storages, optional
// byteorder record) and the legacy stream written before (magic number,
// protocol 1001, sys_info, the object, the storage keys, raw storages) —
// MedicalNet's released weights use the latter. The pickle is run by a
// restricted machine that executes nothing: protocols 2 to 5, the opcodes
// of plain data, and GLOBAL only for collections.OrderedDict,
// torch._utils._rebuild_tensor(_v2), torch._utils._rebuild_parameter(
// _with_state), torch.Size, the torch.*Storage types and _codecs.encode.
// Any other global (a pickled module class, os.system, ...) or opcode is
// an error that names it.
//
// Tensors are materialised from (storage, offset, size, stride), so views,
// permuted and expanded tensors come out right, in C order. Floating types
// become float32: float32 is copied bit for bit, float16 and bfloat16
// convert exactly, float64 rounds to nearest. Integer and boolean tensors
// (BatchNorm's num_batches_tracked) appear in Checkpoint.Tensors converted
// to float32, so strict loading sees every key torch does, and exactly in
// Checkpoint.Ints. Checkpoint.DTypes records the stored types.
//
// A file may hold the state dict itself or a dict wrapping it (MedicalNet:
// {"state_dict": ...}; others "model", "net", ...): Options.Key selects
// the entry, or it is found automatically; the wrapper's other plain
// entries land in Checkpoint.Meta. Options.StripPrefix = "module." undoes
// DataParallel naming.
//
// Save and Write with FormatTorchZip write float32 state dicts in torch.save's zip format
// (records aligned to 64 bytes, pickle protocol 2), so weights trained
// here load in PyTorch with torch.load(weights_only=True).
//
// # Safetensors
//
// Safetensors files hold F32, F64, F16, BF16, I64, I32, I16, I8, U8 and
// BOOL tensors; the reader checks that every tensor's offsets lie inside
// the data, match its shape and type, and do not overlap. FormatSafetensors
// writes
// float32 tensors in sorted name order with the header padded to 8 bytes,
// as the reference implementation does; it is the library's own format.
//
// # Safety
//
// Load and Read detect the format from the first bytes. Corrupt, truncated
// or hostile files give errors, never panics or huge allocations: sizes are
// checked against the file before anything is allocated, the pickle
// machine bounds its stack, memo and integers, tensor views must lie inside
// their storages and only the bytes they reach are read, error messages
// describe file values in bounded space, and Options.MaxBytes is one memory
// budget for everything a load holds (the unpickler's values, storages
// being converted, the output), checked before each allocation. Errors wrap
// ErrFormat (not a checkpoint, corrupt; ErrPickle for the pickle stream,
// ErrChecksum for a damaged zip entry), ErrTooLarge (over
// Options.MaxBytes) or ErrInput (Save/Write of an invalid state dict), for
// errors.Is.
//
// # Integrity
//
// Weights damaged on disk or in transfer must not load silently. A torch
// zip archive records the CRC-32 of every entry in its central directory;
// the readers check it for every entry they consume (data.pkl, the
// byteorder record, every storage a loaded tensor uses), hashing the bytes
// as they are read, and refuse a mismatch with ErrChecksum naming the
// entry and the tensors stored in it. Storages are verified whole even
// when their views reach only a part (the rest is read through the hash
// in 1 MB pieces and dropped). The names of the entries outside data/ are
// compared with their local headers, as the central directory itself has
// no checksum. Hashing runs at about 16 GB/s (hash/crc32 uses the
// carry-less multiply instructions); with the file in the page cache it
// makes Load about a quarter slower (a 210 MB file: 68 → 85 ms). LoadInto
// verifies every storage before it copies the first byte into the module,
// so a damaged archive leaves the module as it was; that costs one extra
// sequential read of the weights, about doubling LoadInto when the file is
// in the page cache (20 → 40 ms for 210 MB) and adding little when it
// comes from disk, as the second read then hits the cache.
//
// The legacy torch format and safetensors carry no checksum: damage inside
// their tensor data cannot be detected and loads as wrong values. Damage
// to their structure (the pickle, the header) is still refused. Keep a
// digest (e.g. SHA-256) beside such files when that matters, or convert
// them with Save to the zip format.
package checkpoint
