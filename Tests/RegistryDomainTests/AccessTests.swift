import Testing

@testable import RegistryDomain

@Suite("Access policy and login throttling rules")
struct AccessPolicyTests {
    func policy() throws -> AccessPolicy {
        try AccessPolicy(
            version: 1,
            actions: ["a.read": "", "a.write": ""],
            grants: [.admin: ["a.read", "a.write"], .employer: ["a.read"]]
        )
    }

    @Test("anything not granted is denied; anonymous callers are told to sign in")
    func denyByDefault() throws {
        let p = try policy()
        #expect(p.permits(.admin, "a.write"))
        #expect(!p.permits(.employer, "a.write"))
        #expect(!p.permits(.worker, "a.read"))  // role not listed at all
        #expect(!p.permits(.admin, "unknown.action"))
        #expect(throws: RegistryError.unauthenticated) { try p.authorize(.anonymous, "a.read") }
        let employer = Principal(.user(id: .n(1), role: .employer, agencyID: nil, workerID: nil))
        #expect(throws: RegistryError.forbidden) { try p.authorize(employer, "a.write") }
        try p.authorize(employer, "a.read")
    }

    @Test("granting an action the policy does not define is a policy error naming the role")
    func unknownAction() {
        #expect(throws: PolicyError(path: ["roles", "employer"], message: "grants unknown action 'b.read'")) {
            try AccessPolicy(version: 1, actions: ["a.read": ""], grants: [.employer: ["b.read"]])
        }
    }

    @Test("blocks start at the allowance, double, and never exceed the cap")
    func throttle() {
        let t = LoginThrottlePolicy(
            accountFailuresAllowed: 5,
            addressFailuresAllowed: 30,
            windowSeconds: 900,
            baseBlockSeconds: 30,
            maxBlockSeconds: 900
        )
        #expect(t.blockSeconds(afterFailures: 4, allowed: 5) == 0)
        #expect(t.blockSeconds(afterFailures: 5, allowed: 5) == 30)
        #expect(t.blockSeconds(afterFailures: 6, allowed: 5) == 60)
        #expect(t.blockSeconds(afterFailures: 9, allowed: 5) == 480)
        #expect(t.blockSeconds(afterFailures: 10, allowed: 5) == 900)
        #expect(t.blockSeconds(afterFailures: 10_000, allowed: 5) == 900)
    }

    @Test("an invalid throttle policy is refused")
    func invalidThrottle() {
        #expect(throws: PolicyError.self) {
            try LoginThrottlePolicy(accountFailuresAllowed: 0).validate()
        }
        #expect(throws: PolicyError.self) {
            try LoginThrottlePolicy(baseBlockSeconds: 100, maxBlockSeconds: 10).validate()
        }
    }
}

@Suite("Transfer state machine")
struct TransferMachineTests {
    /// Every (state, event) pair: exactly the drawn arrows are legal.
    @Test("every legal and illegal transition", arguments: TransferStatus.allCases)
    func transitions(from status: TransferStatus) throws {
        let legal: [TransferStatus: [TransferEvent: TransferStatus]] = [
            .requested: [.consent: .consented, .reject: .rejected, .cancel: .cancelled, .expire: .expired],
            .consented: [.seal: .completed, .deadline: .completed, .cancel: .cancelled],
            .completed: [:], .rejected: [:], .cancelled: [:], .expired: [:],
        ]
        for event in TransferEvent.allCases {
            if let expected = legal[status]?[event] {
                #expect(try TransferMachine.apply(event, to: status) == expected)
            } else {
                let error = #expect(throws: RegistryError.self) { try TransferMachine.apply(event, to: status) }
                #expect(error?.code == "illegal_transition")
                #expect(error?.details["allowed"] == TransferMachine.allowed(in: status).map(\.rawValue).joined(separator: ","))
            }
        }
        #expect(status.isOpen == !(legal[status] ?? [:]).isEmpty)
    }
}

@Suite("Worker registration rules")
struct WorkerRegistrationTests {
    let today = CivilDate(year: 2026, month: 11, day: 25)!

    func input(_ id: String, sex: String = "F", region: String = "320102", categories: [String] = ["nanny"]) -> WorkerRegistration.Input {
        .init(idNumber: id, fullName: " 李秀英 ", sex: sex, phone: "138 0013 8000", homeRegion: region, serviceCategories: categories)
    }

    func id(_ birth: String, serial: String) -> String {
        let body = "320102" + birth + serial
        return body + String(NationalID.checkCharacter(for: body)!)
    }

    @Test("a valid registration is normalised")
    func valid() throws {
        let r = try WorkerRegistration(
            input(id("19850615", serial: "128"), sex: "女", categories: ["nanny", "cooking", "nanny"]),
            today: today,
            ages: 16...70,
            sectors: .fixture
        )
        #expect(r.fullName == "李秀英")
        #expect(r.sex == .female)
        #expect(r.phone == "13800138000")
        #expect(r.categories == [.nanny, .cooking])
    }

    @Test("the stated sex must match the ID's sex digit")
    func sexMismatch() {
        let error = #expect(throws: RegistryError.self) {
            try WorkerRegistration(input(id("19850615", serial: "128"), sex: "M"), today: today, ages: 16...70, sectors: .fixture)
        }
        #expect(error?.code == "sex_mismatch")
    }

    @Test("implausible ages are refused", arguments: ["20150101", "19400101"])
    func ages(birth: String) {
        let error = #expect(throws: RegistryError.self) {
            try WorkerRegistration(input(id(birth, serial: "128")), today: today, ages: 16...70, sectors: .fixture)
        }
        #expect(error?.code == "implausible_age")
    }

    @Test("unknown categories, bad regions and empty names are refused")
    func other() {
        expectError("unknown_category") {
            try WorkerRegistration(input(id("19850615", serial: "128"), categories: ["gardening"]), today: today, ages: 16...70, sectors: .fixture)
        }
        expectError("missing_field") {
            try WorkerRegistration(input(id("19850615", serial: "128"), categories: []), today: today, ages: 16...70, sectors: .fixture)
        }
        expectError("invalid_field", field: "home_region") {
            try WorkerRegistration(input(id("19850615", serial: "128"), region: "99010"), today: today, ages: 16...70, sectors: .fixture)
        }
        for blank in ["", "   ", "\u{3000}"] {
            var nameless = input(id("19850615", serial: "128"))
            nameless.fullName = blank
            expectError("invalid_field", field: "full_name") { try WorkerRegistration(nameless, today: today, ages: 16...70, sectors: .fixture) }
        }
    }

    @Test("CSV: quotes, doubled quotes, CRLF, empty lines and line numbers")
    func csv() {
        let records = CSV.parse("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\nlast,\"multi\nline\"\n")
        #expect(records.count == 3)
        #expect(records[1] == CSV.Record(line: 2, fields: ["x, y", "say \"hi\""]))
        #expect(records[2] == CSV.Record(line: 4, fields: ["last", "multi\nline"]))
        #expect(CSV.parse("\u{FEFF}id_number,full_name\n").first?.fields == ["id_number", "full_name"])
    }
}
