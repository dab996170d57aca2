import Testing

@testable import RegistryDomain

@Suite("Flag file lines")
struct FlagFileFormatTests {
    static let policy = FlagPolicy(
        version: 1,
        categories: [
            "theft": .init(source: .police, zh: "盗窃", en: "Theft"),
            "loan_fraud": .init(source: .creditBureau, zh: "骗贷", en: "Loan fraud", expiryYears: 5),
            "debt_default": .init(source: .creditBureau, zh: "欠债不还", en: "Debt default", expiryYears: 5),
            "fare_evasion": .init(source: .creditBureau, zh: "逃票", en: "Fare evasion", expiryYears: 2),
            "bounced_cheque": .init(source: .creditBureau, zh: "空头支票", en: "Bounced cheque"),
        ],
        batchLimit: 1000,
        signatureMaxSkewSeconds: 300,
        effects: []
    )
    static let today = CivilDate(year: 2026, month: 6, day: 15)!
    static let header = ["id_number", "reference", "category", "severity", "status", "occurred_on", "expires_on", "narrative"]

    static func idNumber(_ body: String) -> String {
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        let sum = zip(body, weights).reduce(0) { $0 + $1.0.wholeNumberValue! * $1.1 }
        return body + String(Array("10X98765432")[sum % 11])
    }

    /// A valid number whose check character is X.
    static let endingInX = (0..<1000).lazy.map { idNumber("1101051990010" + String(1000 + $0).dropFirst()) }.first { $0.hasSuffix("X") }!

    static func format(_ header: [String] = header) throws -> FlagFileFormat {
        try FlagFileFormat(header: header, kind: .creditBureau, policy: policy, today: today)
    }

    @Test("the common line is checked on its bytes, with the content FlagSubmission gives it")
    func quickLine() throws {
        let format = try Self.format()
        let id = Self.idNumber("32010219850615128")
        for (text, narrative) in [
            ("\(id),CB-00000001,debt_default,3,adjudicated,2025-02-28,,", nil as String?),
            ("\(id),CB-2/x:y_z.w,loan_fraud,5,charged,2024-02-29,2030-01-01,逾期三次，催收无果", "逾期三次，催收无果"),
            ("\(id),B,bounced_cheque,1,alleged,1900-01-01,,  x  ", "x"),
        ] {
            let quick = try #require(format.quickCheck(Array(text.utf8)), "\(text)")
            #expect(format.fullCheck(text) == .valid(quick))
            #expect(quick.narrative == narrative)
            // The content hashed is FlagSubmission's canonical content, byte for byte.
            let fields = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let submission = try FlagSubmission(
                .init(
                    idNumber: fields[0],
                    reference: fields[1],
                    category: fields[2],
                    severity: Int(fields[3])!,
                    status: fields[4],
                    occurredOn: fields[5],
                    expiresOn: fields[6],
                    narrative: fields[7]
                ),
                source: .creditBureau,
                policy: Self.policy,
                today: Self.today
            )
            var content: [UInt8] = []
            format.appendContent(of: quick, to: &content)
            #expect(content == Array(submission.canonicalContent.utf8))
        }
    }

    @Test("whatever the quick check accepts, the full check accepts alike; what it leaves, the full check decides")
    func quickAgreesWithFull() throws {
        let id = Self.idNumber("11010519900101002")
        let base = ["\(id)", "CB-1", "debt_default", "2", "adjudicated", "2025-01-31", "", "note"]
        // Replacement values per column: valid spellings, spellings that need trimming or
        // parsing, and wrong values.
        let variants: [[String]] = [
            [
                id, id.lowercased(), " \(id)", "\(id) ", String(Self.endingInX.dropLast()) + "x", Self.endingInX,
                Self.idNumber("11010520300101002"), Self.idNumber("11010518991231002"), Self.idNumber("99010519900101002"),
                Self.idNumber("11010519900230002"), String(id.dropLast()) + "0", "１" + id.dropFirst(), "", "\"\(id)\"",
            ],
            ["CB-1", " CB-1", "CB 1", "", String(repeating: "a", count: 128), String(repeating: "a", count: 129), "CB-１", "\"CB,1\"", "CB\t1"],
            ["debt_default", "fare_evasion", "bounced_cheque", "theft", "Debt_default", " debt_default", "unknown", ""],
            ["1", "5", "0", "6", " 3", "03", "+3", "three", "", "3.0"],
            ["alleged", "charged", "convicted", "adjudicated", "retracted", "Alleged", " alleged", ""],
            [
                "2025-01-31", "2024-02-29", "2025-02-29", "1899-12-31", "1900-01-01", "2026-06-15", "2026-06-16", " 2025-01-31",
                "2025-1-31", "2025/01/31", "+025-01-31", "",
            ],
            ["", "2025-01-31", "2025-01-30", "2030-12-31", " ", "2025-13-01", "9999-12-31", "\"\""],
            [
                "", " ", "note", " note ", "\"a, b\"", "\"a\"\"b\"", "逾期", "a\u{202E}b", "a\u{7}b", String(repeating: "长", count: 4000),
                String(repeating: "长", count: 4001), "\u{3000}note\u{3000}", "\"line\nbreak\"",
            ],
        ]
        var quick = 0
        var full = 0
        for format in [try Self.format(), try Self.format(Self.header.reversed()), try Self.format(Array(Self.header.prefix(6)) + ["extra"])] {
            for column in variants.indices {
                for value in variants[column] {
                    var fields = base
                    fields[column] = value
                    var line: [String]
                    if format.width == 8 && format.position[0] == 7 {
                        line = fields.reversed()
                    } else if format.width == 7 {
                        line = Array(fields.prefix(6)) + ["whatever"]
                    } else {
                        line = fields
                    }
                    for text in [
                        line.joined(separator: ","), "\u{FEFF}" + line.joined(separator: ","), line.joined(separator: ",") + ",",
                        line.dropLast().joined(separator: ","), line.joined(separator: ",") + "\r",
                    ] {
                        if let accepted = format.quickCheck(Array(text.utf8)) {
                            quick += 1
                            #expect(format.fullCheck(text) == .valid(accepted), "\(text)")
                        } else {
                            full += 1
                        }
                        #expect(format.check(Array(text.utf8)) == format.fullCheck(text), "\(text)")
                    }
                }
            }
        }
        #expect(quick > 50 && full > 200)
    }

    @Test("a header without the required columns is refused, naming them")
    func header() {
        #expect(throws: FlagFileFormat.BadHeader.self) { try Self.format(["id_number", "reference"]) }
        #expect((try? Self.format([" ID_Number", "Reference ", "category", "severity", "status", "occurred_on"]))?.width == 6)
    }
}
