package casegen

import "strconv"

// style is how one member's office writes its cases: the language of its
// titles, how it spells Ukrainian names, its clock and precision, whether
// it records coordinates, which crime codes it cites.
type style struct {
	lang         string  // "uk", "pl", "de", "lt", "nl" or "en"
	englishTitle float64 // share of titles written in English anyway
	// places and persons: the weights of each scheme (by scheme) for
	// place names and for person names.
	places, persons [numSchemes]float64
	surnameFirst    float64 // share of person names written "SURNAME First"
	local           float64 // share of cases in Kyiv time (the rest in UTC)
	zulu            bool    // UTC written as Z rather than +00:00
	precision       []float64
	coords          float64    // share of incidents with coordinates
	coordMode       [3]float64 // exact, jittered, settlement centre
	jitterM         float64    // typical jitter of the recorded point
	region          float64    // share of incidents with a region
	national        float64    // share of cases citing the national code
	rs              float64    // share of cases citing the Rome Statute (when national is cited)
	extraCase       float64    // chance of a further case of the same incident
	unitForms       []float64  // English ordinal, number + Latin abbreviation, number + Cyrillic abbreviation, "military unit" in the language, "в/ч"
	birthYear       float64    // share of persons with a birth year

	// The pickers of the weights above, made by newFedGen.
	precPick, placePick, personPick, coordPick, unitPick *picker
}

func (s *style) init() {
	s.precPick = newPicker(s.precision)
	s.placePick = newPicker(s.places[:])
	s.personPick = newPicker(s.persons[:])
	s.coordPick = newPicker(s.coordMode[:])
	s.unitPick = newPicker(s.unitForms)
}

// precision weights by TimePrecision: unspecified, minute, hour, day, week, month.
var styles = map[string]style{
	"UA": {
		lang: "uk", englishTitle: 0.15,
		places:  [numSchemes]float64{schemeCyrillic: 65, schemeNational: 35},
		persons: [numSchemes]float64{schemeCyrillic: 55, schemeNational: 45},
		local:   1, precision: []float64{0, 8, 50, 35, 7, 0},
		coords: 0.8, coordMode: [3]float64{0.3, 0.6, 0.1}, jitterM: 150, region: 1,
		national: 1, rs: 0.5, extraCase: 0.15,
		unitForms: []float64{1, 2, 3, 1, 3}, birthYear: 0.75,
	},
	"PL": {
		lang: "pl", englishTitle: 0.3,
		places:       [numSchemes]float64{schemeNational: 30, schemePolish: 70},
		persons:      [numSchemes]float64{schemeNational: 20, schemePolish: 80},
		surnameFirst: 0.1, local: 0, precision: []float64{0, 0, 40, 50, 10, 0},
		coords: 0.65, coordMode: [3]float64{0.2, 0.5, 0.3}, jitterM: 300, region: 0.9,
		national: 0.6, rs: 0.6, extraCase: 0.08,
		unitForms: []float64{3, 2, 0, 2, 0}, birthYear: 0.6,
	},
	"DE": {
		lang: "de", englishTitle: 0.25,
		places:       [numSchemes]float64{schemeNational: 25, schemeRussian: 10, schemeGerman: 65},
		persons:      [numSchemes]float64{schemeNational: 15, schemeRussian: 15, schemeGerman: 70},
		surnameFirst: 0.3, local: 0, precision: []float64{0, 5, 55, 35, 5, 0},
		coords: 0.7, coordMode: [3]float64{0.25, 0.55, 0.2}, jitterM: 250, region: 0.9,
		national: 0.5, rs: 0.8, extraCase: 0.08,
		unitForms: []float64{3, 2, 0, 2, 0}, birthYear: 0.6,
	},
	"LT": {
		lang: "lt", englishTitle: 0.4,
		places:  [numSchemes]float64{schemeNational: 25, schemeRussian: 40, schemeLithuanian: 35},
		persons: [numSchemes]float64{schemeNational: 20, schemeRussian: 50, schemeLithuanian: 30},
		local:   0.8, precision: []float64{0, 0, 30, 55, 13, 2},
		coords: 0.5, coordMode: [3]float64{0.2, 0.4, 0.4}, jitterM: 400, region: 0.8,
		national: 0.3, rs: 1, extraCase: 0.05,
		unitForms: []float64{2, 3, 0, 2, 1}, birthYear: 0.5,
	},
	"NL": {
		lang: "nl", englishTitle: 0.35,
		places:       [numSchemes]float64{schemeNational: 55, schemeRussian: 10, schemeDutch: 35},
		persons:      [numSchemes]float64{schemeNational: 50, schemeRussian: 10, schemeDutch: 40},
		surnameFirst: 0.15, local: 0.1, zulu: true, precision: []float64{0, 10, 50, 35, 5, 0},
		coords: 0.75, coordMode: [3]float64{0.35, 0.5, 0.15}, jitterM: 200, region: 0.95,
		national: 0.4, rs: 0.9, extraCase: 0.05,
		unitForms: []float64{3, 2, 0, 2, 0}, birthYear: 0.6,
	},
}

// defaultStyle is any other member's: English titles, national or
// Russian-style spellings, UTC or Kyiv time, Rome Statute codes.
var defaultStyle = style{
	lang: "en", englishTitle: 1,
	places:  [numSchemes]float64{schemeNational: 65, schemeRussian: 35},
	persons: [numSchemes]float64{schemeNational: 60, schemeRussian: 40},
	local:   0.5, precision: []float64{0, 3, 45, 40, 10, 2},
	coords: 0.6, coordMode: [3]float64{0.25, 0.5, 0.25}, jitterM: 300, region: 0.9,
	national: 0, rs: 1, extraCase: 0.05,
	unitForms: []float64{3, 3, 0, 2, 0}, birthYear: 0.5,
}

// memberWeights: how likely a member is to investigate an incident,
// relative to the others (Ukraine investigates most of them).
var memberWeights = map[string]float64{"UA": 8, "PL": 2, "DE": 1.8, "LT": 1.3, "NL": 1.1}

// titles of the crime types (in crimeTypes' order) by language.
var crimeTitles = map[string][]string{
	"uk": {
		"Ракетний удар", "Авіаудар", "Обстріл", "Удар касетними боєприпасами", "Удар по житловому будинку",
		"Удар по лікарні", "Удар по школі", "Удар по церкві", "Удар по електростанції", "Обстріл евакуаційної колони",
		"Примусове переміщення", "Депортація дітей", "Грабіж і знищення майна", "Сексуальне насильство під час окупації",
		"Незаконний суд над полоненими", "Катування", "Знущання у фільтраційному таборі", "Незаконне позбавлення волі цивільних",
		"Насильницьке зникнення", "Розстріл цивільних", "Вбивство на блокпосту", "Жорстоке поводження з військовополоненими",
		"Використання цивільних як живого щита",
	},
	"pl": {
		"Atak rakietowy", "Nalot", "Ostrzał", "Atak amunicją kasetową", "Atak na budynek mieszkalny",
		"Atak na szpital", "Atak na szkołę", "Atak na cerkiew", "Atak na elektrownię", "Ostrzał konwoju ewakuacyjnego",
		"Przymusowe przesiedlenie", "Deportacja dzieci", "Grabież i niszczenie mienia", "Przemoc seksualna w czasie okupacji",
		"Bezprawny proces jeńców", "Tortury", "Znęcanie się w obozie filtracyjnym", "Bezprawne pozbawienie wolności cywilów",
		"Wymuszone zaginięcie", "Egzekucja cywilów", "Zabójstwo na punkcie kontrolnym", "Znęcanie się nad jeńcami wojennymi",
		"Używanie ludności cywilnej jako żywych tarcz",
	},
	"de": {
		"Raketenangriff", "Luftangriff", "Beschuss", "Angriff mit Streumunition", "Angriff auf ein Wohngebäude",
		"Angriff auf ein Krankenhaus", "Angriff auf eine Schule", "Angriff auf eine Kirche", "Angriff auf ein Kraftwerk", "Angriff auf einen Evakuierungskonvoi",
		"Zwangsumsiedlung", "Deportation von Kindern", "Plünderung und Zerstörung", "Sexualisierte Gewalt unter Besatzung",
		"Rechtswidriges Verfahren gegen Gefangene", "Folter", "Misshandlung im Filtrationslager", "Rechtswidrige Inhaftierung von Zivilisten",
		"Verschwindenlassen", "Hinrichtung von Zivilisten", "Tötung an einem Kontrollpunkt", "Misshandlung von Kriegsgefangenen",
		"Missbrauch von Zivilisten als menschliche Schutzschilde",
	},
	"lt": {
		"Raketų smūgis", "Oro antskrydis", "Apšaudymas", "Kasetinių šaudmenų ataka", "Smūgis į gyvenamąjį namą",
		"Smūgis į ligoninę", "Smūgis į mokyklą", "Smūgis į bažnyčią", "Smūgis į elektrinę", "Evakuacijos kolonos apšaudymas",
		"Priverstinis perkėlimas", "Vaikų deportacija", "Turto grobimas ir naikinimas", "Seksualinis smurtas okupacijos metu",
		"Neteisėtas belaisvių teismas", "Kankinimas", "Smurtas filtracijos stovykloje", "Neteisėtas civilių įkalinimas",
		"Priverstinis dingimas", "Civilių egzekucija", "Nužudymas kontrolės punkte", "Žiaurus elgesys su karo belaisviais",
		"Civilių naudojimas kaip gyvojo skydo",
	},
	"nl": {
		"Raketaanval", "Luchtaanval", "Beschieting", "Aanval met clustermunitie", "Aanval op woongebouw",
		"Aanval op ziekenhuis", "Aanval op school", "Aanval op kerk", "Aanval op elektriciteitscentrale", "Aanval op evacuatiekonvooi",
		"Gedwongen overbrenging", "Deportatie van kinderen", "Plundering en vernieling", "Seksueel geweld tijdens de bezetting",
		"Onrechtmatig proces tegen gevangenen", "Foltering", "Mishandeling in filtratiekamp", "Onrechtmatige detentie van burgers",
		"Gedwongen verdwijning", "Executie van burgers", "Doding bij controlepost", "Mishandeling van krijgsgevangenen",
		"Gebruik van burgers als menselijk schild",
	},
}

// title writes a case's title in lang: the crime, the place as the case
// writes it and the date in the language's usual form.
func title(lang, crime, place string, y int, m int, d int) string {
	dmy := pad(d, 2) + "." + pad(m, 2) + "." + strconv.Itoa(y)
	iso := strconv.Itoa(y) + "-" + pad(m, 2) + "-" + pad(d, 2)
	switch lang {
	case "uk":
		return crime + ", " + place + ", " + dmy
	case "pl":
		return crime + " w miejscowości " + place + ", " + dmy + " r."
	case "de":
		return crime + " in " + place + " am " + dmy
	case "lt":
		return crime + " (" + place + "), " + iso
	case "nl":
		return crime + " in " + place + " op " + strconv.Itoa(d) + "-" + strconv.Itoa(m) + "-" + strconv.Itoa(y)
	}
	return crime + " in " + place + ", " + iso
}

// Cyrillic abbreviations of the unit types (in unitTypes' order), as
// Ukrainian documents write them.
var unitAbbrCyr = []string{"ОМСБр", "МСП", "ТП", "ТД", "ПДП", "ДШП", "АБр", "ОБрМП", "РБр", "ОБрСпН", "ЗВА"}

// militaryUnit is "military unit" by language, before the unit's number.
var militaryUnit = map[string]string{
	"uk": "військова частина ", "pl": "jednostka wojskowa ", "de": "Militäreinheit ",
	"lt": "karinis dalinys ", "nl": "militaire eenheid ", "en": "military unit ",
}

// nationalCode is the national criminal code article a member cites for a
// crime type; attacks are the crime types before index 10 in crimeTypes.
// The articles are those of each country's war crimes provisions, simplified
// (one for attacks, one for crimes against persons).
func nationalCode(member string, ct int) string {
	attack := ct < 10
	switch member {
	case "UA":
		return "UA-CC-438"
	case "PL":
		if attack {
			return "PL-CC-122"
		}
		return "PL-CC-123"
	case "DE":
		switch {
		case attack:
			return "DE-CC-11"
		case ct == 12:
			return "DE-CC-9"
		}
		return "DE-CC-8"
	case "LT":
		if attack {
			return "LT-CC-111"
		}
		return "LT-CC-100"
	case "NL":
		return "NL-CC-5"
	}
	return ""
}
