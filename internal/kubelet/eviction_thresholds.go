package kubelet

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Threshold is one hard eviction threshold: the signal is under pressure when
// its available amount drops below Quantity, or below Percentage of its capacity.
type Threshold struct {
	Signal     Signal
	Quantity   *resource.Quantity
	Percentage float64 // 0..1, used when Quantity is nil
}

// DefaultEvictionHard are upstream's Linux defaults for the signals Skiff
// measures. Upstream sets no pid.available default, and neither do we.
var DefaultEvictionHard = map[string]string{
	string(SignalMemoryAvailable): "100Mi",
	string(SignalNodeFsAvailable): "10%",
}

// ParseEvictionHard parses upstream's --eviction-hard flag syntax,
// "memory.available<100Mi,nodefs.available<10%", into the config map form
// (signal -> value) that Config.EvictionHard takes.
func ParseEvictionHard(flag string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(flag, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		signal, value, ok := strings.Cut(part, "<")
		if !ok {
			return nil, fmt.Errorf("eviction threshold %q: only the < operator is supported", part)
		}
		out[strings.TrimSpace(signal)] = strings.TrimSpace(value)
	}
	if _, err := parseThresholds(out); err != nil {
		return nil, err
	}
	return out, nil
}

// parseThresholds validates the config map. Unknown signals are errors so a
// typo does not silently disable eviction; a value of "0%" or "0" disables
// that signal, as upstream documents.
func parseThresholds(m map[string]string) ([]Threshold, error) {
	var out []Threshold
	for name, value := range m {
		s := Signal(name)
		switch s {
		case SignalMemoryAvailable, SignalNodeFsAvailable, SignalPIDAvailable:
		default:
			return nil, fmt.Errorf("eviction signal %q is not supported (memory.available, nodefs.available, pid.available)", name)
		}
		t := Threshold{Signal: s}
		if pct, ok := strings.CutSuffix(value, "%"); ok {
			f, err := strconv.ParseFloat(pct, 64)
			if err != nil || f < 0 || f > 100 {
				return nil, fmt.Errorf("eviction threshold %s<%s: bad percentage", name, value)
			}
			if f == 0 {
				continue
			}
			t.Percentage = f / 100
		} else {
			q, err := resource.ParseQuantity(value)
			if err != nil || q.Sign() < 0 {
				return nil, fmt.Errorf("eviction threshold %s<%s: bad quantity", name, value)
			}
			if q.IsZero() {
				continue
			}
			t.Quantity = &q
		}
		out = append(out, t)
	}
	// A fixed order keeps which signal is reclaimed first deterministic.
	sort.Slice(out, func(i, j int) bool { return signalOrder(out[i].Signal) < signalOrder(out[j].Signal) })
	return out, nil
}

func signalOrder(s Signal) int {
	switch s {
	case SignalMemoryAvailable:
		return 0
	case SignalNodeFsAvailable:
		return 1
	}
	return 2
}

// met reports whether o is below the threshold.
func (t Threshold) met(o Observation) bool {
	if t.Quantity != nil {
		return o.Available < t.Quantity.Value()
	}
	return float64(o.Available) < t.Percentage*float64(o.Capacity)
}

func (t Threshold) String() string {
	if t.Quantity != nil {
		return fmt.Sprintf("%s<%s", t.Signal, t.Quantity.String())
	}
	return fmt.Sprintf("%s<%g%%", t.Signal, t.Percentage*100)
}
