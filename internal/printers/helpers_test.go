package printers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// now is the fixed reference time every test renders against.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

func ptr[T any](v T) *T { return &v }

// row renders one object and returns its row, failing the test on error.
func row(t *testing.T, gk schema.GroupKind, obj runtime.Object) metav1.TableRow {
	t.Helper()
	table, err := Table(gk, []runtime.Object{obj}, metav1.IncludeNone, now)
	if err != nil {
		t.Fatalf("Table(%s): %v", gk, err)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("Table(%s): %d rows, want 1", gk, len(table.Rows))
	}
	return table.Rows[0]
}

// cells renders one object and returns its cells keyed by column name.
func cells(t *testing.T, gk schema.GroupKind, obj runtime.Object) map[string]any {
	t.Helper()
	r := row(t, gk, obj)
	cols := Columns(gk)
	out := make(map[string]any, len(cols))
	for i, c := range cols {
		out[c.Name] = r.Cells[i]
	}
	return out
}

// expect compares the named cells of a rendered row with want.
func expect(t *testing.T, got map[string]any, want map[string]any) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("no column %q (have %v)", name, got)
			continue
		}
		if g != w {
			t.Errorf("%s = %#v, want %#v", name, g, w)
		}
	}
}

var (
	podGK        = schema.GroupKind{Kind: "Pod"}
	nodeGK       = schema.GroupKind{Kind: "Node"}
	serviceGK    = schema.GroupKind{Kind: "Service"}
	deploymentGK = schema.GroupKind{Group: "apps", Kind: "Deployment"}
	jobGK        = schema.GroupKind{Group: "batch", Kind: "Job"}
)
