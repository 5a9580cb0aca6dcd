// Package printers renders served objects as meta.k8s.io/v1 Tables, the
// server-side printing that `kubectl get` asks for with
// Accept: application/json;as=Table;g=meta.k8s.io;v=v1.
//
// Columns and cell text follow what kubectl users see from upstream
// Kubernetes. Like upstream's server, every row always carries the wide
// (priority 1) cells too: kubectl hides them unless asked for -o wide, so the
// server never needs to know how the client will print.
package printers

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/apis/catalog"
)

// printer turns one object of a kind into one row of cells matching columns.
type printer struct {
	columns []metav1.TableColumnDefinition
	row     func(obj runtime.Object, now time.Time) (metav1.TableRow, error)
}

// printers holds every kind with its own columns; other kinds use defaultPrinter.
var printers = map[schema.GroupKind]printer{}

// register adds a kind's printer; called from the per-area files' init.
func register(group, kind string, p printer) {
	gk := schema.GroupKind{Group: group, Kind: kind}
	if _, dup := printers[gk]; dup {
		panic("printers: duplicate printer for " + gk.String())
	}
	printers[gk] = p
}

// rowOf adapts a typed row function, so each printer is written against its
// concrete type and a wrong object is an error rather than a panic.
func rowOf[T runtime.Object](fn func(T, time.Time) metav1.TableRow) func(runtime.Object, time.Time) (metav1.TableRow, error) {
	return func(obj runtime.Object, now time.Time) (metav1.TableRow, error) {
		t, ok := obj.(T)
		if !ok {
			var want T
			return metav1.TableRow{}, fmt.Errorf("printers: cannot print %T as %T", obj, want)
		}
		return fn(t, now), nil
	}
}

// cellsOf is rowOf for printers that only produce cells.
func cellsOf[T runtime.Object](fn func(T, time.Time) []any) func(runtime.Object, time.Time) (metav1.TableRow, error) {
	return rowOf(func(t T, now time.Time) metav1.TableRow {
		return metav1.TableRow{Cells: fn(t, now)}
	})
}

// defaultPrinter mirrors the generic API server convertor used for kinds
// without a printer: the name and the creation time as an RFC 3339 date.
var defaultPrinter = printer{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Created At", Type: "date", Description: "The time the object was created."},
	},
	row: func(obj runtime.Object, _ time.Time) (metav1.TableRow, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return metav1.TableRow{}, fmt.Errorf("printers: %T has no object metadata: %w", obj, err)
		}
		created := m.GetCreationTimestamp().UTC().Format(time.RFC3339)
		return metav1.TableRow{Cells: []any{m.GetName(), created}}, nil
	},
}

func printerFor(gk schema.GroupKind) printer {
	if p, ok := printers[gk]; ok {
		return p
	}
	return defaultPrinter
}

// Columns returns the column definitions for a kind (group+kind); unknown
// kinds get Name + "Created At". The slice is the caller's to keep.
func Columns(gk schema.GroupKind) []metav1.TableColumnDefinition {
	return slices.Clone(printerFor(gk).columns)
}

// Table renders objects (all of one kind) as a Table. includeObject picks what
// each row's object is: nothing (IncludeNone), a PartialObjectMetadata
// (IncludeMetadata, also the default for ""), or a copy of the full object
// (IncludeObject). now is the reference time for ages and durations. The
// caller fills the Table's TypeMeta and ListMeta.
func Table(gk schema.GroupKind, objs []runtime.Object, includeObject metav1.IncludeObjectPolicy, now time.Time) (*metav1.Table, error) {
	p := printerFor(gk)
	table := &metav1.Table{
		ColumnDefinitions: slices.Clone(p.columns),
		Rows:              make([]metav1.TableRow, 0, len(objs)),
	}
	for _, obj := range objs {
		row, err := p.row(obj, now)
		if err != nil {
			return nil, err
		}
		if len(row.Cells) != len(p.columns) {
			// A mismatch would make kubectl print shifted columns; fail loudly instead.
			return nil, fmt.Errorf("printers: %s row has %d cells for %d columns", gk, len(row.Cells), len(p.columns))
		}
		if row.Object, err = rowObject(gk, obj, includeObject); err != nil {
			return nil, err
		}
		table.Rows = append(table.Rows, row)
	}
	return table, nil
}

// partialObjectMetadataKind is what metadata-only rows are; clients decode
// rows by their kind, so it is always set.
var partialObjectMetadataKind = metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata")

func rowObject(gk schema.GroupKind, obj runtime.Object, policy metav1.IncludeObjectPolicy) (runtime.RawExtension, error) {
	switch policy {
	case metav1.IncludeNone:
		return runtime.RawExtension{}, nil
	case metav1.IncludeObject:
		gvk, err := kindOf(gk, obj)
		if err != nil {
			return runtime.RawExtension{}, err
		}
		// Copy: objects may come from a shared cache, and setting TypeMeta must not leak into it.
		out := obj.DeepCopyObject()
		out.GetObjectKind().SetGroupVersionKind(gvk)
		return runtime.RawExtension{Object: out}, nil
	case "", metav1.IncludeMetadata:
		m, err := meta.Accessor(obj)
		if err != nil {
			return runtime.RawExtension{}, fmt.Errorf("printers: %T has no object metadata: %w", obj, err)
		}
		partial := meta.AsPartialObjectMetadata(m).DeepCopy()
		partial.SetGroupVersionKind(partialObjectMetadataKind)
		return runtime.RawExtension{Object: partial}, nil
	default:
		return runtime.RawExtension{}, fmt.Errorf("printers: unknown includeObject policy %q", policy)
	}
}

// kindOf finds the full kind of obj, preferring the scheme (typed objects
// usually arrive with empty TypeMeta) and falling back to the object's own.
func kindOf(gk schema.GroupKind, obj runtime.Object) (schema.GroupVersionKind, error) {
	own := obj.GetObjectKind().GroupVersionKind()
	gvks, _, err := catalog.Scheme.ObjectKinds(obj)
	if err == nil {
		for _, gvk := range gvks {
			if gvk.GroupKind() == gk {
				return gvk, nil
			}
		}
	}
	if own.Kind != "" && own.Version != "" {
		return own, nil
	}
	if len(gvks) > 0 {
		return gvks[0], nil
	}
	return schema.GroupVersionKind{}, fmt.Errorf("printers: cannot tell the kind of %T", obj)
}
