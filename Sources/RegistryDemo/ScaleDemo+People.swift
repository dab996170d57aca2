import Foundation
import RegistryDomain
import RegistryServices

/// A small, fast, seedable generator (SplitMix64): every batch of synthetic data draws from its
/// own stream, so a run is reproducible with `--seed` whatever the scheduling of the batches.
struct DemoRandom: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64, stream: UInt64) {
        state = seed &+ stream &* 0x9E37_79B9_7F4A_7C15
        _ = next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0 ..< n.
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }

    /// 0.0 ..< 1.0.
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func chance(_ p: Double) -> Bool { unit() < p }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// Plausible people, places and organisations for synthetic data. Region codes are real
/// county-level divisions (GB/T 2260); ID numbers carry real GB 11643 check characters.
enum DemoPeople {
    /// City districts where agencies and employers are.
    static let cityDistricts = [
        "110101", "110102", "110105", "110106", "110108", "110111", "120101", "120103", "120104", "130102", "130104", "140105",
        "150102", "210102", "210202", "220102", "230102", "310101", "310104", "310105", "310106", "310107", "310110", "310112",
        "310115", "320102", "320104", "320106", "320113", "320205", "320506", "330102", "330105", "330106", "330108", "330203",
        "340102", "340104", "350102", "350103", "350104", "350203", "350206", "360102", "370102", "370103", "370202", "410102",
        "410105", "420102", "420106", "420111", "430102", "430104", "430111", "440103", "440104", "440105", "440106", "440303",
        "440304", "440305", "450102", "460105", "500103", "500106", "500112", "510104", "510105", "510107", "520102", "530102",
        "610103", "610113", "620102", "630102", "640104", "650102",
    ]

    /// Counties many domestic workers come from (labour-exporting provinces), besides the cities.
    static let originCounties = [
        "341221", "341222", "341226", "341623", "340822", "411526", "411523", "411622", "411627", "411721", "511321", "511322",
        "511921", "430522", "431121", "360721", "620421", "520221", "500229", "500235", "500236", "421122", "420281", "321323",
        "320923", "371321", "371723", "130927", "230183", "450881", "530381", "362321", "422822", "452226", "612426", "140427",
    ]

    static let cities: [String: String] = [
        "1101": "北京", "1201": "天津", "1301": "石家庄", "1401": "太原", "1501": "呼和浩特", "2101": "沈阳", "2102": "大连",
        "2201": "长春", "2301": "哈尔滨", "3101": "上海", "3201": "南京", "3202": "无锡", "3205": "苏州", "3301": "杭州",
        "3302": "宁波", "3401": "合肥", "3501": "福州", "3502": "厦门", "3601": "南昌", "3701": "济南", "3702": "青岛",
        "4101": "郑州", "4201": "武汉", "4301": "长沙", "4401": "广州", "4403": "深圳", "4501": "南宁", "4601": "海口",
        "5001": "重庆", "5101": "成都", "5201": "贵阳", "5301": "昆明", "6101": "西安", "6201": "兰州", "6301": "西宁",
        "6401": "银川", "6501": "乌鲁木齐",
    ]

    static let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤").map(
        String.init
    )

    static let femaleGiven = [
        "秀英", "桂英", "秀兰", "玉兰", "桂兰", "秀珍", "凤英", "玉珍", "玉梅", "凤兰", "春梅", "美华", "丽娟", "海燕", "淑芬", "慧敏",
        "小红", "丽华", "秀梅", "红梅", "金凤", "晓燕", "艳", "丽", "芳", "敏", "静", "燕", "娟", "霞", "萍", "红", "玲", "琴", "云",
        "莉", "梅", "兰", "英", "华", "丹", "雪梅", "建芳", "春燕", "翠兰", "月娥", "素珍", "桂芳", "丽萍", "秀云", "玉芳", "彩霞",
        "爱华", "冬梅", "春花", "秋菊", "翠花", "宝珍", "巧云", "淑华", "晓红", "美玲",
    ]

    static let maleGiven = [
        "建国", "建华", "国强", "志强", "伟", "强", "军", "勇", "磊", "涛", "明", "超", "刚", "平", "辉", "鹏", "华", "飞", "斌",
        "建军", "红军", "文", "海", "波", "林", "峰", "东", "俊",
    ]

    static let agencyBrands = [
        "安心", "金牌", "好帮手", "贴心", "阳光", "康乐", "福满", "和美", "暖阳", "爱家", "恒信", "诚信", "巧手", "佳音", "嘉禾",
        "瑞祥", "惠民", "乐邦", "优嫂", "喜月", "童心", "孝心", "颐和", "春晖", "馨悦", "家和", "顺心", "月亮湾", "百合", "德馨",
    ]

    static let agencyKinds = ["家政服务有限公司", "家政服务中心", "母婴护理服务有限公司", "养老护理服务有限公司", "家庭服务有限公司"]

    static let mobilePrefixes = [
        "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
        "157", "158", "159", "177", "180", "181", "182", "185", "186", "187", "188", "189",
    ]

    static func name(female: Bool, _ rng: inout DemoRandom) -> String {
        // Frequent surnames are frequent: the square biases towards the front of the list.
        let s = surnames[Int(Double(surnames.count) * rng.unit() * rng.unit())]
        return s + (female ? rng.pick(femaleGiven) : rng.pick(maleGiven))
    }

    static func mobile(_ rng: inout DemoRandom) -> String {
        rng.pick(mobilePrefixes) + String(format: "%08d", rng.below(100_000_000))
    }

    /// 17 digits as a number: region (6), birth date (8), serial (3).
    static func body(region: String, birth: CivilDate, serial: Int) -> UInt64 {
        UInt64(region)! * 100_000_000_000 + UInt64(birth.year * 10_000 + birth.month * 100 + birth.day) * 1000 + UInt64(serial)
    }

    /// The 18-character ID number for a 17-digit body, with its check character.
    static func idNumber(_ body: UInt64) -> String {
        let digits = String(body)
        let padded = String(repeating: "0", count: 17 - digits.count) + digits
        return padded + String(NationalID.checkCharacter(for: padded)!)
    }

    static func birthDate(of body: UInt64) -> CivilDate {
        let ymd = Int((body / 1000) % 100_000_000)
        return CivilDate(year: ymd / 10_000, month: ymd / 100 % 100, day: ymd % 100)!
    }

    static func region(of body: UInt64) -> String { String(format: "%06d", Int(body / 100_000_000_000)) }

    /// A unified social credit code (GB 32100-2015) with a valid check character.
    static func uscc(region: String, _ rng: inout DemoRandom) -> String {
        let alphabet = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")
        let first17 = "91" + region + "MA" + String((0..<7).map { _ in alphabet[rng.below(alphabet.count)] })
        return first17 + String(SocialCreditCode.checkCharacter(for: first17)!)
    }

    static func city(of region: String) -> String { cities[String(region.prefix(4))] ?? "" }

    // Texts an agency writes on a tenure.
    static let workAbility = [
        "能独立完成日常照护", "熟练掌握婴幼儿护理", "擅长老人起居照料与康复陪护", "家务整理井井有条，烹饪水平较好",
        "具备产妇护理和新生儿护理经验", "沟通能力强，服务意识好", "能胜任住家服务", "动手能力强，学习新技能较快",
    ]
    static let feedback = ["雇主评价良好", "多位雇主反馈认真负责", "雇主反馈守时可靠", "个别雇主反映沟通不足，已培训改进", "雇主普遍满意"]
    static let healthStatus = ["健康", "健康证有效", "体检合格"]

    // Police and credit-bureau narratives (synthetic; stored sealed, never shown on reports).
    static let policeNarratives = [
        "接群众报警后出警处置，当事人对情况供认不讳。", "经调查，涉案财物已追回并发还失主。", "案件已移送检察机关审查起诉。",
        "经调解，双方达成和解。", "当事人被处以行政拘留。",
    ]
    static let bureauNarratives = ["逾期超过九十天未归还。", "经多次催收仍未还款。", "已与债权人达成还款计划。"]
}
