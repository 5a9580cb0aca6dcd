package apiserver

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/storage"
)

// listParams are the query parameters of list and watch requests.
type listParams struct {
	resourceVersion      string
	resourceVersionMatch string
	limit                int64
	continueToken        string
	timeout              time.Duration
	allowBookmarks       bool
	sendInitialEvents    *bool
	includeObject        metav1.IncludeObjectPolicy
	predicate            storage.Predicate
}

// parseListParams decodes and validates list/watch query parameters the way
// upstream's ValidateListOptions does; bad combinations are 422, bad selectors 400.
func parseListParams(q url.Values, st *registry.Strategy, watch bool) (*listParams, error) {
	p := &listParams{
		resourceVersion:      q.Get("resourceVersion"),
		resourceVersionMatch: q.Get("resourceVersionMatch"),
		continueToken:        q.Get("continue"),
		allowBookmarks:       q.Get("allowWatchBookmarks") == "true",
		includeObject:        metav1.IncludeObjectPolicy(q.Get("includeObject")),
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", v))
		}
		p.limit = n
	}
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", v))
		}
		p.timeout = time.Duration(n) * time.Second
	}
	if v := q.Get("sendInitialEvents"); v != "" {
		b := v == "true"
		p.sendInitialEvents = &b
	}
	if err := p.validate(watch); err != nil {
		return nil, err
	}
	pred, err := predicateFor(st, q.Get("labelSelector"), q.Get("fieldSelector"))
	if err != nil {
		return nil, err
	}
	p.predicate = pred
	return p, nil
}

func (p *listParams) validate(watch bool) error {
	var errs field.ErrorList
	switch p.resourceVersionMatch {
	case "", string(metav1.ResourceVersionMatchNotOlderThan), string(metav1.ResourceVersionMatchExact):
	default:
		errs = append(errs, field.NotSupported(field.NewPath("resourceVersionMatch"), p.resourceVersionMatch,
			[]string{string(metav1.ResourceVersionMatchExact), string(metav1.ResourceVersionMatchNotOlderThan)}))
	}
	if p.resourceVersionMatch != "" {
		if watch && p.sendInitialEvents == nil {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
		}
		if p.resourceVersion == "" && p.sendInitialEvents == nil {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "resourceVersionMatch is forbidden unless resourceVersion is provided"))
		}
		if p.continueToken != "" {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "resourceVersionMatch is forbidden when continue is provided"))
		}
		if p.resourceVersionMatch == string(metav1.ResourceVersionMatchExact) && p.resourceVersion == "0" {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
		}
	}
	if p.sendInitialEvents != nil {
		if !watch {
			errs = append(errs, field.Forbidden(field.NewPath("sendInitialEvents"), "sendInitialEvents is forbidden for list"))
		} else if p.resourceVersionMatch != string(metav1.ResourceVersionMatchNotOlderThan) {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"), "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "ListOptions"}, "", errs)
	}
	return nil
}

// predicateFor parses selectors; a field the kind does not index is a 400.
func predicateFor(st *registry.Strategy, labelSel, fieldSel string) (storage.Predicate, error) {
	pred := storage.Predicate{Attrs: attrsFunc(st)}
	if labelSel != "" {
		sel, err := labels.Parse(labelSel)
		if err != nil {
			return pred, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		pred.Label = sel
	}
	if fieldSel != "" {
		sel, err := fields.ParseSelector(fieldSel)
		if err != nil {
			return pred, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		supported := st.FieldLabels()
		for _, req := range sel.Requirements() {
			if !supported[req.Field] {
				return pred, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
		pred.Field = sel
	}
	return pred, nil
}

// isHeadOrNoBody is true for verbs that carry no body.
func isHeadOrNoBody(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}
