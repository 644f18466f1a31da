package casegen

// name is a name in the national romanisation of Ukrainian and in Cyrillic.
type name struct{ latin, cyrillic string }

// Common Ukrainian first names.
var (
	maleFirst = []name{
		{"Oleksandr", "Олександр"}, {"Serhii", "Сергій"}, {"Andrii", "Андрій"}, {"Volodymyr", "Володимир"},
		{"Mykola", "Микола"}, {"Ivan", "Іван"}, {"Vasyl", "Василь"}, {"Petro", "Петро"},
		{"Dmytro", "Дмитро"}, {"Yurii", "Юрій"}, {"Oleh", "Олег"}, {"Viktor", "Віктор"},
		{"Mykhailo", "Михайло"}, {"Bohdan", "Богдан"}, {"Taras", "Тарас"}, {"Roman", "Роман"},
		{"Yaroslav", "Ярослав"}, {"Maksym", "Максим"}, {"Artem", "Артем"}, {"Denys", "Денис"},
		{"Ihor", "Ігор"}, {"Pavlo", "Павло"}, {"Anatolii", "Анатолій"}, {"Vitalii", "Віталій"},
		{"Stepan", "Степан"}, {"Hryhorii", "Григорій"}, {"Yevhen", "Євген"}, {"Valentyn", "Валентин"},
		{"Vadym", "Вадим"}, {"Kostiantyn", "Костянтин"},
	}
	femaleFirst = []name{
		{"Olena", "Олена"}, {"Nataliia", "Наталія"}, {"Iryna", "Ірина"}, {"Tetiana", "Тетяна"},
		{"Oksana", "Оксана"}, {"Svitlana", "Світлана"}, {"Yuliia", "Юлія"}, {"Liudmyla", "Людмила"},
		{"Kateryna", "Катерина"}, {"Mariia", "Марія"}, {"Hanna", "Ганна"}, {"Halyna", "Галина"},
		{"Valentyna", "Валентина"}, {"Larysa", "Лариса"}, {"Nadiia", "Надія"}, {"Viktoriia", "Вікторія"},
		{"Anastasiia", "Анастасія"}, {"Daryna", "Дарина"}, {"Sofiia", "Софія"}, {"Khrystyna", "Христина"},
		{"Oleksandra", "Олександра"}, {"Lesia", "Леся"}, {"Zoriana", "Зоряна"}, {"Vira", "Віра"},
		{"Liubov", "Любов"}, {"Inna", "Інна"}, {"Alla", "Алла"}, {"Raisa", "Раїса"},
		{"Tamara", "Тамара"}, {"Olha", "Ольга"},
	}
)

// Common Ukrainian surnames that men and women share.
var surnames = []name{
	{"Shevchenko", "Шевченко"}, {"Kovalenko", "Коваленко"}, {"Bondarenko", "Бондаренко"}, {"Tkachenko", "Ткаченко"},
	{"Kravchenko", "Кравченко"}, {"Oliinyk", "Олійник"}, {"Shevchuk", "Шевчук"}, {"Polishchuk", "Поліщук"},
	{"Lysenko", "Лисенко"}, {"Marchenko", "Марченко"}, {"Moroz", "Мороз"}, {"Savchenko", "Савченко"},
	{"Rudenko", "Руденко"}, {"Petrenko", "Петренко"}, {"Klymenko", "Клименко"}, {"Pavlenko", "Павленко"},
	{"Kuzmenko", "Кузьменко"}, {"Ponomarenko", "Пономаренко"}, {"Kharchenko", "Харченко"}, {"Melnyk", "Мельник"},
	{"Boiko", "Бойко"}, {"Tkachuk", "Ткачук"}, {"Kovalchuk", "Ковальчук"}, {"Kravets", "Кравець"},
	{"Honcharuk", "Гончарук"}, {"Hrytsenko", "Гриценко"}, {"Romaniuk", "Романюк"}, {"Symonenko", "Симоненко"},
	{"Yatsenko", "Яценко"}, {"Dmytrenko", "Дмитренко"}, {"Havryliuk", "Гаврилюк"}, {"Vovk", "Вовк"},
	{"Karpenko", "Карпенко"}, {"Levchenko", "Левченко"}, {"Zinchenko", "Зінченко"}, {"Fedorenko", "Федоренко"},
	{"Sydorenko", "Сидоренко"}, {"Nazarenko", "Назаренко"}, {"Ostapchuk", "Остапчук"}, {"Panchenko", "Панченко"},
	{"Demchenko", "Демченко"}, {"Hnatiuk", "Гнатюк"}, {"Prokopenko", "Прокопенко"}, {"Semeniuk", "Семенюк"},
	{"Yurchenko", "Юрченко"}, {"Lytvyn", "Литвин"}, {"Zakharchenko", "Захарченко"}, {"Ivanenko", "Іваненко"},
	{"Kushnir", "Кушнір"}, {"Babenko", "Бабенко"},
}

// Adjectival surnames, whose ending follows the person's gender: the male
// form, then the female one.
var adjSurnames = [][2]name{
	{{"Kovalskyi", "Ковальський"}, {"Kovalska", "Ковальська"}},
	{{"Zhuravskyi", "Журавський"}, {"Zhuravska", "Журавська"}},
	{{"Sokolovskyi", "Соколовський"}, {"Sokolovska", "Соколовська"}},
	{{"Vyshnevskyi", "Вишневський"}, {"Vyshnevska", "Вишневська"}},
	{{"Tsybulskyi", "Цибульський"}, {"Tsybulska", "Цибульська"}},
	{{"Hlynskyi", "Глинський"}, {"Hlynska", "Глинська"}},
	{{"Ostrovskyi", "Островський"}, {"Ostrovska", "Островська"}},
	{{"Rudnytskyi", "Рудницький"}, {"Rudnytska", "Рудницька"}},
}

// crimeType is what a case is about: its title in English and, for some
// members, in their language, and the Rome Statute references it may cite.
type crimeType struct {
	title  string
	local  map[string]string // member code → title
	codes  []string
	weight float64
}

var crimeTypes = []crimeType{
	{"Missile strike", map[string]string{"PL": "Atak rakietowy", "DE": "Raketenangriff", "FR": "Frappe de missile"}, []string{"RS-8.2.b.i", "RS-8.2.b.ii", "RS-8.2.b.iv"}, 10},
	{"Air strike", map[string]string{"PL": "Nalot", "DE": "Luftangriff", "FR": "Frappe aérienne"}, []string{"RS-8.2.b.i", "RS-8.2.b.ii", "RS-8.2.b.iv"}, 10},
	{"Shelling", map[string]string{"PL": "Ostrzał", "DE": "Beschuss", "FR": "Pilonnage"}, []string{"RS-8.2.b.i", "RS-8.2.b.ii", "RS-8.2.b.iv"}, 8},
	{"Cluster munitions attack", nil, []string{"RS-8.2.b.iv", "RS-8.2.b.xx"}, 2.5},
	{"Strike on residential building", nil, []string{"RS-8.2.b.ii", "RS-8.2.b.iv"}, 3},
	{"Strike on hospital", nil, []string{"RS-8.2.b.ix", "RS-8.2.b.xxiv"}, 2},
	{"Strike on school", nil, []string{"RS-8.2.b.ix"}, 2},
	{"Strike on church", nil, []string{"RS-8.2.b.ix"}, 1},
	{"Strike on power plant", nil, []string{"RS-8.2.b.ii", "RS-8.2.b.iv"}, 2},
	{"Attack on evacuation convoy", nil, []string{"RS-8.2.b.i", "RS-8.2.b.iii"}, 1},
	{"Forced transfer", nil, []string{"RS-8.2.a.vii", "RS-7.1.d"}, 8},
	{"Deportation of children", nil, []string{"RS-8.2.a.vii", "RS-7.1.d", "RS-6.e"}, 7},
	{"Looting and destruction", nil, []string{"RS-8.2.a.iv", "RS-8.2.b.xvi"}, 8},
	{"Sexual violence during occupation", nil, []string{"RS-8.2.b.xxii", "RS-7.1.g"}, 7},
	{"Unlawful trial of prisoners", nil, []string{"RS-8.2.a.vi"}, 7},
	{"Torture", nil, []string{"RS-8.2.a.ii", "RS-7.1.f"}, 5},
	{"Filtration camp abuse", nil, []string{"RS-8.2.a.ii", "RS-8.2.a.iii"}, 4},
	{"Unlawful detention of civilians", nil, []string{"RS-8.2.a.vii", "RS-7.1.e"}, 3},
	{"Enforced disappearance", nil, []string{"RS-7.1.i"}, 2},
	{"Execution of civilians", nil, []string{"RS-8.2.a.i", "RS-7.1.a"}, 4},
	{"Killing at checkpoint", nil, []string{"RS-8.2.a.i"}, 3},
	{"Ill-treatment of prisoners of war", nil, []string{"RS-8.2.a.ii", "RS-8.2.b.xxi"}, 2},
	{"Use of human shields", nil, []string{"RS-8.2.b.xxiii"}, 1},
}

// titleIn joins a title and a place in the language of the title.
var titleIn = map[string]string{"PL": " w ", "DE": " in ", "FR": " à "}

// unitType is a kind of military unit: its English name and the
// abbreviation of the Russian designation.
type unitType struct{ name, abbr string }

var unitTypes = []unitType{
	{"Separate Motor Rifle Brigade", "OMSBr"},
	{"Motor Rifle Regiment", "MSP"},
	{"Tank Regiment", "TP"},
	{"Tank Division", "TD"},
	{"Airborne Regiment", "PDP"},
	{"Air Assault Regiment", "DShP"},
	{"Artillery Brigade", "ABr"},
	{"Naval Infantry Brigade", "OBrMP"},
	{"Missile Brigade", "RBr"},
	{"Special Purpose Brigade", "OBrSpN"},
	{"Combined Arms Army", "OA"},
}

// unit is a made-up unit: a number, a type and a five-digit military unit
// number (the designation a unit is known by in documents).
type unit struct {
	number, typ, post int
}

// units are the made-up units of the generated cases (generic numbers, not
// the order of battle of any army).
var units = func() []unit {
	numbers := []int{17, 29, 44, 53, 61, 72, 85, 93, 108, 116, 124, 139, 152, 163, 178, 187, 209, 219, 233, 247, 258, 271, 289, 305}
	us := make([]unit, len(numbers))
	for i, n := range numbers {
		us[i] = unit{number: n, typ: (i*7 + n) % len(unitTypes), post: 10000 + (n*7919+i*104729)%89999}
	}
	return us
}()

// organisations are alleged perpetrators that are not units; %s is a
// region.
var organisations = []string{
	"occupation administration of %s",
	"private military company",
	"filtration commission",
	"penitentiary service of the occupying power",
	"occupation police of %s",
}

// callSigns are generic call signs of unidentified servicemen.
var callSigns = []string{"Grom", "Tuman", "Sever", "Kedr", "Volga", "Bereg", "Sokol", "Yastreb", "Ural", "Baikal", "Veter", "Kamen"}

// mediaTypes are the evidence's media types, each with descriptions.
var mediaTypes = []struct {
	typ          string
	descriptions []string
}{
	{"video/mp4", []string{"Video recorded at the scene", "Drone footage of the site", "CCTV recording"}},
	{"image/jpeg", []string{"Photograph of the damage", "Photographs of the victims' injuries", "Satellite image of the area"}},
	{"image/png", []string{"Map of the site", "Screenshot of a social media post", "Annotated satellite image"}},
	{"application/pdf", []string{"Forensic medical report", "Expert report on the munitions", "Record of a witness interview"}},
	{"audio/mpeg", []string{"Intercepted phone call", "Audio recording of a witness statement"}},
	{"text/plain", []string{"Transcript of a witness statement", "Open-source investigation notes"}},
}
