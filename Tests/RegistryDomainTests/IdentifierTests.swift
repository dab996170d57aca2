import Testing

@testable import RegistryDomain

@Suite("National ID numbers (GB 11643)")
struct NationalIDTests {
    let today = CivilDate(year: 2026, month: 11, day: 25)!

    @Test("the reference number is valid and reads its birth date and sex")
    func reference() throws {
        let id = try NationalID("11010519491231002X", today: today)
        #expect(id.birthDate == CivilDate(year: 1949, month: 12, day: 31))
        #expect(id.sex == .female)
        #expect(id.regionCode == "110105")
        #expect(id.masked == "11***************X")
        #expect("\(id)" == "11***************X")
    }

    @Test("a lower-case x and surrounding spaces are accepted")
    func normalises() throws {
        #expect(try NationalID(" 11010519491231002x ", today: today).value == "11010519491231002X")
    }

    @Test(
        "wrong check digit, length, characters, dates and regions are refused with their own codes",
        arguments: [
            ("110105194912310021", "id_number_checksum"),
            ("11010519491231002", "id_number_length"),
            ("1101051949123100211", "id_number_length"),
            ("11010519491A31002X", "id_number_format"),
            ("11010519491231002Y", "id_number_format"),
            ("１１010519491231002X", "id_number_format"),
        ]
    )
    func refused(raw: String, code: String) {
        expectError(code) { try NationalID(raw, today: today) }
    }

    @Test("an impossible or future birth date is refused even with a correct check digit")
    func birthDates() throws {
        for body in ["11010519490231002", "11010520300101002", "11010518500101002"] {
            let check = try #require(NationalID.checkCharacter(for: body))
            expectError("id_number_birth_date") { try NationalID(body + String(check), today: today) }
        }
    }

    @Test("an unknown province code is refused")
    func region() throws {
        let body = "99010519900101002"
        let check = try #require(NationalID.checkCharacter(for: body))
        expectError("id_number_region") { try NationalID(body + String(check), today: today) }
    }

    @Test("generated numbers validate: the check character helper agrees with the validator")
    func generated() throws {
        for serial in 100..<140 {
            let body = "32010219900615\(serial)"
            let check = try #require(NationalID.checkCharacter(for: body))
            let id = try NationalID(body + String(check), today: today)
            #expect(id.sex == (serial % 2 == 1 ? .male : .female))
        }
    }
}

@Suite("Unified social credit codes (GB 32100)")
struct SocialCreditCodeTests {
    @Test("real codes validate", arguments: ["91350100M000100Y43", "91110108MA01KPGK0L", "914403001922038216"])
    func valid(code: String) throws {
        #expect(try SocialCreditCode(code).value == code)
    }

    @Test(
        "a wrong check character or a forbidden letter is refused",
        arguments: [
            ("91350100M000100Y44", "uscc_checksum"), ("91350100M000100Y4", "uscc_length"),
            ("91350100I000100Y43", "uscc_format"), ("9135O100M000100Y43", "uscc_format"),
        ]
    )
    func invalid(code: String, error: String) {
        expectError(error) { try SocialCreditCode(code) }
    }

    @Test("the helper's check character is what the validator wants")
    func helper() throws {
        let check = try #require(SocialCreditCode.checkCharacter(for: "91350100M000100Y4"))
        #expect(check == "3")
    }
}

@Suite("Contact normalisation")
struct ContactTests {
    @Test func emails() {
        #expect(Contact.normalizedEmail("  Li.Na@Example.CN ") == "li.na@example.cn")
        #expect(Contact.normalizedEmail("no-at-sign") == nil)
        #expect(Contact.normalizedEmail("a@b") == nil)
        #expect(Contact.normalizedEmail("a b@c.cn") == nil)
    }

    @Test func phones() {
        #expect(Contact.normalizedPhone("138 0013-8000") == "13800138000")
        #expect(Contact.normalizedPhone("+8613800138000") == "13800138000")  // one number, however typed
        #expect(Contact.normalizedPhone("12345") == nil)
        #expect(Contact.normalizedPhone("1380013800a") == nil)
    }
}

@Suite("Client address behind proxies")
struct ClientAddressTests {
    let proxies = ["10.0.0.0/8", "fd00::/8", "127.0.0.1"].compactMap(ClientAddress.Range.init)

    @Test func rangesParseAndContain() throws {
        let range = try #require(ClientAddress.Range("192.168.4.0/22"))
        #expect(range.contains(ClientAddress.parse("192.168.7.255")!))
        #expect(!range.contains(ClientAddress.parse("192.168.8.0")!))
        #expect(ClientAddress.Range("fd00::/8")!.contains(ClientAddress.parse("fd12:3456::1")!))
        for bad in ["", "10.0.0.0/33", "10.0.0/8", "300.1.1.1", "fd00::/129", "1.2.3.4/-1", "::1::2", "abc", "10.0.0.0/0008"] {
            #expect(ClientAddress.Range(bad) == nil, "\(bad)")
        }
        #expect(ClientAddress.parse("::ffff:10.1.2.3").map(ClientAddress.format) == "10.1.2.3")
        #expect(ClientAddress.parse("2001:db8::1").map(ClientAddress.format) == "2001:db8:0:0:0:0:0:1")
    }

    @Test func aDirectClientIsItsPeerWhateverItClaims() {
        #expect(ClientAddress.resolve(peer: "203.0.113.5", forwarded: [], forwardedFor: ["1.2.3.4"], trusted: proxies) == "203.0.113.5")
        #expect(ClientAddress.resolve(peer: "203.0.113.5", forwarded: [], forwardedFor: ["1.2.3.4"], trusted: []) == "203.0.113.5")
    }

    @Test func behindTrustedProxiesTheFirstUntrustedHopFromTheRightIsTheClient() {
        // The client wrote "6.6.6.6" itself; the proxy appended the real peer it saw.
        #expect(
            ClientAddress.resolve(peer: "10.0.0.2", forwarded: [], forwardedFor: ["6.6.6.6, 198.51.100.7"], trusted: proxies)
                == "198.51.100.7"
        )
        // Two trusted hops.
        #expect(
            ClientAddress.resolve(peer: "10.0.0.2", forwarded: [], forwardedFor: ["198.51.100.7, 10.9.9.9"], trusted: proxies)
                == "198.51.100.7"
        )
        // RFC 7239 Forwarded wins over X-Forwarded-For, with quotes, ports and brackets.
        #expect(
            ClientAddress.resolve(
                peer: "127.0.0.1",
                forwarded: [#"for=6.6.6.6, for="[2001:db8::7]:4711";proto=https"#],
                forwardedFor: ["9.9.9.9"],
                trusted: proxies
            ) == "2001:db8:0:0:0:0:0:7"
        )
        #expect(
            ClientAddress.resolve(peer: "10.0.0.2", forwarded: ["for=198.51.100.9:5000"], forwardedFor: [], trusted: proxies)
                == "198.51.100.9"
        )
        // Garbage in the chain: the last hop the proxies vouch for.
        #expect(ClientAddress.resolve(peer: "10.0.0.2", forwarded: [], forwardedFor: ["_hidden, 10.0.0.3"], trusted: proxies) == "10.0.0.3")
        // No header at all: the proxy itself.
        #expect(ClientAddress.resolve(peer: "10.0.0.2", forwarded: [], forwardedFor: [], trusted: proxies) == "10.0.0.2")
    }
}
