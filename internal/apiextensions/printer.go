package apiextensions

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/util/jsonpath"
)

// Printer renders custom resources as Tables: Name, then the version's
// additionalPrinterColumns (or Age when it has none), as upstream does.
type Printer struct {
	columns []metav1.TableColumnDefinition
	paths   []*jsonpath.JSONPath // one per column after Name; nil: creation age
}

// NewPrinter builds the printer of a CRD version. Columns whose JSONPath does not
// parse are left out (the CRD's validation reports them).
func NewPrinter(cols []apiextensionsv1.CustomResourceColumnDefinition) *Printer {
	p := &Printer{columns: []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}}}
	if len(cols) == 0 {
		p.columns = append(p.columns, metav1.TableColumnDefinition{Name: "Age", Type: "date",
			Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]})
		p.paths = append(p.paths, nil)
		return p
	}
	for _, c := range cols {
		jp := jsonpath.New(c.Name).AllowMissingKeys(true)
		if err := jp.Parse(fmt.Sprintf("{%s}", c.JSONPath)); err != nil {
			continue
		}
		p.columns = append(p.columns, metav1.TableColumnDefinition{Name: c.Name, Type: c.Type, Format: c.Format,
			Description: c.Description, Priority: c.Priority})
		p.paths = append(p.paths, jp)
	}
	return p
}

// Columns returns the column definitions.
func (p *Printer) Columns() []metav1.TableColumnDefinition {
	return append([]metav1.TableColumnDefinition(nil), p.columns...)
}

// Table renders objs (custom resources) as rows.
func (p *Printer) Table(objs []runtime.Object, include metav1.IncludeObjectPolicy, now time.Time) (*metav1.Table, error) {
	t := &metav1.Table{ColumnDefinitions: p.Columns(), Rows: make([]metav1.TableRow, 0, len(objs))}
	for _, obj := range objs {
		o, ok := obj.(*Object)
		if !ok {
			return nil, fmt.Errorf("apiextensions: cannot print %T", obj)
		}
		row, err := p.row(o, now)
		if err != nil {
			return nil, err
		}
		switch include {
		case metav1.IncludeNone:
		case metav1.IncludeObject:
			row.Object = runtime.RawExtension{Object: o.DeepCopy()}
		default:
			pom := meta.AsPartialObjectMetadata(o).DeepCopy()
			pom.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata"))
			row.Object = runtime.RawExtension{Object: pom}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

func (p *Printer) row(o *Object, now time.Time) (metav1.TableRow, error) {
	cells := []any{o.Name}
	var doc any
	for i, jp := range p.paths {
		if jp == nil {
			cells = append(cells, age(o.CreationTimestamp.Time, now))
			continue
		}
		if doc == nil {
			data, err := json.Marshal(o)
			if err != nil {
				return metav1.TableRow{}, err
			}
			if doc, err = DecodeJSON(data); err != nil {
				return metav1.TableRow{}, err
			}
		}
		cells = append(cells, cell(jp, doc, p.columns[i+1].Type, now))
	}
	return metav1.TableRow{Cells: cells}, nil
}

// cell is a column's value: nil when the path finds nothing, a date as an age,
// several results joined with commas.
func cell(jp *jsonpath.JSONPath, doc any, typ string, now time.Time) any {
	results, err := jp.FindResults(doc)
	if err != nil || len(results) == 0 || len(results[0]) == 0 {
		return nil
	}
	var vals []any
	for _, r := range results[0] {
		if r.IsValid() && r.CanInterface() {
			vals = append(vals, r.Interface())
		}
	}
	if len(vals) == 0 {
		return nil
	}
	if len(vals) > 1 {
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		return strings.Join(parts, ",")
	}
	v := vals[0]
	switch typ {
	case "date":
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				return age(t, now)
			}
		}
		return nil
	case "string":
		if s, ok := v.(string); ok {
			return s
		}
		data, _ := json.Marshal(v)
		return string(data)
	case "integer":
		if _, ok := v.(int64); ok {
			return v
		}
		return nil
	case "number":
		switch v.(type) {
		case int64, float64:
			return v
		}
		return nil
	case "boolean":
		if _, ok := v.(bool); ok {
			return v
		}
		return nil
	}
	return v
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}
