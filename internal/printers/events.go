package printers

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func init() {
	// Both event APIs describe the same stored events, so they print alike.
	register("", "Event", printer{columns: eventColumns(), row: cellsOf(func(e *corev1.Event, now time.Time) []any {
		return eventFromCore(e).cells(now)
	})})
	register("events.k8s.io", "Event", printer{columns: eventColumns(), row: cellsOf(func(e *eventsv1.Event, now time.Time) []any {
		return eventFromEvents(e).cells(now)
	})})
}

func eventColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		column("Last Seen", "string", "Time since the event was last observed."),
		column("Type", "string", "The type of the event, Normal or Warning."),
		column("Reason", "string", "A short machine-readable reason for the event."),
		column("Object", "string", "The object the event is about."),
		wide(column("Subobject", "string", "The part of the object the event is about.")),
		wide(column("Source", "string", "The component that reported the event.")),
		column("Message", "string", "A human-readable description of the event."),
		wide(column("First Seen", "string", "Time since the event was first observed.")),
		wide(column("Count", "integer", "How many times the event has occurred.")),
		wide(metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name",
			Description: "The name of the event object."}),
	}
}

// event is the part of either event API that the table shows, in core/v1 terms.
type event struct {
	name, typ, reason, message string
	regarding                  corev1.ObjectReference
	component, host            string // source, else reporting controller/instance
	first, last                metav1.Time
	eventTime                  metav1.MicroTime
	count                      int32
	series                     bool
	seriesCount                int32
	seriesLast                 metav1.MicroTime
}

func eventFromCore(e *corev1.Event) event {
	ev := event{
		name: e.Name, typ: e.Type, reason: e.Reason, message: e.Message, regarding: e.InvolvedObject,
		component: firstNonEmpty(e.Source.Component, e.ReportingController),
		host:      firstNonEmpty(e.Source.Host, e.ReportingInstance),
		first:     e.FirstTimestamp, last: e.LastTimestamp, eventTime: e.EventTime, count: e.Count,
	}
	if e.Series != nil {
		ev.series, ev.seriesCount, ev.seriesLast = true, e.Series.Count, e.Series.LastObservedTime
	}
	return ev
}

func eventFromEvents(e *eventsv1.Event) event {
	ev := event{
		name: e.Name, typ: e.Type, reason: e.Reason, message: e.Note, regarding: e.Regarding,
		component: firstNonEmpty(e.DeprecatedSource.Component, e.ReportingController),
		host:      firstNonEmpty(e.DeprecatedSource.Host, e.ReportingInstance),
		first:     e.DeprecatedFirstTimestamp, last: e.DeprecatedLastTimestamp, eventTime: e.EventTime,
		count: e.DeprecatedCount,
	}
	if e.Series != nil {
		ev.series, ev.seriesCount, ev.seriesLast = true, e.Series.Count, e.Series.LastObservedTime
	}
	return ev
}

// cells follows upstream: first seen falls back to eventTime, last seen to
// first seen, and a series overrides both last seen and count; a singleton
// event without a count counts once.
func (e event) cells(now time.Time) []any {
	first := age(e.first, now)
	if e.first.IsZero() {
		first = microAge(e.eventTime, now)
	}
	last := age(e.last, now)
	if e.last.IsZero() {
		last = first
	}
	count := e.count
	switch {
	case e.series:
		last, count = microAge(e.seriesLast, now), e.seriesCount
	case count == 0:
		count = 1
	}
	object := strings.ToLower(e.regarding.Kind)
	if e.regarding.Name != "" {
		object += "/" + e.regarding.Name
	}
	source := e.component
	if e.host != "" {
		source += ", " + e.host
	}
	return []any{last, e.typ, e.reason, object, e.regarding.FieldPath, source,
		strings.TrimSpace(e.message), first, int64(count), e.name}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
