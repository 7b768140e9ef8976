package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vbg-museum/vbg/atomicfile"
)

// Epoch is one line of a run's metrics.jsonl: what the training loop measured
// at the end of one epoch. A value that was not measured (no validation split,
// say) should be NaN; plots skip NaN points. Non-finite numbers are written
// as the JSON strings "NaN", "+Inf" and "-Inf" (plain JSON has no such
// numbers) and read back as such, so a diverged loss is still logged.
type Epoch struct {
	// Epoch is the 1-based epoch number.
	Epoch int `json:"epoch"`
	// TrainLoss is the mean training loss over the epoch.
	TrainLoss float64 `json:"train_loss"`
	// ValLoss is the mean validation loss after the epoch.
	ValLoss float64 `json:"val_loss"`
	// ValAccuracy is the validation accuracy after the epoch, a fraction in [0, 1].
	ValAccuracy float64 `json:"val_accuracy"`
	// LR is the learning rate at the end of the epoch.
	LR float64 `json:"lr"`
	// Seconds is the wall time of the epoch.
	Seconds float64 `json:"seconds"`
	// Metrics holds any further scalars, e.g. metrics.Report.Scalars() of the
	// validation set or "train_accuracy" (which PlotAccuracy draws when set).
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// jsonFloat encodes non-finite values as strings.
type jsonFloat float64

// MarshalJSON writes finite values as numbers and NaN/±Inf as strings.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number or one of the strings MarshalJSON writes.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = jsonFloat(math.NaN())
		return nil
	case `"+Inf"`, `"Inf"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	case "null":
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*f = jsonFloat(v)
	return nil
}

// epochWire is Epoch with non-finite-safe floats; its tags match Epoch's.
type epochWire struct {
	Epoch       int                  `json:"epoch"`
	TrainLoss   jsonFloat            `json:"train_loss"`
	ValLoss     jsonFloat            `json:"val_loss"`
	ValAccuracy jsonFloat            `json:"val_accuracy"`
	LR          jsonFloat            `json:"lr"`
	Seconds     jsonFloat            `json:"seconds"`
	Metrics     map[string]jsonFloat `json:"metrics,omitempty"`
}

// MarshalJSON encodes e with the field names of its tags, writing NaN and
// ±Inf as strings.
func (e Epoch) MarshalJSON() ([]byte, error) {
	w := epochWire{
		Epoch:       e.Epoch,
		TrainLoss:   jsonFloat(e.TrainLoss),
		ValLoss:     jsonFloat(e.ValLoss),
		ValAccuracy: jsonFloat(e.ValAccuracy),
		LR:          jsonFloat(e.LR),
		Seconds:     jsonFloat(e.Seconds),
	}
	if len(e.Metrics) > 0 {
		w.Metrics = make(map[string]jsonFloat, len(e.Metrics))
		for k, v := range e.Metrics {
			w.Metrics[k] = jsonFloat(v)
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON writes; absent fields stay zero.
func (e *Epoch) UnmarshalJSON(b []byte) error {
	var w epochWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Epoch{
		Epoch:       w.Epoch,
		TrainLoss:   float64(w.TrainLoss),
		ValLoss:     float64(w.ValLoss),
		ValAccuracy: float64(w.ValAccuracy),
		LR:          float64(w.LR),
		Seconds:     float64(w.Seconds),
	}
	if len(w.Metrics) > 0 {
		e.Metrics = make(map[string]float64, len(w.Metrics))
		for k, v := range w.Metrics {
			e.Metrics[k] = float64(v)
		}
	}
	return nil
}

// AppendMetricsJSONL appends e as one JSON line to the file at path (created
// if missing) and fsyncs it before returning, so a record that was appended
// survives a crash. The line is written with a single write call; an
// incomplete last line left by an earlier interrupted write is removed first.
// When the file is created, its directory is fsynced too.
func AppendMetricsJSONL(path string, e Epoch) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("report: encode epoch %d: %w", e.Epoch, err)
	}
	line = append(line, '\n')

	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("report: append metrics: %w", err)
	}
	end, err := dropTornLine(f)
	if err == nil {
		_, err = f.WriteAt(line, end)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("report: append metrics to %s: %w", path, err)
	}
	if created {
		if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("report: append metrics to %s: %w", path, err)
		}
	}
	return nil
}

// dropTornLine truncates f after its last newline when the file does not end
// with one, and returns the offset where the next line goes.
func dropTornLine(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, size-1); err != nil {
		return 0, err
	}
	if last[0] == '\n' {
		return size, nil
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil {
		return 0, err
	}
	keep := int64(bytes.LastIndexByte(data, '\n') + 1)
	if err := f.Truncate(keep); err != nil {
		return 0, err
	}
	return keep, nil
}

// ReadMetricsJSONL reads every Epoch of a metrics.jsonl file in file order.
// Blank lines are skipped. A last line without its newline that does not
// parse is the remains of an interrupted append and is ignored; any other
// malformed line is an error naming its line number.
func ReadMetricsJSONL(path string) ([]Epoch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: read metrics: %w", err)
	}
	defer f.Close()
	epochs, err := readEpochs(f)
	if err != nil {
		return nil, fmt.Errorf("report: read metrics %s: %w", path, err)
	}
	return epochs, nil
}

func readEpochs(r io.Reader) ([]Epoch, error) {
	br := bufio.NewReader(r)
	var epochs []Epoch
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		complete := err == nil
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			var e Epoch
			if uerr := json.Unmarshal(trimmed, &e); uerr != nil {
				if !complete {
					break // torn final line
				}
				return nil, fmt.Errorf("line %d: %w", lineNo, uerr)
			}
			epochs = append(epochs, e)
		}
		if !complete {
			break
		}
	}
	return epochs, nil
}
