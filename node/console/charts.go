package console

import (
	"math"
	"time"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// Charts drawn on the server as SVG (no script, no inline style).

const (
	chartWidth = 640 // drawing width of the bars, px
	labelWidth = 170 // room for the labels left of them
	rowHeight  = 28
)

// window is an incident's time window on a case's row.
type window struct {
	Row        int
	Label      string
	Start, End time.Time
}

// timeline places incident windows on a common time axis.
type timeline struct {
	Width, Height int
	Rows          []timelineRow
	Bars          []timelineBar
	From, To      string // the axis' ends, in words
}

type timelineRow struct {
	Label string
	Y     int
}

type timelineBar struct {
	X, Y, W, H int
	Side       int
	Title      string
}

func newTimeline(lang string, ws []window, rows int) timeline {
	t := timeline{Width: labelWidth + chartWidth + 10, Height: rows*rowHeight + 10}
	if len(ws) == 0 {
		return t
	}
	lo, hi := ws[0].Start, ws[0].End
	for _, w := range ws {
		if w.Start.Before(lo) {
			lo = w.Start
		}
		if w.End.After(hi) {
			hi = w.End
		}
	}
	span := hi.Sub(lo)
	pad := max(span/10, 30*time.Minute)
	lo, hi = lo.Add(-pad), hi.Add(pad)
	span = hi.Sub(lo)
	x := func(at time.Time) int { return labelWidth + int(float64(chartWidth)*float64(at.Sub(lo))/float64(span)) }
	seen := map[int]bool{}
	for _, w := range ws {
		y := 5 + w.Row*rowHeight
		if !seen[w.Row] {
			seen[w.Row] = true
			t.Rows = append(t.Rows, timelineRow{Label: w.Label, Y: y + rowHeight/2 + 4})
		}
		x0, x1 := x(w.Start), x(w.End)
		t.Bars = append(t.Bars, timelineBar{X: x0, Y: y + 4, W: max(x1-x0, 3), H: rowHeight - 8, Side: w.Row % 2,
			Title: w.Label + ": " + dateTime(lang, w.Start) + " – " + dateTime(lang, w.End)})
	}
	t.From, t.To = dateTime(lang, lo), dateTime(lang, hi)
	return t
}

// waterfall draws how a score came about: the prior's weight, then each
// comparison's, each bar from the running total before it to after it.
type waterfall struct {
	Width, Height int
	ZeroX         int
	Bars          []waterfallBar
	Weight        float64
	Probability   float64
	Present       bool
}

type waterfallBar struct {
	Name, Level string
	Weight      float64
	Total       float64
	Observed    bool
	X, Y, W     int
	Positive    bool
}

func newWaterfall(lang string, e *accordv1.MatchExplanation) waterfall {
	if e == nil {
		return waterfall{}
	}
	type step struct {
		name, level string
		w           float64
		observed    bool
	}
	steps := []step{{T(lang, "waterfall.prior"), T(lang, "waterfall.prior_level", decimal(lang, e.GetPrior(), 4)), e.GetPriorWeight(), true}}
	for _, c := range e.GetComparisons() {
		level := vocab(lang, c.GetLabel())
		if !c.GetObserved() {
			level = T(lang, "waterfall.not_observed")
		}
		steps = append(steps, step{vocab(lang, c.GetName()), level, c.GetWeight(), c.GetObserved()})
	}
	lo, hi, total := 0.0, 0.0, 0.0
	for _, s := range steps {
		total += s.w
		lo, hi = math.Min(lo, total), math.Max(hi, total)
	}
	span := math.Max(hi-lo, 1)
	x := func(v float64) int { return labelWidth + int(float64(chartWidth)*(v-lo)/span) }
	wf := waterfall{Width: labelWidth + chartWidth + 70, Height: len(steps)*rowHeight + 10, ZeroX: x(0),
		Weight: e.GetWeight(), Probability: e.GetProbability(), Present: true}
	total = 0
	for i, s := range steps {
		before := total
		total += s.w
		x0, x1 := x(math.Min(before, total)), x(math.Max(before, total))
		wf.Bars = append(wf.Bars, waterfallBar{Name: s.name, Level: s.level, Weight: s.w, Total: total, Observed: s.observed,
			X: x0, Y: 5 + i*rowHeight, W: max(x1-x0, 1), Positive: s.w >= 0})
	}
	return wf
}
