package casegen

// region is an administrative region as the generated cases write it, with
// a weight: how many incidents, relative to the others, happen in it.
type region struct {
	name   string
	weight float64
}

// The regions, weighted roughly by how much of the war's harm they saw.
var regions = []region{
	{"Kyiv", 2},
	{"Kyiv Oblast", 10},
	{"Chernihiv Oblast", 4},
	{"Sumy Oblast", 5},
	{"Kharkiv Oblast", 15},
	{"Luhansk Oblast", 8},
	{"Donetsk Oblast", 22},
	{"Zaporizhzhia Oblast", 7},
	{"Kherson Oblast", 6},
	{"Mykolaiv Oblast", 3},
	{"Odesa Oblast", 3.5},
	{"Dnipropetrovsk Oblast", 3.5},
	{"Poltava Oblast", 1.2},
	{"Kirovohrad Oblast", 0.5},
	{"Cherkasy Oblast", 0.6},
	{"Vinnytsia Oblast", 0.8},
	{"Zhytomyr Oblast", 1},
	{"Rivne Oblast", 0.4},
	{"Volyn Oblast", 0.3},
	{"Lviv Oblast", 0.8},
	{"Ternopil Oblast", 0.3},
	{"Khmelnytskyi Oblast", 0.5},
	{"Ivano-Frankivsk Oblast", 0.4},
	{"Zakarpattia Oblast", 0.1},
	{"Chernivtsi Oblast", 0.1},
	{"Autonomous Republic of Crimea", 0.8},
	{"Sevastopol", 0.3},
}

// place is a real settlement: its name in the national romanisation of
// Ukrainian, in Cyrillic, in an older or Russian-based romanisation that
// foreign offices still use (empty when it is the same), the index of its
// region in regions, approximate WGS84 coordinates, and its share of its
// region's incidents.
type place struct {
	name, cyrillic, alt string
	region              int
	lat, lon            float64
	share               float64
}

// places are the settlements of the generated incidents: about a hundred,
// in every region. An administrative centre takes a larger share of its
// region than a town.
var places = []place{
	{"Kyiv", "Київ", "Kiev", 0, 50.4501, 30.5234, 1},

	{"Bila Tserkva", "Біла Церква", "Belaya Tserkov", 1, 49.7968, 30.1311, 1},
	{"Irpin", "Ірпінь", "Irpen", 1, 50.5218, 30.2506, 2},
	{"Borodianka", "Бородянка", "Borodyanka", 1, 50.6440, 29.9240, 2},
	{"Brovary", "Бровари", "", 1, 50.5110, 30.7909, 1},
	{"Makariv", "Макарів", "Makarov", 1, 50.4640, 29.8110, 1.5},
	{"Boryspil", "Бориспіль", "Borispol", 1, 50.3527, 30.9550, 0.7},
	{"Ivankiv", "Іванків", "Ivankov", 1, 50.9370, 29.8970, 1},

	{"Chernihiv", "Чернігів", "Chernigov", 2, 51.4982, 31.2893, 3},
	{"Nizhyn", "Ніжин", "Nezhin", 2, 51.0480, 31.8860, 1},
	{"Pryluky", "Прилуки", "Priluki", 2, 50.5930, 32.3870, 0.6},
	{"Novhorod-Siverskyi", "Новгород-Сіверський", "Novgorod-Severskiy", 2, 51.9870, 33.2620, 1},

	{"Sumy", "Суми", "", 3, 50.9077, 34.7981, 3},
	{"Okhtyrka", "Охтирка", "Akhtyrka", 3, 50.3100, 34.8990, 2},
	{"Konotop", "Конотоп", "", 3, 51.2400, 33.2000, 1},
	{"Shostka", "Шостка", "", 3, 51.8660, 33.4800, 0.7},
	{"Romny", "Ромни", "", 3, 50.7500, 33.4740, 0.6},
	{"Bilopillia", "Білопілля", "Belopolye", 3, 51.1500, 34.3100, 1},

	{"Kharkiv", "Харків", "Kharkov", 4, 49.9935, 36.2304, 5},
	{"Izium", "Ізюм", "Izyum", 4, 49.2120, 37.2560, 2},
	{"Kupiansk", "Куп’янськ", "Kupyansk", 4, 49.7100, 37.6150, 2},
	{"Chuhuiv", "Чугуїв", "Chuguev", 4, 49.8350, 36.6880, 1},
	{"Balakliia", "Балаклія", "Balakleya", 4, 49.4620, 36.8600, 1},
	{"Lozova", "Лозова", "Lozovaya", 4, 48.8890, 36.3170, 0.7},
	{"Vovchansk", "Вовчанськ", "Volchansk", 4, 50.2900, 36.9400, 1.5},
	{"Bohodukhiv", "Богодухів", "Bogodukhov", 4, 50.1650, 35.5270, 0.5},

	{"Sievierodonetsk", "Сєвєродонецьк", "Severodonetsk", 5, 48.9480, 38.4910, 2},
	{"Lysychansk", "Лисичанськ", "Lisichansk", 5, 48.9040, 38.4420, 2},
	{"Rubizhne", "Рубіжне", "Rubezhnoye", 5, 49.0120, 38.3790, 1},
	{"Popasna", "Попасна", "Popasnaya", 5, 48.6330, 38.3800, 1},
	{"Starobilsk", "Старобільськ", "Starobelsk", 5, 49.2780, 38.9100, 0.7},
	{"Kreminna", "Кремінна", "Kremennaya", 5, 49.0470, 38.2180, 1},
	{"Luhansk", "Луганськ", "Lugansk", 5, 48.5740, 39.3080, 0.6},

	{"Kramatorsk", "Краматорськ", "", 6, 48.7389, 37.5848, 2},
	{"Sloviansk", "Слов’янськ", "Slavyansk", 6, 48.8520, 37.6050, 2},
	{"Mariupol", "Маріуполь", "", 6, 47.0971, 37.5434, 3},
	{"Bakhmut", "Бахмут", "Artemovsk", 6, 48.5950, 38.0000, 2},
	{"Pokrovsk", "Покровськ", "Krasnoarmeysk", 6, 48.2820, 37.1750, 1.5},
	{"Kostiantynivka", "Костянтинівка", "Konstantinovka", 6, 48.5270, 37.7070, 1.5},
	{"Druzhkivka", "Дружківка", "Druzhkovka", 6, 48.6300, 37.5500, 1},
	{"Vuhledar", "Вугледар", "Ugledar", 6, 47.7790, 37.2490, 1},
	{"Avdiivka", "Авдіївка", "Avdeevka", 6, 48.1390, 37.7430, 1.5},
	{"Lyman", "Лиман", "", 6, 48.9860, 37.8100, 1},
	{"Volnovakha", "Волноваха", "", 6, 47.6000, 37.5000, 1},
	{"Toretsk", "Торецьк", "", 6, 48.3970, 37.8470, 0.8},
	{"Kurakhove", "Курахове", "Kurakhovo", 6, 47.9860, 37.2800, 0.8},
	{"Myrnohrad", "Мирноград", "Dimitrov", 6, 48.3030, 37.2600, 0.7},

	{"Zaporizhzhia", "Запоріжжя", "Zaporozhye", 7, 47.8388, 35.1396, 3},
	{"Melitopol", "Мелітополь", "", 7, 46.8489, 35.3653, 1.5},
	{"Enerhodar", "Енергодар", "Energodar", 7, 47.4990, 34.6570, 1},
	{"Berdiansk", "Бердянськ", "Berdyansk", 7, 46.7580, 36.7840, 1},
	{"Orikhiv", "Оріхів", "Orekhov", 7, 47.5680, 35.7850, 1.5},
	{"Huliaipole", "Гуляйполе", "Gulyaipole", 7, 47.6640, 36.2560, 1},
	{"Tokmak", "Токмак", "", 7, 47.2550, 35.7120, 0.6},
	{"Vasylivka", "Василівка", "Vasilyevka", 7, 47.4400, 35.2800, 0.6},

	{"Kherson", "Херсон", "", 8, 46.6354, 32.6169, 4},
	{"Nova Kakhovka", "Нова Каховка", "Novaya Kakhovka", 8, 46.7550, 33.3480, 1.5},
	{"Beryslav", "Берислав", "Berislav", 8, 46.8400, 33.4250, 1},
	{"Skadovsk", "Скадовськ", "", 8, 46.1160, 32.9110, 0.6},
	{"Henichesk", "Генічеськ", "Genichesk", 8, 46.1710, 34.8030, 0.6},
	{"Oleshky", "Олешки", "Aleshki", 8, 46.6260, 32.7160, 0.8},

	{"Mykolaiv", "Миколаїв", "Nikolaev", 9, 46.9750, 31.9946, 3},
	{"Voznesensk", "Вознесенськ", "", 9, 47.5680, 31.3330, 0.8},
	{"Ochakiv", "Очаків", "Ochakov", 9, 46.6120, 31.5480, 1},
	{"Bashtanka", "Баштанка", "", 9, 47.4070, 32.4390, 0.6},
	{"Snihurivka", "Снігурівка", "Snigirevka", 9, 47.0750, 32.8050, 0.8},

	{"Odesa", "Одеса", "Odessa", 10, 46.4825, 30.7233, 4},
	{"Izmail", "Ізмаїл", "", 10, 45.3500, 28.8370, 1},
	{"Bilhorod-Dnistrovskyi", "Білгород-Дністровський", "Belgorod-Dnestrovskiy", 10, 46.1900, 30.3400, 1},
	{"Chornomorsk", "Чорноморськ", "Chernomorsk", 10, 46.3010, 30.6550, 0.6},

	{"Dnipro", "Дніпро", "Dnepr", 11, 48.4647, 35.0462, 3},
	{"Kryvyi Rih", "Кривий Ріг", "Krivoy Rog", 11, 47.9105, 33.3918, 2},
	{"Nikopol", "Нікополь", "", 11, 47.5670, 34.3960, 2},
	{"Pavlohrad", "Павлоград", "Pavlograd", 11, 48.5350, 35.8700, 0.8},
	{"Kamianske", "Кам’янське", "Dneprodzerzhinsk", 11, 48.5110, 34.6020, 0.6},

	{"Poltava", "Полтава", "", 12, 49.5883, 34.5514, 2},
	{"Kremenchuk", "Кременчук", "Kremenchug", 12, 49.0650, 33.4100, 2},
	{"Myrhorod", "Миргород", "Mirgorod", 12, 49.9680, 33.6090, 0.6},

	{"Kropyvnytskyi", "Кропивницький", "Kirovograd", 13, 48.5079, 32.2623, 1},

	{"Cherkasy", "Черкаси", "Cherkassy", 14, 49.4444, 32.0598, 1},
	{"Uman", "Умань", "", 14, 48.7484, 30.2218, 1},

	{"Vinnytsia", "Вінниця", "Vinnitsa", 15, 49.2331, 28.4682, 2},
	{"Haisyn", "Гайсин", "Gaysin", 15, 48.8100, 29.3900, 0.5},

	{"Zhytomyr", "Житомир", "Zhitomir", 16, 50.2547, 28.6587, 2},
	{"Korosten", "Коростень", "", 16, 50.9500, 28.6380, 1},
	{"Ovruch", "Овруч", "", 16, 51.3240, 28.8080, 0.7},

	{"Rivne", "Рівне", "Rovno", 17, 50.6199, 26.2516, 1},
	{"Lutsk", "Луцьк", "", 18, 50.7472, 25.3254, 1},

	{"Lviv", "Львів", "Lvov", 19, 49.8397, 24.0297, 3},
	{"Yavoriv", "Яворів", "Yavorov", 19, 49.9380, 23.3830, 1},
	{"Stryi", "Стрий", "", 19, 49.2600, 23.8500, 0.6},

	{"Ternopil", "Тернопіль", "Ternopol", 20, 49.5535, 25.5948, 1},
	{"Khmelnytskyi", "Хмельницький", "Khmelnitskiy", 21, 49.4229, 26.9871, 1},
	{"Starokostiantyniv", "Старокостянтинів", "Starokonstantinov", 21, 49.7560, 27.2030, 1},
	{"Ivano-Frankivsk", "Івано-Франківськ", "Ivano-Frankovsk", 22, 48.9226, 24.7111, 1},
	{"Burshtyn", "Бурштин", "", 22, 49.2600, 24.6300, 0.7},
	{"Mukachevo", "Мукачево", "", 23, 48.4390, 22.7170, 1},
	{"Chernivtsi", "Чернівці", "Chernovtsy", 24, 48.2921, 25.9358, 1},

	{"Simferopol", "Сімферополь", "", 25, 44.9521, 34.1024, 2},
	{"Kerch", "Керч", "", 25, 45.3570, 36.4680, 1},
	{"Yevpatoriia", "Євпаторія", "Yevpatoria", 25, 45.2000, 33.3580, 1},
	{"Sevastopol", "Севастополь", "", 26, 44.6166, 33.5254, 1},
}
