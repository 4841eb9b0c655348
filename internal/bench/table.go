package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report as one table, then a line per failed
// scenario.
func WriteText(w io.Writer, rep Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tTENANTS\tEVENTS\tDETECTIONS\tWALL\tEVENTS/S\tAPI CALLS\t429s\tCPU\tPEAK RSS\tGOROUTINES\tVS LIMIT\tLATENCY P50/P99")
	for _, r := range rep.Rows {
		det := fmt.Sprint(r.Detections)
		if r.Kind == "limit" {
			det = "-" // the limit matches nothing
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n",
			r.Scenario, r.Tenants, r.Events, det, seconds(r.WallSeconds), perSecond(r.EventsPerSec),
			r.APICalls, r.RateLimited, seconds(r.CPUSeconds), mib(r.PeakRSSBytes), count(r.Goroutines),
			ratio(r.WallRatio, r.CPURatio), latency(r.LatencyP50, r.LatencyP99))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Rows {
		if r.Note != "" && r.Error == "" {
			fmt.Fprintf(w, "  %s: %s\n", r.Scenario, r.Note)
		}
	}
	for _, r := range rep.Failed() {
		fmt.Fprintf(w, "FAILED %s: %s\n", r.Scenario, strings.ReplaceAll(r.Error, "\n", "\n    "))
	}
	_, err := fmt.Fprintf(w, "scale %s; %s %s/%s, %d CPUs\n", rep.Scale, rep.Go, rep.OS, rep.Arch, rep.CPUs)
	return err
}

// WriteJSON writes the report as one indented JSON document.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func seconds(s float64) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", s)
}

func perSecond(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func mib(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func count(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func ratio(wall, cpu float64) string {
	if wall == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx wall, %.2fx CPU", wall, cpu)
}

func latency(p50, p99 float64) string {
	if p50 == 0 && p99 == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3fs / %.3fs", p50, p99)
}
