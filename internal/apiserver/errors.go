package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// statusOf turns any error into the metav1.Status Kubernetes clients understand.
func statusOf(err error) *metav1.Status {
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		s := se.Status()
		s.Kind, s.APIVersion = "Status", "v1"
		if s.Status == "" {
			s.Status = metav1.StatusFailure
		}
		return &s
	}
	if errors.Is(err, context.DeadlineExceeded) {
		s := apierrors.NewTimeoutError("request did not complete within the allowed duration", 0).Status()
		s.Kind, s.APIVersion = "Status", "v1"
		return &s
	}
	s := apierrors.NewInternalError(err).Status()
	s.Kind, s.APIVersion = "Status", "v1"
	return &s
}

// writeError writes err as a Status whose code is also the HTTP status.
func writeError(w http.ResponseWriter, err error) {
	s := statusOf(err)
	if s.Code == 0 {
		s.Code = http.StatusInternalServerError
	}
	if s.Code == http.StatusTooManyRequests && s.Details != nil && s.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", itoa(int64(s.Details.RetryAfterSeconds)))
	}
	data, _ := json.Marshal(s)
	w.Header().Set("Content-Type", mediaJSON)
	w.WriteHeader(int(s.Code))
	_, _ = w.Write(data)
}

func notFoundPath() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource",
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeUnexpectedServerResponse, Message: "404 page not found"}}},
	}}
}

func methodNotAllowed(verb string, ri requestInfo) error {
	return apierrors.NewMethodNotSupported(ri.res.GroupResource(), verb)
}

func unsupportedMediaType(contentType string, accepted []string) error {
	msg := "the body of the request was in an unknown format - accepted media types include: "
	for i, a := range accepted {
		if i > 0 {
			msg += ", "
		}
		msg += a
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType,
		Reason: metav1.StatusReasonUnsupportedMediaType, Message: msg,
	}}
}

func metaAccessor(obj runtime.Object) (*metav1.ObjectMeta, error) {
	acc, ok := obj.(metav1.ObjectMetaAccessor)
	if !ok {
		return nil, errors.New("object has no standard ObjectMeta")
	}
	om, ok := acc.GetObjectMeta().(*metav1.ObjectMeta)
	if !ok {
		return nil, errors.New("object has no standard ObjectMeta")
	}
	return om, nil
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
