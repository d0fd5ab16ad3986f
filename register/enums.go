package register

import "github.com/metasurv/metasurv/internal/enumtext"

// The enums a user names on a command line or in a configuration file
// (metric, transform kind, optimizer, initialisation) implement
// encoding.TextMarshaler and encoding.TextUnmarshaler: flag.TextVar,
// encoding/json and YAML decoders read them by name, case-insensitively,
// and write the canonical name String returns.

var (
	metricNames    = []string{MattesMI: "MattesMI|mattes|mi", NMI: "NMI", NCC: "NCC", MSE: "MSE"}
	kindNames      = []string{KindRigid: "rigid", KindSimilarity: "similarity", KindAffine: "affine"}
	optimizerNames = []string{RegularStep: "RegularStep|regular", LBFGS: "LBFGS"}
	initNames      = []string{InitCenters: "centers", InitMoments: "moments", InitIdentity: "identity"}
)

// String returns "MattesMI", "NMI", "NCC" or "MSE".
func (m Metric) String() string { return enumtext.String(int(m), metricNames, "Metric") }

// MarshalText returns the name String gives; an unknown metric is an error.
func (m Metric) MarshalText() ([]byte, error) {
	return enumtext.Marshal(int(m), metricNames, "metric", ErrInput)
}

// UnmarshalText parses a metric name, in any case; "mattes" and "mi" also
// name MattesMI.
func (m *Metric) UnmarshalText(b []byte) error {
	return enumtext.Set(m, b, metricNames, "metric", ErrInput)
}

// String returns "rigid", "similarity" or "affine".
func (k Kind) String() string { return enumtext.String(int(k), kindNames, "Kind") }

// MarshalText returns the name String gives; an unknown kind is an error.
func (k Kind) MarshalText() ([]byte, error) {
	return enumtext.Marshal(int(k), kindNames, "transform kind", ErrInput)
}

// UnmarshalText parses "rigid", "similarity" or "affine" (any case).
func (k *Kind) UnmarshalText(b []byte) error {
	return enumtext.Set(k, b, kindNames, "transform kind", ErrInput)
}

// String returns "RegularStep" or "LBFGS".
func (o Optimizer) String() string { return enumtext.String(int(o), optimizerNames, "Optimizer") }

// MarshalText returns the name String gives; an unknown optimizer is an
// error.
func (o Optimizer) MarshalText() ([]byte, error) {
	return enumtext.Marshal(int(o), optimizerNames, "optimizer", ErrInput)
}

// UnmarshalText parses "RegularStep" (or "regular") or "LBFGS", in any case.
func (o *Optimizer) UnmarshalText(b []byte) error {
	return enumtext.Set(o, b, optimizerNames, "optimizer", ErrInput)
}

// String returns "centers", "moments" or "identity".
func (i Init) String() string { return enumtext.String(int(i), initNames, "Init") }

// MarshalText returns the name String gives; an unknown initialisation is
// an error.
func (i Init) MarshalText() ([]byte, error) {
	return enumtext.Marshal(int(i), initNames, "initialisation", ErrInput)
}

// UnmarshalText parses "centers", "moments" or "identity" (any case).
func (i *Init) UnmarshalText(b []byte) error {
	return enumtext.Set(i, b, initNames, "initialisation", ErrInput)
}
