import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegistryDomain
import RegistryHTTP
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Testing

extension Registry {
    /// A source with a key; returns (source id, key, secret, integration caller).
    func source(_ name: String, kind: String, signed: Bool = false) async throws -> (UUID, String, String, Caller) {
        let admin = try await adminCaller
        let created = try await flags.registerSource(
            .init(name: name, kind: kind, displayName: name.uppercased(), requireSignature: signed, contactEmail: "ops@\(name).example.cn"),
            caller: admin,
            logger: testLogger
        )
        let id = UUID(uuidString: created.id)!
        let key = try await flags.issueKey(sourceID: id, label: "test", caller: admin, logger: testLogger)
        let caller = Caller(Principal(.integration(sourceID: SourceID(created.id)!, sourceName: name, keyID: KeyID(key.id)!)))
        return (id, key.key, created.signingSecret, caller)
    }

    func workerStatus(_ id: WorkerID) async throws -> String {
        let rows = try await database.query("SELECT status FROM workers WHERE id = \(id)", logger: testLogger)
        for try await s in rows.decode(String.self) { return s }
        return "?"
    }

    func count(_ sql: String, _ id: UUID) async throws -> Int {
        var b = PostgresBindings()
        b.append(id)
        let rows = try await database.query(PostgresQuery(unsafeSQL: sql, binds: b), logger: testLogger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }
}

func flag(
    _ id: String,
    _ ref: String,
    _ category: String = "theft",
    severity: Int = 3,
    status: String = "convicted",
    occurred: String = "2025-05-01",
    expires: String? = nil
) -> FlagSubmission.Input {
    .init(
        idNumber: id,
        reference: ref,
        category: category,
        severity: severity,
        status: status,
        occurredOn: occurred,
        expiresOn: expires,
        narrative: "警情通报：内部叙述 \(ref)"
    )
}

@Suite("Police and credit-bureau flags")
struct FlagTests {
    @Test("a batch reports created, unchanged, updated and rejected per item; a replay (also concurrent) has exactly one effect")
    func batchAndReplay() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let id = Fixtures.idNumber()
            let worker = try await registry.workers.register(Fixtures.registration(id), caller: agency, logger: testLogger)
            let (sourceID, _, _, police) = try await registry.source("police-a", kind: "police")
            let batch = [
                flag(id, "A-1"), flag(id, "A-2", "fraud", severity: 2, status: "alleged"),
                flag("110105194912310021", "A-3"), flag(id, "A-4", "debt_default"), flag(id, "A-1", "fraud"),
            ]
            let first = try await registry.flags.submit(batch, sourceID: sourceID, caller: police, logger: testLogger)
            #expect(first.map(\.outcome) == [.created, .created, .rejected, .rejected, .rejected])
            #expect(first[2].field == "id_number")
            #expect(first[3].reason?.contains("cannot report") == true)  // a police key cannot write credit-bureau flags
            #expect(first[4].reason?.contains("item 0") == true)

            // The same batch twice at once: nothing new, no second suspension or case.
            async let r1 = registry.flags.submit(batch, sourceID: sourceID, caller: police, logger: testLogger)
            async let r2 = registry.flags.submit(batch, sourceID: sourceID, caller: police, logger: testLogger)
            let (again1, again2) = try await (r1, r2)
            #expect(again1.filter { $0.outcome == .unchanged }.count == 2 && again2.filter { $0.outcome == .unchanged }.count == 2)
            #expect(try await registry.count("SELECT count(*)::int FROM flags WHERE worker_id = $1", worker.uuid) == 2)
            #expect(try await registry.count("SELECT count(*)::int FROM suspensions WHERE worker_id = $1", worker.uuid) == 1)
            #expect(try await registry.count("SELECT count(*)::int FROM cases WHERE worker_id = $1", worker.uuid) == 1)
            #expect(try await registry.workerStatus(worker) == "suspended")

            // Changed content is an update with the old version kept; retraction lifts the suspension.
            let updated = try await registry.flags.submit([flag(id, "A-1", severity: 4)], sourceID: sourceID, caller: police, logger: testLogger)
            #expect(updated.first?.outcome == .updated)
            #expect(
                try await registry.count(
                    "SELECT count(*)::int FROM flag_versions v JOIN flags f ON f.id = v.flag_id WHERE f.worker_id = $1",
                    worker.uuid
                )
                    == 1
            )
            let unchanged = try await registry.flags.change(
                sourceID: sourceID,
                reference: "A-1",
                .init(status: "convicted", severity: 4, expiresOn: nil),
                caller: police,
                logger: testLogger
            )
            #expect(unchanged.outcome == .unchanged)
            let retracted = try await registry.flags.change(
                sourceID: sourceID,
                reference: "A-1",
                .init(status: "retracted", severity: nil, expiresOn: nil),
                caller: police,
                logger: testLogger
            )
            #expect(retracted.outcome == .retracted)
            #expect(try await registry.workerStatus(worker) == "active")
            #expect(try await registry.auditCount("worker.suspension_lifted", subject: worker.uuid) == 1)
            #expect(try await registry.auditCount("flag.retracted") == 1)
            // The report shows flags without narratives; the retracted one is gone from it.
            let report = try await registry.reports.report(worker, caller: agency, logger: testLogger)
            #expect(report.flags.map(\.category) == ["fraud"])
            #expect(report.flags.first?.source == "POLICE-A")
        }
    }

    @Test("a flag for someone without a file is kept and attaches when she is registered, singly or in bulk")
    func attachOnRegistration() async throws {
        try await withTestRegistry { registry, _ in
            let (aID, agency) = try await registry.approvedAgency(1)
            let (sourceID, _, _, police) = try await registry.source("police-b", kind: "police")
            let single = Fixtures.idNumber(serial: 300)
            let bulk = Fixtures.idNumber(serial: 302)
            _ = try await registry.flags.submit(
                [flag(single, "B-1", "child_or_elder_abuse", status: "charged"), flag(bulk, "B-2")],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            let w = try await registry.workers.register(Fixtures.registration(single), caller: agency, logger: testLogger)
            #expect(try await registry.workerStatus(w) == "suspended")
            #expect(try await registry.count("SELECT count(*)::int FROM cases WHERE worker_id = $1", w.uuid) == 1)
            let csv = "id_number,full_name,sex,phone,home_region,service_categories\n\(bulk),批量,F,,320102,nanny\n"
            let records = CSV.parse(csv)
            let summary = try await registry.workerImport.run(
                records: Array(records.dropFirst()),
                columns: try WorkerImport.columns(records[0].fields),
                agencyID: aID.uuid,
                caller: agency,
                logger: testLogger
            )
            let bulkID = try #require(summary.lines.first?.workerId.flatMap(UUID.init(uuidString:)))
            #expect(try await registry.count("SELECT count(*)::int FROM flags WHERE worker_id = $1", bulkID) == 1)
            #expect(try await registry.workerStatus(WorkerID(bulkID)) == "suspended")
            #expect(try await registry.auditCount("flag.attached") == 2)
        }
    }

    @Test("an expired flag stops counting but stays in history; effects follow the policy file")
    func expiryAndPolicy() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let id = Fixtures.idNumber()
            let w = try await registry.workers.register(Fixtures.registration(id), caller: agency, logger: testLogger)
            let (bureauID, _, _, bureau) = try await registry.source("bureau", kind: "credit_bureau")
            // Default expiry from the category (credit repair): 5 years after it occurred.
            let old = try await registry.flags.submit(
                [flag(id, "C-1", "debt_default", occurred: "2019-01-01")],
                sourceID: bureauID,
                caller: bureau,
                logger: testLogger
            )
            #expect(old.first?.outcome == .created)
            let report = try await registry.reports.report(w, caller: agency, logger: testLogger)
            #expect(report.flags.isEmpty)  // expired: not shown, not counted
            #expect(try await registry.count("SELECT count(*)::int FROM flags WHERE worker_id = $1 AND expires_on = '2024-01-01'", w.uuid) == 1)

            // The shipped policy suspends on convicted theft of severity 3; a stricter policy does not.
            var policy = registry.policies.flags
            #expect(policy.effects(category: "theft", status: .convicted, severity: 3, expired: false) == (true, true))
            policy.effects = [.init(categories: ["theft"], statuses: [.convicted], minSeverity: 5, suspend: true, openCase: false)]
            #expect(policy.effects(category: "theft", status: .convicted, severity: 3, expired: false) == (false, false))
            var policies = registry.policies
            policies.flags = policy
            let strict = try Registry(
                configuration: registry.configuration,
                policies: policies,
                database: registry.database,
                keys: registry.keys,
                hasher: testHasher
            )
            let (policeID, _, _, police) = try await strict.source("police-c", kind: "police")
            _ = try await strict.flags.submit([flag(id, "P-1")], sourceID: policeID, caller: police, logger: testLogger)
            #expect(try await registry.workerStatus(w) == "active")
            _ = try await strict.flags.submit([flag(id, "P-2", severity: 5)], sourceID: policeID, caller: police, logger: testLogger)
            #expect(try await registry.workerStatus(w) == "suspended")
            #expect(try await registry.count("SELECT count(*)::int FROM cases WHERE worker_id = $1", w.uuid) == 0)
        }
    }

    @Test("the worker sees her flags in full and can dispute one; others see no narrative")
    func workerView() async throws {
        try await withTestRegistry { registry, _ in
            let h = try await Household.make(registry)
            let (sourceID, _, _, police) = try await registry.source("police-d", kind: "police")
            let result = try await registry.flags.submit(
                [flag(Fixtures.idNumber(serial: 101), "D-1", "fraud", severity: 1, status: "alleged")],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            let own = try await registry.flags.ownFlags(caller: h.worker, logger: testLogger)
            #expect(own.count == 1 && own.first?.narrative == "警情通报：内部叙述 D-1")
            let flagID = try #require(result.first?.flagId.flatMap(UUID.init(uuidString:)))
            _ = try await registry.flags.dispute(flagID: flagID, reason: "我从未涉及此事", caller: h.worker, logger: testLogger)
            await expectError("dispute_open") {
                try await registry.flags.dispute(flagID: flagID, reason: "again", caller: h.worker, logger: testLogger)
            }
            let report = try await registry.reports.report(h.workerID, caller: h.agency, logger: testLogger)
            let encoded = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
            #expect(!encoded.contains("内部叙述"))
            // Administrators see the dispute and ask the source to retract; the flag itself is unchanged.
            let admin = try await registry.adminCaller
            let open = try await registry.flags.disputes(openOnly: true, logger: testLogger)
            #expect(open.count == 1 && open.first?.reference == "D-1")
            try await registry.flags.decideDispute(
                try #require(open.first?.id),
                decision: "request_retraction",
                note: "请核实后撤回",
                caller: admin,
                logger: testLogger
            )
            #expect(try await registry.flags.disputes(openOnly: true, logger: testLogger).isEmpty)
            // The source is asked: one message queued (a message, no code in it).
            #expect(try await registry.notificationCount("flag_retraction_requested") == 1)
            let to = try await single(
                try await registry.database.query(
                    "SELECT recipient FROM notifications WHERE template = 'flag_retraction_requested'",
                    logger: testLogger
                ),
                String.self
            )
            #expect(to == "ops@police-d.example.cn")
            #expect(try await registry.lastCode("flag_retraction_requested") == nil)
            #expect(try await registry.auditCount("flag.dispute_retraction_requested", subject: flagID) == 1)
            await expectError("dispute_decided") {
                try await registry.flags.decideDispute(
                    try #require(open.first?.id),
                    decision: "reject",
                    note: "again",
                    caller: admin,
                    logger: testLogger
                )
            }
        }
    }

    @Test("over HTTP: keys are scoped to their source, revocable; signatures and timestamps are checked")
    func keysAndSignatures() async throws {
        try await withTestApp { registry, _, client in
            let (_, agency) = try await registry.approvedAgency(1)
            let id = Fixtures.idNumber()
            _ = try await registry.workers.register(Fixtures.registration(id), caller: agency, logger: testLogger)
            let (policeID, policeKey, _, _) = try await registry.source("police-e", kind: "police")
            let (_, bureauKey, secret, _) = try await registry.source("bureau-e", kind: "credit_bureau", signed: true)
            let body = try JSONEncoder().encode(
                [
                    "id_number": id, "reference": "E-1", "category": "theft", "severity": "3", "status": "charged",
                    "occurred_on": "2025-01-01",
                ].mapValues { $0 }
            ).replacingSeverity()
            let police: HTTPFields = [.authorization: "Bearer \(policeKey)", .contentType: "application/json"]
            let created = try await client.execute(uri: "/api/v1/flags", method: .post, headers: police, body: ByteBuffer(bytes: body))
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let replay = try await client.execute(uri: "/api/v1/flags", method: .post, headers: police, body: ByteBuffer(bytes: body))
            #expect(replay.status == .ok && TestJSON.object(replay.body)["outcome"] as? String == "unchanged")
            // The bureau's key cannot touch the police source's flags; users cannot use the feed.
            // (An unsigned source, so that the scope rule itself answers, not the missing signature.)
            let (_, otherKey, _, _) = try await registry.source("police-x", kind: "police")
            let foreign = try await client.execute(
                uri: "/api/v1/flags/police-e/E-1",
                method: .delete,
                headers: [.authorization: "Bearer \(otherKey)"]
            )
            #expect(foreign.status == .notFound, "\(foreign.status) \(String(buffer: foreign.body))")
            let unsignedForeign = try await client.execute(
                uri: "/api/v1/flags/police-e/E-1",
                method: .delete,
                headers: [.authorization: "Bearer \(bureauKey)"]
            )
            #expect(unsignedForeign.status == .unauthorized && TestJSON.errorCode(unsignedForeign.body) == "signature_required")
            // Retraction over HTTP answers the outcome the API document promises; a second one changes nothing.
            let retract = try await client.execute(uri: "/api/v1/flags/police-e/E-1", method: .delete, headers: police)
            #expect(retract.status == .ok && TestJSON.object(retract.body)["outcome"] as? String == "retracted", "\(String(buffer: retract.body))")
            let again = try await client.execute(uri: "/api/v1/flags/police-e/E-1", method: .delete, headers: police)
            #expect(TestJSON.object(again.body)["outcome"] as? String == "unchanged")
            let user = try await client.execute(
                uri: "/api/v1/flags",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(bytes: body)
            )
            #expect(user.status == .unauthorized)
            // Signed source: no signature, a stale timestamp, a wrong signature are refused; a good one passes.
            let bureauBody = try JSONSerialization.data(withJSONObject: [
                "flags": [
                    [
                        "id_number": id, "reference": "L-1", "category": "loan_fraud",
                        "severity": 2, "status": "adjudicated", "occurred_on": "2025-02-01",
                    ]
                ]
            ])
            let unsigned = try await client.execute(
                uri: "/api/v1/flags:batch",
                method: .post,
                headers: [.authorization: "Bearer \(bureauKey)"],
                body: ByteBuffer(bytes: bureauBody)
            )
            #expect(unsigned.status == .unauthorized && TestJSON.errorCode(unsigned.body) == "signature_required")
            func signed(
                _ ts: String,
                nonce: String = UUID().uuidString,
                _ sig: String? = nil,
                path: String = "/api/v1/flags:batch",
                method: String = "POST",
                source: String = "bureau-e",
                body: Data = bureauBody
            ) -> HTTPFields {
                [
                    .authorization: "Bearer \(bureauKey)", .contentType: "application/json", HTTPField.Name("X-Registry-Timestamp")!: ts,
                    HTTPField.Name("X-Registry-Nonce")!: nonce,
                    HTTPField.Name("X-Registry-Signature")!: sig ?? "sha256="
                        + FlagService.sign(
                            secret: secret,
                            method: method,
                            path: path,
                            source: source,
                            timestamp: ts,
                            nonce: nonce,
                            body: Array(body)
                        ),
                ]
            }
            let now = Int(Date().timeIntervalSince1970)
            let stale = try await client.execute(
                uri: "/api/v1/flags:batch",
                method: .post,
                headers: signed(String(now - 3600)),
                body: ByteBuffer(bytes: bureauBody)
            )
            #expect(TestJSON.errorCode(stale.body) == "stale_timestamp")
            let wrong = try await client.execute(
                uri: "/api/v1/flags:batch",
                method: .post,
                headers: signed(String(now), "sha256=00"),
                body: ByteBuffer(bytes: bureauBody)
            )
            #expect(TestJSON.errorCode(wrong.body) == "bad_signature")
            // A signature made for another path, method or source does not fit this request.
            for (path, method, source) in [
                ("/api/v1/flags", "POST", "bureau-e"), ("/api/v1/flags:batch", "PUT", "bureau-e"),
                ("/api/v1/flags:batch", "POST", "police-e"),
            ] {
                let aimed = try await client.execute(
                    uri: "/api/v1/flags:batch",
                    method: .post,
                    headers: signed(String(now), path: path, method: method, source: source),
                    body: ByteBuffer(bytes: bureauBody)
                )
                #expect(TestJSON.errorCode(aimed.body) == "bad_signature", "signed for \(method) \(path) as \(source)")
            }
            let nonce = UUID().uuidString
            let good = try await client.execute(
                uri: "/api/v1/flags:batch",
                method: .post,
                headers: signed(String(now), nonce: nonce),
                body: ByteBuffer(bytes: bureauBody)
            )
            #expect(good.status == .ok && TestJSON.object(good.body)["created"] as? Int == 1, "\(String(buffer: good.body))")
            // The same signed request again, within the window: a replay.
            let replayed = try await client.execute(
                uri: "/api/v1/flags:batch",
                method: .post,
                headers: signed(String(now), nonce: nonce),
                body: ByteBuffer(bytes: bureauBody)
            )
            #expect(replayed.status == .unauthorized && TestJSON.errorCode(replayed.body) == "replayed_request")
            // Timestamps that are not whole unix seconds, extreme values among them, are refused as such.
            for ts in ["-9223372036854775808", "9223372036854775807", "99999999999999999999", "1e9", "+5", "-0", "١٢٣", "", "abc"] {
                let r = try await client.execute(uri: "/api/v1/flags:batch", method: .post, headers: signed(ts), body: ByteBuffer(bytes: bureauBody))
                #expect(
                    r.status == .badRequest && TestJSON.errorCode(r.body) == "invalid_timestamp",
                    "timestamp \(ts.debugDescription): \(r.status) \(String(buffer: r.body))"
                )
            }
            let badNonce = try await client.execute(
                uri: "/api/v1/flags:batch",
                method: .post,
                headers: signed(String(now), nonce: "short"),
                body: ByteBuffer(bytes: bureauBody)
            )
            #expect(badNonce.status == .badRequest && TestJSON.errorCode(badNonce.body) == "invalid_nonce")
            // An unsigned source is checked too whenever it sends a timestamp: an extreme one does not stop the process.
            var extreme = police
            extreme[HTTPField.Name("X-Registry-Timestamp")!] = "-9223372036854775808"
            extreme[HTTPField.Name("X-Registry-Nonce")!] = UUID().uuidString
            extreme[HTTPField.Name("X-Registry-Signature")!] = "sha256=00"
            let policeExtreme = try await client.execute(uri: "/api/v1/flags", method: .post, headers: extreme, body: ByteBuffer(bytes: body))
            #expect(policeExtreme.status == .badRequest && TestJSON.errorCode(policeExtreme.body) == "invalid_timestamp")
            // A revoked key stops working.
            let admin = try await registry.adminCaller
            let keys = try await registry.flags.sources(logger: testLogger).first { $0.name == "police-e" }?.keys ?? []
            try await registry.flags.revokeKey(sourceID: policeID, keyID: try #require(keys.first?.id).uuid, caller: admin, logger: testLogger)
            let revoked = try await client.execute(uri: "/api/v1/flags", method: .post, headers: police, body: ByteBuffer(bytes: body))
            #expect(revoked.status == .unauthorized)
        }
    }
}

extension Data {
    /// Test helper: the dictionary above was string-valued; make severity a number.
    func replacingSeverity() -> Data {
        Data(String(decoding: self, as: UTF8.self).replacingOccurrences(of: "\"severity\":\"3\"", with: "\"severity\":3").utf8)
    }
}

@Suite("Flag file import")
struct FlagImportTests {
    @Test("COPY into staging, set-based merge: malformed lines reported by number, good ones imported, a re-run changes nothing")
    func importFile() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let known = Fixtures.idNumber()
            let w = try await registry.workers.register(Fixtures.registration(known), caller: agency, logger: testLogger)
            _ = try await registry.source("bureau-f", kind: "credit_bureau")
            var csv = "id_number,reference,category,severity,status,occurred_on,expires_on,narrative\n"
            for i in 0..<40 { csv += "\(Fixtures.idNumber(serial: 200 + i)),F-\(i),debt_default,2,adjudicated,2025-0\(1 + i % 9)-01,,\n" }
            let inFiveYears = CivilDate.today().adding(days: 5 * 365).iso  // still in force whenever the test runs
            csv += "\(known),F-K,loan_fraud,3,adjudicated,2025-03-01,\(inFiveYears),\"逾期, 多次\n催收无果\"\n"  // line 42-43, quoted newline
            csv += "not-an-id,F-X,debt_default,2,adjudicated,2025-01-01,,\n"  // 44
            csv += "\(Fixtures.idNumber(serial: 500)),F-Y,theft,2,convicted,2025-01-01,,\n"  // 45: police category
            csv += "\(Fixtures.idNumber(serial: 502)),F-Z,debt_default,nine,adjudicated,2025-01-01,,\n"  // 46
            csv += "\(Fixtures.idNumber(serial: 504)),F-1,debt_default,2,adjudicated,2025-01-01,,\n"  // 47: repeats F-1 (line 3)
            let path = NSTemporaryDirectory() + "flags-\(UUID().uuidString).csv"
            try csv.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }

            let first = try await registry.flagImport.run(path: path, sourceName: "bureau-f", logger: testLogger) { _ in }
            #expect(first.created == 41)
            #expect(first.rejected == 4)
            #expect(first.rejectedLines.map(\.line) == [44, 45, 46, 47])
            #expect(first.attachedToFiles == 1)
            let own = try await registry.database.query("SELECT count(*)::int FROM flags WHERE worker_id = \(w)", logger: testLogger)
            #expect(try await single(own, Int.self) == 1)
            let report = try await registry.reports.report(w, caller: agency, logger: testLogger)
            #expect(report.flags.map(\.category) == ["loan_fraud"])

            let unchangedBefore = try await registry.fingerprint()
            let second = try await registry.flagImport.run(path: path, sourceName: "bureau-f", logger: testLogger) { _ in }
            #expect(second.created == 0 && second.updated == 0 && second.unchanged == 41 && second.rejected == 4)
            #expect(
                changedTables(unchangedBefore, try await registry.fingerprint()).allSatisfy { $0.hasPrefix("audit_") },
                "a re-run only records itself"
            )
            #expect(try await registry.auditCount("flag.file_imported") == 2)
            await expectError("no_source") {
                try await registry.flagImport.run(path: path, sourceName: "nobody", logger: testLogger) { _ in }
            }
        }
    }

    /// A count with no parameters.
    static func total(_ sql: String, _ registry: Registry) async throws -> Int {
        try await single(try await registry.database.query(PostgresQuery(unsafeSQL: sql), logger: testLogger), Int.self)
    }

    /// Writes `csv` to a temporary file and imports it for `source`.
    static func importCSV(_ csv: String, source: String, _ registry: Registry) async throws -> FlagImport.Summary {
        let path = NSTemporaryDirectory() + "flags-\(UUID().uuidString).csv"
        try csv.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await registry.flagImport.run(path: path, sourceName: source, logger: testLogger) { _ in }
    }

    @Test("a re-run writes nothing but its audit event; a changed line updates exactly that flag, with its version, regrade and text")
    func rerunAndChange() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let known = Fixtures.idNumber(serial: 700)
            let w = try await registry.workers.register(Fixtures.registration(known), caller: agency, logger: testLogger)
            _ = try await registry.source("bureau-r", kind: "credit_bureau")
            let header = "id_number,reference,category,severity,status,occurred_on,expires_on,narrative\n"
            var lines: [String] = []
            for i in 0..<30 { lines.append("\(Fixtures.idNumber(serial: 710 + i)),R-\(i),debt_default,2,adjudicated,2025-02-01,,\n") }
            lines.append("\(known),R-K,loan_fraud,3,charged,2025-03-01,,逾期未还\n")
            let first = try await Self.importCSV(header + lines.joined(), source: "bureau-r", registry)
            #expect(first.created == 31 && first.attachedToFiles == 1 && first.rejected == 0)

            // The same file again: nothing written but the audit event of the run.
            let before = try await registry.fingerprint()
            let queued = try await registry.count("SELECT count(*)::int FROM grade_queue WHERE worker_id = $1", w.uuid)
            let events = try await Self.total("SELECT count(*)::int FROM audit_log", registry)
            let again = try await Self.importCSV(header + lines.joined(), source: "bureau-r", registry)
            #expect(again.created == 0 && again.updated == 0 && again.unchanged == 31 && again.attachedToFiles == 0)
            let after = try await registry.fingerprint()
            #expect(changedTables(before, after).allSatisfy { $0.hasPrefix("audit_") }, "\(changedTables(before, after))")
            #expect(try await Self.total("SELECT count(*)::int FROM audit_log", registry) == events + 1)
            #expect(try await registry.auditCount("flag.file_imported") == 2)
            #expect(try await registry.count("SELECT count(*)::int FROM grade_queue WHERE worker_id = $1", w.uuid) == queued)

            // One line changed (her flag is now adjudicated): that flag alone is updated.
            lines[30] = "\(known),R-K,loan_fraud,3,adjudicated,2025-03-01,,逾期未还\n"
            let changed = try await Self.importCSV(header + lines.joined(), source: "bureau-r", registry)
            #expect(changed.created == 0 && changed.updated == 1 && changed.unchanged == 30 && changed.attachedToFiles == 1)
            let flag = try await single(
                try await registry.database.query(
                    "SELECT version, status FROM flags WHERE worker_id = \(w) AND source_ref = 'R-K'",
                    logger: testLogger
                ),
                (Int32, String).self
            )
            #expect(flag.0 == 2 && flag.1 == "adjudicated")
            #expect(
                try await registry.count("SELECT count(*)::int FROM flag_versions v JOIN flags f ON f.id = v.flag_id WHERE f.worker_id = $1", w.uuid)
                    == 1
            )
            #expect(try await Self.total("SELECT count(*)::int FROM flag_versions", registry) == 1)
            #expect(try await Self.total("SELECT count(*)::int FROM flags WHERE version > 1", registry) == 1)
            #expect(try await Self.total("SELECT count(*)::int FROM notifications WHERE template = 'flag_changed'", registry) == 1)
            #expect(try await registry.count("SELECT count(*)::int FROM grade_queue WHERE worker_id = $1", w.uuid) >= 1)
        }
    }

    @Test("the file and the feed agree: the same content is unchanged either way, narratives open for their flag")
    func fileAndFeedAgree() async throws {
        try await withTestRegistry { registry, _ in
            let (sourceID, _, _, bureau) = try await registry.source("bureau-a", kind: "credit_bureau")
            let id = Fixtures.idNumber(serial: 800)
            // Through the feed, with a narrative and the category's default expiry.
            let fed = FlagSubmission.Input(
                idNumber: id,
                reference: "A-1",
                category: "debt_default",
                severity: 2,
                status: "adjudicated",
                occurredOn: "2025-02-03",
                expiresOn: nil,
                narrative: "逾期三次，催收无果"
            )
            #expect(try await registry.flags.submit([fed], sourceID: sourceID, caller: bureau, logger: testLogger).map(\.outcome) == [.created])
            var csv = "id_number,reference,category,severity,status,occurred_on,expires_on,narrative\n"
            csv += "\(id),A-1,debt_default,2,adjudicated,2025-02-03,,逾期三次，催收无果\n"  // the same flag, quick check
            csv += " \(id.lowercased()) , A-2 ,debt_default, 2 ,adjudicated, 2025-02-03 ,,\"  a quoted narrative \"\n"  // full check
            csv += "\(id),A-3,fare_evasion,1,alleged,2025-04-05,2025-12-31,\n"
            let summary = try await Self.importCSV(csv, source: "bureau-a", registry)
            #expect(summary.unchanged == 1 && summary.created == 2 && summary.rejected == 0, "\(summary.rejectedLines)")
            for (ref, narrative, expires) in [("A-2", "a quoted narrative", "2030-02-03"), ("A-3", nil, "2025-12-31")] {
                let row = try await single(
                    try await registry.database.query(
                        "SELECT narrative_enc, expires_on::text FROM flags WHERE source_id = \(sourceID) AND source_ref = \(ref)",
                        logger: testLogger
                    ),
                    (Data?, String?).self
                )
                #expect(row.1 == expires)
                #expect(
                    try row.0.map { try registry.keys.open(Array($0), context: SealedPlace.flagNarrative(sourceID: sourceID, reference: ref)) }
                        == narrative
                )
            }
            // The feed sends A-2 again as the file had it: unchanged.
            var same = fed
            same.reference = "A-2"
            same.narrative = "a quoted narrative"
            #expect(try await registry.flags.submit([same], sourceID: sourceID, caller: bureau, logger: testLogger).map(\.outcome) == [.unchanged])
        }
    }

    @Test("new flags attach to files whether there are more workers than new flags or fewer")
    func attachEitherWay() async throws {
        try await withTestRegistry { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            let (a, b) = (Fixtures.idNumber(serial: 900), Fixtures.idNumber(serial: 902))
            let wa = try await registry.workers.register(Fixtures.registration(a), caller: agency, logger: testLogger)
            let wb = try await registry.workers.register(Fixtures.registration(b, phone: "13800138001"), caller: agency, logger: testLogger)
            _ = try await registry.source("bureau-m", kind: "credit_bureau")
            let header = "id_number,reference,category,severity,status,occurred_on,expires_on,narrative\n"
            // One new flag, two workers: the new flags are joined to the workers.
            let one = try await Self.importCSV(header + "\(a),M-1,debt_default,2,adjudicated,2025-01-01,,\n", source: "bureau-m", registry)
            #expect(one.created == 1 && one.attachedToFiles == 1)
            // Three new flags, two workers: each worker's blind index is looked up.
            var csv = header + "\(a),M-2,debt_default,2,adjudicated,2025-01-01,,\n\(b),M-3,loan_fraud,3,charged,2025-01-01,,\n"
            csv += "\(Fixtures.idNumber(serial: 904)),M-4,debt_default,2,adjudicated,2025-01-01,,\n"
            let three = try await Self.importCSV(csv, source: "bureau-m", registry)
            #expect(three.created == 3 && three.attachedToFiles == 2)
            #expect(try await registry.count("SELECT count(*)::int FROM flags WHERE worker_id = $1", wa.uuid) == 2)
            #expect(try await registry.count("SELECT count(*)::int FROM flags WHERE worker_id = $1", wb.uuid) == 1)
            #expect(try await Self.total("SELECT count(*)::int FROM flags WHERE source_ref = 'M-4' AND worker_id IS NULL", registry) == 1)
        }
    }

    @Test("the audit event names the file's SHA-256; two imports of one file at once make each flag once")
    func concurrentImports() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await registry.source("bureau-k", kind: "credit_bureau")
            var csv = "id_number,reference,category,severity,status,occurred_on,expires_on,narrative\n"
            for i in 0..<300 { csv += "\(Fixtures.idNumber(serial: 100 + i)),K-\(i),debt_default,2,adjudicated,2025-01-01,,\n" }
            let path = NSTemporaryDirectory() + "flags-\(UUID().uuidString).csv"
            try csv.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            async let a = registry.flagImport.run(path: path, sourceName: "bureau-k", logger: testLogger) { _ in }
            async let b = registry.flagImport.run(path: path, sourceName: "bureau-k", logger: testLogger) { _ in }
            let (ra, rb) = try await (a, b)
            #expect(ra.created + rb.created == 300 && ra.unchanged + rb.unchanged == 300)
            #expect(try await Self.total("SELECT count(*)::int FROM flags WHERE source_ref LIKE 'K-%'", registry) == 300)
            let digest = SHA256.hash(data: Data(csv.utf8)).map { String(format: "%02x", $0) }.joined()
            let logged = try await registry.database.query(
                "SELECT count(*)::int FROM audit_log WHERE action = 'flag.file_imported' AND details->>'file_sha256' = \(digest)",
                logger: testLogger
            )
            #expect(try await single(logged, Int.self) == 2)
        }
    }

    @Test("a line with too few or too many columns is rejected with that reason, and every rejected record goes to the rejects file")
    func wrongColumnCounts() async throws {
        try await withTestRegistry { registry, _ in
            _ = try await registry.source("bureau-c", kind: "credit_bureau")
            var csv = "id_number,reference,category,severity,status,occurred_on,expires_on,narrative\n"
            csv += "\(Fixtures.idNumber(serial: 210)),C-1,debt_default,2,adjudicated,2025-01-01,,逾期未还\n"  // 2: good
            csv += "\(Fixtures.idNumber(serial: 212)),C-2,debt_default,2,adjudicated,2025-01-01,,逾期, 多次催收\n"  // 3: 9 columns
            csv += "\(Fixtures.idNumber(serial: 214)),C-3,debt_default,2,adjudicated,2025-01-01\n"  // 4: 6 columns
            for i in 0..<1_200 { csv += "bad-\(i),R-\(i),debt_default,2,adjudicated,2025-01-01,,\n" }  // 5…: bad ID numbers
            let path = NSTemporaryDirectory() + "flags-\(UUID().uuidString).csv"
            try csv.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let summary = try await registry.flagImport.run(path: path, sourceName: "bureau-c", logger: testLogger) { _ in }
            #expect(summary.created == 1 && summary.rejected == 1_202)
            #expect(summary.rejectedLines.prefix(2).map(\.line) == [3, 4])
            #expect(summary.rejectedLines.prefix(2).allSatisfy { $0.reason.hasPrefix("columns:") }, "\(summary.rejectedLines.prefix(2))")
            let narratives = try await registry.database.query("SELECT count(*)::int FROM flags WHERE source_ref = 'C-2'", logger: testLogger)
            #expect(try await single(narratives, Int.self) == 0)
            // Every rejected record, not the first thousand, with its text.
            let rejects = path + ".rejects.csv"
            try FlagImport.writeRejects(summary.rejectedLines, to: rejects)
            defer { try? FileManager.default.removeItem(atPath: rejects) }
            let written = try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n")
            #expect(written.count == 1 + 1_202)
            #expect(written.dropFirst().first?.contains("逾期, 多次催收") == true)
        }
    }
}
