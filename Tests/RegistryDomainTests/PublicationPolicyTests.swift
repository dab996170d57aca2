import Testing

@testable import RegistryDomain

@Suite("Publication policy")
struct PublicationPolicyTests {
    @Test("names keep their first and last character; the middle is masked")
    func names() {
        let mask = PublicationPolicy.Blacklist.maskName
        #expect(mask("张淑芬") == "张*芬")
        #expect(mask("李娜") == "李*")
        #expect(mask("欧阳小明") == "欧**明")
        #expect(mask("王") == "*")
        #expect(mask("") == "")
    }

    @Test("ID numbers keep the policy's first and last characters")
    func idNumbers() {
        var policy = PublicationPolicy.Blacklist()
        #expect(policy.maskIDNumber("32010219850615128X") == "320102********128X")
        policy.idNumberKeepFirst = 0
        policy.idNumberKeepLast = 0
        #expect(policy.maskIDNumber("32010219850615128X") == String(repeating: "*", count: 18))
        #expect(policy.maskIDNumber("1234") == "****")
    }

    @Test(
        "a policy that would publish too much, or unknown fields, is refused",
        arguments: [
            ("unknown field 'phone'", ["blacklist", "fields", "2"]),
            ("at most 10", ["blacklist", "id_number_keep_last"]),
            ("must be 1 to 3650", ["red_list", "min_days"]),
        ]
    )
    func invalid(message: String, path: [String]) {
        var policy = PublicationPolicy()
        if message.hasPrefix("unknown") { policy.blacklist.fields = ["name", "grounds", "phone"] }
        if message.hasPrefix("at most") { policy.blacklist.idNumberKeepFirst = 8 }
        if message.hasPrefix("must be 1 to 3650") { policy.redList.minDays = 0 }
        #expect {
            try policy.validate()
        } throws: { error in
            guard let e = error as? PolicyError else { return false }
            return e.path == path && e.message.contains(message)
        }
    }

    @Test("a case's public reference")
    func reference() {
        #expect(CaseReference.text(year: 2026, number: 42) == "RC-2026-000042")
        #expect(CaseReference.text(year: 2026, number: 1_234_567) == "RC-2026-1234567")
    }
}
