package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// searchFlags are the search flags that `cases list` and `federation
// cases` share, with the same names: --near, --radius, --text.
type searchFlags struct {
	near   string
	radius float64
	text   string
}

// searchHelp describes the place rule and the search flags in the help of
// both commands.
const searchHelp = `--place finds a place across scripts and spellings, with the matcher's own
folding rules: Kharkiv, Харків, Kharkov, Charków and Charkiw find the same
cases. The words of the name are compared as a phrase, each word equal once
folded (Cyrillic transliterated, case and accents ignored, sounds that
transliterations spell differently made one), or equal in its consonants
when it has three or more (Kharkov ~ Kharkiv, Dnepr ~ Dnipro) or, shorter,
vowels in the same places (Lvov ~ Lviv); a trailing * makes the last word a
prefix (--place 'Khar*'). Names the matcher learned at the same location
from incident coordinates (a renamed town) are found too. Names only a
gazetteer joins (Lemberg for Lviv) are not.
--near LAT,LON --radius KM keeps cases with an incident whose coordinates lie
within KM (at most 1000) of the point; place and near hold for one incident.
--text keeps cases whose title holds every word given, folded as places.`

func (f *searchFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.near, "near", "", "only cases with an incident within --radius of this point: LAT,LON in degrees (50.45,30.52)")
	fs.Float64Var(&f.radius, "radius", 0, "the radius of --near in km (more than 0, at most 1000)")
	fs.StringVar(&f.text, "text", "", "only cases whose title holds every one of these words (scripts, case and accents ignored)")
}

// parse checks the flags and returns the request's fields.
func (f *searchFlags) parse() (lat, lon, km float64, err error) {
	switch {
	case f.near == "" && f.radius == 0:
		return 0, 0, 0, nil
	case f.near == "":
		return 0, 0, 0, fmt.Errorf("--radius needs --near LAT,LON")
	case f.radius <= 0 || f.radius > 1000:
		return 0, 0, 0, fmt.Errorf("--radius %g: must be more than 0 and at most 1000 km (and is required with --near)", f.radius)
	}
	a, b, ok := strings.Cut(f.near, ",")
	if ok {
		lat, err = strconv.ParseFloat(strings.TrimSpace(a), 64)
	}
	if ok && err == nil {
		lon, err = strconv.ParseFloat(strings.TrimSpace(b), 64)
	}
	switch {
	case !ok || err != nil:
		return 0, 0, 0, fmt.Errorf("--near %q: must be LAT,LON in degrees (50.45,30.52)", f.near)
	case lat < -90 || lat > 90:
		return 0, 0, 0, fmt.Errorf("--near %q: latitude must be -90 to 90", f.near)
	case lon < -180 || lon > 180:
		return 0, 0, 0, fmt.Errorf("--near %q: longitude must be -180 to 180", f.near)
	}
	return lat, lon, f.radius, nil
}

// ---- federation get ----

func newFederationGetCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get MEMBER CASE_ID",
		Short: "Show one shared case of another member",
		Long: `get shows one case another member shares with this office, as this node's
federation index holds it: status, sensitivity, version, crime codes,
incidents (time window, place as written, region, coordinates), perpetrators,
victims, evidence hashes and person encodings (role and key, never a name).
-o json prints it as the node holds it.`,
		Example: `  accordctl --config pl.yaml federation get UA UA-2022-004211
  accordctl --config pl.yaml federation get UA UA-2022-004211 -o json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := regMemberArg("MEMBER", args[0]); err != nil {
				return err
			}
			c, err := openFed(g, cmd)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := c.ctx(cmd)
			defer cancel()
			resp, err := c.index.GetFederationCase(ctx, &accordv1.GetFederationCaseRequest{Member: args[0], CaseId: args[1]})
			if err != nil {
				return c.rpcError("federation get "+args[0]+" "+args[1], err)
			}
			if g.JSON() {
				return printProto(cmd.OutOrStdout(), resp.GetCase())
			}
			printFedCase(cmd.OutOrStdout(), resp.GetCase())
			return nil
		},
	}
}

func printFedCase(w io.Writer, fc *accordv1.FederationCase) {
	c := fc.GetCase()
	fmt.Fprintln(w, strings.TrimSpace(fc.GetMember()+" "+c.GetCaseId()+"  "+c.GetTitle()))
	row := func(k, v string) { fmt.Fprintf(w, "  %-13s %s\n", k+":", v) }
	row("status", enumName(c.GetStatus().String(), "CASE_STATUS_"))
	row("sensitivity", enumName(c.GetSensitivity().String(), "SENSITIVITY_"))
	row("opened", orDash(c.GetOpened()))
	row("version", fmt.Sprintf("%d, changed %s", c.GetVersion(), formatTime(c.GetUpdateTime())))
	row("published", fmt.Sprintf("%s (feed seq %d)", formatTime(fc.GetPublishTime()), fc.GetSeq()))
	printIncidentBlock(w, row, c.GetCrimeCodes(), c.VictimCount, c.GetIncidents(), c.GetPerpetrators())
	fmt.Fprintf(w, "person encodings (%d):\n", len(c.GetPersons()))
	for _, p := range c.GetPersons() {
		fmt.Fprintf(w, "  %s: key %s v%d\n", enumName(p.GetRole().String(), "PERSON_ROLE_"), p.GetKeyName(), p.GetKeyVersion())
	}
	fmt.Fprintf(w, "evidence (%d):\n", len(c.GetEvidence()))
	for _, e := range c.GetEvidence() {
		line := "  sha256 " + e.GetSha256()
		for _, part := range []string{e.GetMediaType(), prefixed("collected ", e.GetCollected())} {
			if part != "" {
				line += "  " + part
			}
		}
		fmt.Fprintln(w, line)
	}
}
