import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

/// Valid test identifiers, generated with the real check-character rules.
enum Fixtures {
    /// A household's own mobile number derived from its e-mail (176 + 8 digits of an FNV-1a hash):
    /// the same e-mail always gets the same number, different e-mails practically never share one.
    static func householdPhone(_ email: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in email.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return "176" + String(format: "%08d", Int(hash % 100_000_000))
    }

    /// A valid ID number: region 320102, birth date, 3-digit serial (odd = male).
    static func idNumber(birth: String = "19850615", serial: Int = 128) -> String {
        let body = "320102" + birth + String(format: "%03d", serial)
        return body + String(NationalID.checkCharacter(for: body)!)
    }

    static func uscc(_ n: Int) -> String {
        let body = "91320100MA" + String(format: "%07d", n)
        return body + String(SocialCreditCode.checkCharacter(for: body)!)
    }

    static func registration(_ id: String, name: String = "李秀英", phone: String? = "13800138000") -> WorkerRegistration.Input {
        let sex = (Int(String(Array(id)[16]))! % 2 == 1) ? "M" : "F"
        return .init(idNumber: id, fullName: name, sex: sex, phone: phone, homeRegion: "320102", serviceCategories: ["nanny", "elder_care"])
    }
}

/// Expects `body` to throw the `RegistryError` with exactly this code (not merely some error).
func expectError<T>(_ code: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async {
    do {
        _ = try await body()
        Issue.record("expected the error \(code), but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as RegistryError {
        #expect(error.code == code, "expected the error \(code), got \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected the error \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

extension Registry {
    /// How many messages of `template` were queued (sent or not).
    func notificationCount(_ template: String) async throws -> Int {
        let rows = try await database.query("SELECT count(*)::int FROM notifications WHERE template = \(template)", logger: testLogger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    /// An approved agency with one staff member; returns the agency id and the staff caller.
    func approvedAgency(_ n: Int, name: String? = nil, approve: Bool = true) async throws -> (id: AgencyID, staff: Caller) {
        let adminID = try await makeUser(
            role: .admin,
            email: "admin\(n)-\(UUID().uuidString.prefix(6).lowercased())@example.cn",
            password: "admin password"
        )
        let admin = Caller(Principal(.user(id: UserID(adminID), role: .admin, agencyID: nil, workerID: nil)))
        let (agencyID, userID) = try await agencies.apply(
            .init(
                name: name ?? "Agency \(n)",
                uscc: Fixtures.uscc(n),
                regionCode: "320102",
                contactName: "Contact \(n)",
                contactPhone: nil,
                contactEmail: "staff\(n)@agency.cn",
                password: "agency password \(n)",
                representative: "法定代表人",
                commitmentVersion: policies.commitments.agency.version
            ),
            caller: .system,
            logger: testLogger
        )
        if approve { _ = try await agencies.decide(agencyID, .approve, reason: nil, caller: admin, logger: testLogger) }
        let staff = Caller(
            Principal(
                .user(
                    id: userID,
                    role: .agencyStaff,
                    agencyID: agencyID,
                    workerID: nil
                )
            )
        )
        // Its contact accepted her own credit commitment at first sign-in (the agency's came with the application).
        _ = try await commitments.accept(.init(kind: "staff", version: policies.commitments.staff.version), caller: staff, logger: testLogger)
        return (agencyID, staff)
    }

    var adminCaller: Caller {
        get async throws {
            let id = try await makeUser(
                role: .admin,
                email: "root-\(UUID().uuidString.prefix(8).lowercased())@example.cn",
                password: "admin password"
            )
            return Caller(Principal(.user(id: UserID(id), role: .admin, agencyID: nil, workerID: nil)))
        }
    }

    /// Reviews whose score arrays or category (what the grader reads) differ from their jsonb
    /// objects (what the pages and the report read) or their engagement's category; every
    /// writer fills both.
    func reviewGraderColumnsDiffering() async throws -> Int {
        let rows = try await database.query(
            """
            SELECT count(*)::int FROM reviews r
            WHERE r.skill_scores <> coalesce((SELECT jsonb_object_agg(d, v) FROM unnest(r.skill_dimensions, r.skill_values) AS u(d, v)), '{}')
               OR r.ethics_scores <> coalesce((SELECT jsonb_object_agg(d, v) FROM unnest(r.ethics_dimensions, r.ethics_values) AS u(d, v)), '{}')
               OR r.skill_dimensions <> ARRAY(SELECT d FROM unnest(r.skill_dimensions) AS d ORDER BY d)
               OR r.ethics_dimensions <> ARRAY(SELECT d FROM unnest(r.ethics_dimensions) AS d ORDER BY d)
               OR r.category <> (SELECT e.category FROM engagements e WHERE e.id = r.engagement_id)
            """,
            logger: testLogger
        )
        for try await n in rows.decode(Int.self) { return n }
        return -1
    }

    func auditCount(_ action: String, subject: UUID? = nil) async throws -> Int {
        let subjectText = subject?.uuidString.lowercased()
        let rows = try await database.query(
            """
            SELECT count(*)::int FROM audit_log WHERE action = \(action) AND (\(subjectText)::text IS NULL OR subject_id = \(subjectText))
            """,
            logger: testLogger
        )
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    /// The last consent code sent by SMS (from the outbox, before delivery clears it).
    func lastConsentCode() async throws -> String? {
        let rows = try await database.query(
            """
            SELECT payload->>'code' FROM notifications WHERE template = 'transfer_consent_code' ORDER BY id DESC LIMIT 1
            """,
            logger: testLogger
        )
        for try await code in rows.decode(String?.self) { return code }
        return nil
    }
}

/// `expectError` for a body that does not suspend.
func expectErrorSync<T>(_ code: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) {
    do {
        _ = try body()
        Issue.record("expected the error \(code), but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as RegistryError {
        #expect(error.code == code, "expected the error \(code), got \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected the error \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects PostgreSQL to refuse `body` with SQLSTATE `state` and a message containing `message`:
/// a missing relation, a syntax error or a permission error where a trigger was meant cannot pass.
func expectSQLError(
    _ state: String,
    _ message: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected PostgreSQL to refuse with \(state) '\(message)', but it did not", sourceLocation: sourceLocation)
    } catch let error as PSQLError {
        let got = error.serverInfo?[.sqlState]
        let text = error.serverInfo?[.message] ?? ""
        #expect(
            got == state && text.contains(message),
            "expected \(state) '\(message)', got \(got ?? "no SQLSTATE") '\(text)'",
            sourceLocation: sourceLocation
        )
    } catch {
        Issue.record("expected PostgreSQL to refuse with \(state), got \(error)", sourceLocation: sourceLocation)
    }
}

/// The one row a query returns, decoded; a query that returns no row fails the test instead of
/// skipping the assertions a `for try await` loop would hold.
func single<T: PostgresDecodable & Sendable>(
    _ rows: some AsyncSequence<PostgresRow, any Error>,
    _ type: T.Type,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> T {
    var values: [T] = []
    for try await value in rows.decode(T.self) { values.append(value) }
    #expect(values.count == 1, "expected one row, got \(values.count)", sourceLocation: sourceLocation)
    return try #require(values.first, sourceLocation: sourceLocation)
}

func single<A: PostgresDecodable & Sendable, B: PostgresDecodable & Sendable>(
    _ rows: some AsyncSequence<PostgresRow, any Error>,
    _ type: (A, B).Type,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> (A, B) {
    var values: [(A, B)] = []
    for try await value in rows.decode((A, B).self) { values.append(value) }
    #expect(values.count == 1, "expected one row, got \(values.count)", sourceLocation: sourceLocation)
    return try #require(values.first, sourceLocation: sourceLocation)
}

extension Registry {
    /// A digest of every table's rows, one per table, for proving that a request changed nothing.
    /// Columns that record only that a credential was used (`last_seen_at`, `last_used_at`) and the
    /// rate-limit counters are left out: a refused request may touch those and nothing else.
    func fingerprint() async throws -> [String: String] {
        var tables: [String] = []
        for try await name in try await database.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'rate_limits' ORDER BY tablename",
            logger: testLogger
        ).decode(String.self) { tables.append(name) }
        // Table names come from the catalog, never from input.
        let sql = tables.map { table in
            """
            SELECT '\(table)', count(*)::int, md5(coalesce(string_agg(md5((to_jsonb(t) - 'last_seen_at' - 'last_used_at')::text), ',' \
            ORDER BY md5((to_jsonb(t) - 'last_seen_at' - 'last_used_at')::text)), '')) FROM "\(table)" t
            """
        }.joined(separator: "\nUNION ALL\n")
        var result: [String: String] = [:]
        for try await (table, count, digest) in try await database.query(PostgresQuery(unsafeSQL: sql), logger: testLogger)
            .decode((String, Int, String).self)
        { result[table] = "\(count) rows \(digest)" }
        return result
    }
}

/// The tables whose digest differs between two fingerprints.
func changedTables(_ before: [String: String], _ after: [String: String]) -> [String] {
    Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
}

extension Registry {
    /// Another household's employer account (region 320102), signed in, with a verified phone
    /// number (`Fixtures.householdPhone(email)`) so that it may confirm placements.
    func employer(_ email: String, household: String) async throws -> Caller {
        let id = try await accounts.registerEmployer(
            .init(email: email, phone: nil, password: "employer password", householdName: household, regionCode: "320102"),
            caller: .system,
            logger: testLogger
        )
        let employer = Caller(Principal(.user(id: id, role: .employer, agencyID: nil, workerID: nil)))
        try await verifyPhone(Fixtures.householdPhone(email), caller: employer)
        return employer
    }

    /// Set-up: the caller's phone number is `phone`, verified (as if she had entered the code sent
    /// there; that flow is HouseholdVerificationTests'), without a message in the outbox or a line
    /// in the audit trail that other tests would count.
    func verifyPhone(_ phone: String, caller: Caller) async throws {
        let user = try #require(caller.userUUID)
        try await database.query("UPDATE users SET phone = \(phone), phone_verified_at = now() WHERE id = \(user)", logger: testLogger)
    }

    /// The household's worker placed as a nanny with the household of `employerEmail` by her
    /// agency; confirmed by `confirmedBy` when given.
    func engagement(
        _ h: Household,
        employerEmail: String = "home@example.cn",
        startsOn: String = "2026-01-01",
        confirmedBy employer: Caller?
    ) async throws -> UUID {
        let e = try await engagements.place(
            .init(workerId: h.workerID.uuid, employerEmail: employerEmail, employerPhone: nil, category: "nanny", startsOn: startsOn),
            caller: h.agency,
            logger: testLogger
        )
        if let employer { _ = try await engagements.transition(e, "confirm", caller: employer, logger: testLogger) }
        return e
    }

    /// A household with a confirmed engagement (so the employer may file), and the case she filed about the worker.
    /// A filed case decided upheld by two administrators and executed after its window: a ban
    /// in force. Its household, case and five administrators.
    func executedBan() async throws -> (Household, CaseID, [Caller]) {
        func cmd(_ c: String, outcome: String? = nil) -> CaseService.Command {
            .init(command: c, reason: "理由", outcome: outcome, channel: nil, evidenceId: nil)
        }
        let (h, id) = try await filedCase()
        let a = try await admins(5)
        _ = try await cases.act(id, cmd("start_review"), caller: a[0], logger: testLogger)
        _ = try await cases.act(id, cmd("propose_decision", outcome: "upheld"), caller: a[0], logger: testLogger)
        let view = try await cases.act(id, cmd("confirm_decision"), caller: a[1], logger: testLogger)
        // Decided, not yet in force: not published.
        #expect(try await publicLists.blacklist(page: 1, logger: testLogger).total == 0)
        let ends = try #require(view.noticeEndsAt)
        #expect(try await cases.executeDue(now: ends.addingTimeInterval(1), logger: testLogger) == 1)
        return (h, id, a)
    }

    func filedCase() async throws -> (Household, CaseID) {
        let h = try await Household.make(self)
        _ = try await engagement(h, confirmedBy: h.employer)
        let id = try await cases.file(
            .init(workerId: h.workerID.uuid, grounds: "abuse_of_a_child", statement: "她多次打骂孩子，有监控录像。"),
            caller: h.employer,
            logger: testLogger
        )
        return (h, id)
    }
}
