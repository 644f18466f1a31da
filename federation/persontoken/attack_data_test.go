package persontoken_test

// The world the attack tests (attack_*_test.go) run in: a generated
// federation (node/casegen), UA's victims and witnesses in shareable cases
// as they are published under the first design (personenc: one
// federation-wide key, Bloom filters) and under this one (persontoken: each
// node's own VOPRF key), PL's own persons, and the attacker's name lists.
// docs/person-attacks.md reports what the tests measure.

import (
	"crypto/sha256"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/accordfed/accord/federation/personenc"
	"github.com/accordfed/accord/federation/persontoken"
	"github.com/accordfed/accord/node/casegen"
	accordv1 "github.com/accordfed/accord/proto/accord/v1"
)

// attackPerson is a victim or witness as its office recorded it, and the
// truth the rates are measured against: the folded name (personenc.Fold,
// joined by spaces) and the recorded birth year (0: none).
type attackPerson struct {
	Name string
	Year int
	Fold string
}

// attackWorld is what the attacks run against.
type attackWorld struct {
	ua, pl []attackPerson // victims and witnesses in shareable cases

	// First design: the federation key material every member holds.
	federation string
	material   []byte
	oldEnc     *personenc.Encoder
	uaOld      []personenc.Encoding // what UA published (to PL among others)
	plOld      []personenc.Encoding // PL's own persons' encodings

	// This design: each node's own key.
	uaKey, plKey *persontoken.Key
	uaTok        []persontoken.Tokens // what UA published: its persons' tokens under its key
	plEval       []attackPerson       // PL's persons that PL had UA evaluate
	plTok        []persontoken.Tokens // their tokens under UA's key (blinded, counted by UA)
}

// attackSizes: the full run generates a federation in which UA publishes
// about 2,500 person records (as many as UA published to PL in the
// five-member demo); under -short or the race detector, where the VOPRF is
// about fifteen times slower, about 700.
func attackSizes() (incidents, plEvaluated int) {
	if testing.Short() || attackRace {
		return 700, 150
	}
	return 2500, 1000
}

var (
	worldOnce sync.Once
	world     *attackWorld
	worldErr  error
)

// attackSetup returns the shared world, made once per test binary.
func attackSetup(t *testing.T) *attackWorld {
	t.Helper()
	worldOnce.Do(func() { world, worldErr = newAttackWorld() })
	if worldErr != nil {
		t.Fatalf("attack world: %v", worldErr)
	}
	return world
}

// victimsAndWitnesses returns the victims and witnesses of member's
// shareable cases (those whose person encodings or tokens leave the node).
func victimsAndWitnesses(opts casegen.FederationOptions, member string) ([]attackPerson, error) {
	var out []attackPerson
	err := casegen.GenerateFederation(opts, func(m string, c *accordv1.Case) error {
		if m != member {
			return nil
		}
		switch c.GetSensitivity() {
		case accordv1.Sensitivity_SENSITIVITY_FEDERATION, accordv1.Sensitivity_SENSITIVITY_JIT:
		default:
			return nil
		}
		for _, p := range c.GetPersons() {
			switch p.GetRole() {
			case accordv1.PersonRole_PERSON_ROLE_VICTIM, accordv1.PersonRole_PERSON_ROLE_WITNESS:
			default:
				continue
			}
			toks, err := personenc.Fold(p.GetName())
			if err != nil {
				return err
			}
			out = append(out, attackPerson{Name: p.GetName(), Year: int(p.GetBirthYear()), Fold: strings.Join(toks, " ")})
		}
		return nil
	}, func(a, b string) error { return nil })
	return out, err
}

var attackMembers = []string{"UA", "PL", "DE", "LT", "NL"}

func newAttackWorld() (*attackWorld, error) {
	incidents, plN := attackSizes()
	opts := casegen.FederationOptions{Members: attackMembers, Incidents: incidents, Seed: 20261207}
	w := &attackWorld{federation: "accord-demo"}
	var err error
	if w.ua, err = victimsAndWitnesses(opts, "UA"); err != nil {
		return nil, err
	}
	if w.pl, err = victimsAndWitnesses(opts, "PL"); err != nil {
		return nil, err
	}

	// First design.
	w.material = seedBytes("federation person-encoding key material v1")
	key, err := personenc.NewKey(w.federation, 1, w.material)
	if err != nil {
		return nil, err
	}
	if w.oldEnc, err = personenc.NewEncoder(personenc.DefaultConfig(), key); err != nil {
		return nil, err
	}
	for _, ps := range []struct {
		in  []attackPerson
		out *[]personenc.Encoding
	}{{w.ua, &w.uaOld}, {w.pl, &w.plOld}} {
		for _, p := range ps.in {
			e, err := w.oldEnc.Encode(personenc.Person{Name: p.Name, BirthYear: p.Year})
			if err != nil {
				return nil, err
			}
			*ps.out = append(*ps.out, e)
		}
	}

	// This design.
	if w.uaKey, err = persontoken.DeriveKey(seedBytes("UA node token key"), "attack test"); err != nil {
		return nil, err
	}
	if w.plKey, err = persontoken.DeriveKey(seedBytes("PL node token key"), "attack test"); err != nil {
		return nil, err
	}
	const uaKeyID = "UA/node-1#1"
	if w.uaTok, err = originTokens(w.uaKey, uaKeyID, w.ua); err != nil {
		return nil, err
	}
	w.plEval = w.pl[:min(plN, len(w.pl))]
	if w.plTok, err = askTokens(w.uaKey, uaKeyID, w.plEval); err != nil {
		return nil, err
	}
	return w, nil
}

// seedBytes is 32 fixed bytes named by s, so that the measured rates do not
// change from run to run.
func seedBytes(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// originTokens computes the tokens the origin publishes for its persons,
// on all cores.
func originTokens(k *persontoken.Key, keyID string, ps []attackPerson) ([]persontoken.Tokens, error) {
	out := make([]persontoken.Tokens, len(ps))
	errs := make([]error, len(ps))
	parallel(len(ps), func(i int) {
		in, err := persontoken.Inputs(persontoken.Person{Name: ps[i].Name, BirthYear: ps[i].Year})
		if err == nil {
			out[i], err = k.Tokens(keyID, in)
		}
		errs[i] = err
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// askTokens runs the blinded evaluation by which another member obtains its
// own persons' tokens under the origin's key (each element one guess the
// origin counts).
func askTokens(origin *persontoken.Key, keyID string, ps []attackPerson) ([]persontoken.Tokens, error) {
	var out []persontoken.Tokens
	const perRequest = persontoken.MaxBatch / 3
	for len(ps) > 0 {
		batch := ps[:min(perRequest, len(ps))]
		ps = ps[len(batch):]
		ins := make([]persontoken.Input, len(batch))
		for i, p := range batch {
			var err error
			if ins[i], err = persontoken.Inputs(persontoken.Person{Name: p.Name, BirthYear: p.Year}); err != nil {
				return nil, err
			}
		}
		req, err := persontoken.NewRequest(keyID, origin.Public(), ins)
		if err != nil {
			return nil, err
		}
		ev, proof, err := origin.Evaluate(req.Elements)
		if err != nil {
			return nil, err
		}
		toks, err := req.Finish(ev, proof)
		if err != nil {
			return nil, err
		}
		out = append(out, toks...)
	}
	return out, nil
}

// parallel calls fn(0..n-1) on all cores.
func parallel(n int, fn func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// rate is a share in per cent.
func rate(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// The attacker's name lists (PL's own, not the generator's): 150 common
// Ukrainian first names and about 300 common Ukrainian surnames, in
// Cyrillic, written for these tests. They include every name node/casegen
// draws from (a realistic list of common names would), and about twice as
// many that it never draws.
var attackFirstNames = strings.Fields(`
Олександр Сергій Андрій Володимир Микола Іван Василь Петро Дмитро Юрій Олег Віктор
Михайло Богдан Тарас Роман Ярослав Максим Артем Денис Ігор Павло Анатолій Віталій
Степан Григорій Євген Валентин Вадим Костянтин
Олексій Борис Валерій Геннадій Данило Захар Ілля Кирило Леонід Марко Матвій Назар
Остап Руслан Ростислав Святослав Станіслав Тимофій Тимур Федір Пилип Юліан Ярема
Арсеній Всеволод Гліб Давид Зіновій Лев Любомир Мирослав Мирон Нестор Олесь Орест
Панас Семен Устим Яків Едуард Аркадій Владислав Георгій Микита Єгор
Олена Наталія Ірина Тетяна Оксана Світлана Юлія Людмила Катерина Марія Ганна Галина
Валентина Лариса Надія Вікторія Анастасія Дарина Софія Христина Олександра Леся
Зоряна Віра Любов Інна Алла Раїса Тамара Ольга
Анна Аліна Антоніна Богдана Валерія Вероніка Дарія Діана Євгенія Єлизавета Жанна
Зінаїда Злата Ілона Кіра Лідія Ліліана Маргарита Мирослава Ніна Поліна Роксолана
Руслана Соломія Станіслава Таїсія Уляна Ярослава Ангеліна Віолета Василина Емілія
Євдокія Марта Мілана Олеся Орися Параска Стефанія Майя Ксенія Регіна Евеліна Яна Інга`)

var attackSurnames = func() []string {
	base := strings.Fields(`
Шевченко Коваленко Бондаренко Ткаченко Кравченко Олійник Шевчук Поліщук Лисенко Марченко
Мороз Савченко Руденко Петренко Клименко Павленко Кузьменко Пономаренко Харченко Мельник
Бойко Ткачук Ковальчук Кравець Гончарук Гриценко Романюк Симоненко Яценко Дмитренко
Гаврилюк Вовк Карпенко Левченко Зінченко Федоренко Сидоренко Назаренко Остапчук Панченко
Демченко Гнатюк Прокопенко Семенюк Юрченко Литвин Захарченко Іваненко Кушнір Бабенко
Ковальський Ковальська Журавський Журавська Соколовський Соколовська Вишневський Вишневська
Цибульський Цибульська Глинський Глинська Островський Островська Рудницький Рудницька
Андрієнко Антоненко Василенко Гавриленко Герасименко Гордієнко Давиденко Даниленко Дорошенко
Євтушенко Єременко Зайченко Іщенко Кириленко Корнієнко Костенко Кучеренко Литвиненко Луценко
Максименко Мартиненко Мирошниченко Михайленко Мусієнко Науменко Нестеренко Омельченко Остапенко
Пилипенко Приходько Радченко Романенко Савенко Семенко Сергієнко Слюсаренко Стеценко Тараненко
Тимошенко Удовиченко Філоненко Хоменко Яковенко Ярошенко Гуменко Борисенко Вакуленко Гончаренко
Григоренко Демиденко Зубенко Кононенко Лук'яненко Осадченко Тищенко Фесенко Ющенко Ляшенко
Мельниченко Андрійчук Бондарчук Вакарчук Данилюк Дмитрук Дячук Жук Іванчук Кравчук Левчук
Мартинюк Мельничук Миронюк Михайлюк Ничипорук Павлюк Панасюк Петрук Пилипчук Романчук Савчук
Семенчук Сидорчук Стасюк Тарасюк Федорчук Филипчук Харчук Юрчук Ярмолюк Костюк Максимчук
Марчук Никитюк Олексюк Онищук Грищук Мацюк Лесюк Коваль Ткач Бондар Гончар Швець Король
Сорока Ковтун Заєць Сірко Білик Палій Мазур Бабій Гребенюк Ігнатенко Кисіль Козак Головко
Дяченко Ємець Середа Стельмах Тесля Чорновол Шаповал Яремчук Рибак Чорний Волошин Дорош
Лемешко Нечипоренко Осипенко Гуменюк Білоус Кравчишин Гуцуляк Процюк Лозинський Лозинська
Петровський Петровська Білецький Білецька Лисовський Лисовська Городецький Городецька
Савицький Савицька Яворський Яворська Сосновський Сосновська Камінський Камінська
Левицький Левицька Ольшанський Ольшанська Маковецький Маковецька`)
	// Padded to 300 with surnames of a root and a common ending.
	roots := strings.Fields(`Бондар Гончар Ткач Коваль Кравч Мельнич Пасічн Рибал Стрільч Шаповал Кушнір Теслен Чумач Гарбуз Коноп Гнат Мирон Харитон`)
	endings := []string{"енко", "ук", "ишин", "ів", "ак"}
	out := slices.Clone(base)
	seen := map[string]bool{}
	for _, s := range out {
		seen[s] = true
	}
	for _, e := range endings {
		for _, r := range roots {
			if len(out) >= 300 {
				return out
			}
			if s := r + e; !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}()

// nationalRomanisation writes Ukrainian Cyrillic in Ukraine's national
// romanisation (Cabinet of Ministers resolution 55 of 2010), as the
// attacker would to cover UA's Latin spellings.
func nationalRomanisation(s string) string {
	letters := map[rune]string{
		'а': "a", 'б': "b", 'в': "v", 'г': "h", 'ґ': "g", 'д': "d", 'е': "e", 'є': "ie", 'ж': "zh",
		'з': "z", 'и': "y", 'і': "i", 'ї': "i", 'й': "i", 'к': "k", 'л': "l", 'м': "m", 'н': "n",
		'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts",
		'ч': "ch", 'ш': "sh", 'щ': "shch", 'ь': "", 'ю': "iu", 'я': "ia", '\'': "",
	}
	initial := map[rune]string{'є': "ye", 'ї': "yi", 'й': "y", 'ю': "yu", 'я': "ya"}
	var b strings.Builder
	start := true
	for _, r := range strings.ToLower(s) {
		if r == ' ' {
			b.WriteRune(r)
			start = true
			continue
		}
		if t, ok := initial[r]; ok && start {
			b.WriteString(t)
		} else if t, ok := letters[r]; ok {
			b.WriteString(t)
		} else {
			b.WriteRune(r)
		}
		start = false
	}
	return b.String()
}

// attackCandidate is one name of the attacker's dictionary: a spelling of
// it and its folded form.
type attackCandidate struct {
	Raw, Fold string
}

// attackDictionary is the attacker's list of full names: every first name
// with every surname, in Cyrillic and in the national romanisation,
// de-duplicated by folded form (the encodings only depend on it).
func attackDictionary() ([]attackCandidate, error) {
	type word struct {
		raw  string
		toks []string
	}
	spell := func(list []string) ([]word, error) {
		var out []word
		seen := map[string]bool{}
		for _, w := range list {
			for _, raw := range []string{w, nationalRomanisation(w)} {
				toks, err := personenc.Fold(raw)
				if err != nil {
					return nil, err
				}
				if k := strings.Join(toks, " "); !seen[k] {
					seen[k] = true
					out = append(out, word{raw, toks})
				}
			}
		}
		return out, nil
	}
	firsts, err := spell(attackFirstNames)
	if err != nil {
		return nil, err
	}
	lasts, err := spell(attackSurnames)
	if err != nil {
		return nil, err
	}
	var out []attackCandidate
	seen := map[string]bool{}
	for _, f := range firsts {
		for _, l := range lasts {
			toks := append(slices.Clone(f.toks), l.toks...)
			slices.Sort(toks)
			toks = slices.Compact(toks)
			k := strings.Join(toks, " ")
			if !seen[k] {
				seen[k] = true
				out = append(out, attackCandidate{Raw: f.raw + " " + l.raw, Fold: k})
			}
		}
	}
	return out, nil
}

// attackYears are the birth years the attacker tries.
func attackYears() []int {
	var ys []int
	for y := 1900; y <= 2025; y++ {
		ys = append(ys, y)
	}
	return ys
}
