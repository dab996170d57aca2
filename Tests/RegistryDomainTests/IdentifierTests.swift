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
        #expect(id.masked == "110105**********2X")
        #expect("\(id)" == "110105**********2X")
    }

    @Test("a lower-case x and surrounding spaces are accepted")
    func normalises() throws {
        #expect(try NationalID(" 11010519491231002x ", today: today).value == "11010519491231002X")
    }

    @Test("wrong check digit, length, characters, dates and regions are refused with their own codes",
          arguments: [
              ("110105194912310021", "id_number_checksum"),
              ("11010519491231002", "id_number_length"),
              ("1101051949123100211", "id_number_length"),
              ("11010519491A31002X", "id_number_format"),
              ("11010519491231002Y", "id_number_format"),
              ("１１010519491231002X", "id_number_format"),
          ])
    func refused(raw: String, code: String) {
        #expect(throws: RegistryError.self) { try NationalID(raw, today: today) }
        do { _ = try NationalID(raw, today: today) } catch { #expect(error.code == code) }
    }

    @Test("an impossible or future birth date is refused even with a correct check digit")
    func birthDates() throws {
        for body in ["11010519490231002", "11010520300101002", "11010518500101002"] {
            let check = try #require(NationalID.checkCharacter(for: body))
            #expect(throws: RegistryError.self) { try NationalID(body + String(check), today: today) }
        }
    }

    @Test("an unknown province code is refused")
    func region() throws {
        let body = "99010519900101002"
        let check = try #require(NationalID.checkCharacter(for: body))
        #expect(throws: RegistryError.self) { try NationalID(body + String(check), today: today) }
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

    @Test("a wrong check character or a forbidden letter is refused",
          arguments: ["91350100M000100Y44", "91350100M000100Y4", "91350100I000100Y43", "9135O100M000100Y43"])
    func invalid(code: String) {
        #expect(throws: RegistryError.self) { try SocialCreditCode(code) }
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
