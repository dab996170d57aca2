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

@Suite("The worker's file")
struct WorkerFileTests {
    @Test("agencies apply, are approved, suspended and reinstated; illegal decisions are 409")
    func agencyLifecycle() async throws {
        try await withTestRegistry { registry, _ in
            let admin = try await registry.adminCaller
            let (pendingID, pendingStaff) = try await registry.approvedAgency(1, approve: false)
            // A pending agency can do nothing yet.
            let notYet = await #expect(throws: RegistryError.self) {
                try await registry.workers.register(Fixtures.registration(Fixtures.idNumber()), caller: pendingStaff, logger: testLogger)
            }
            #expect(notYet?.code == "agency_not_approved")
            // The same credit code cannot apply twice.
            await expectError("agency_exists") { try await registry.approvedAgency(1) }
            let approved = try await registry.agencies.decide(pendingID, .approve, reason: nil, caller: admin, logger: testLogger)
            #expect(approved.status == "approved")
            let twice = await #expect(throws: RegistryError.self) {
                try await registry.agencies.decide(pendingID, .approve, reason: nil, caller: admin, logger: testLogger)
            }
            #expect(twice?.code == "illegal_transition")
            let workerID = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber()), caller: pendingStaff, logger: testLogger)
            // Suspended: can read, cannot write.
            _ = try await registry.agencies.decide(pendingID, .suspend, reason: "complaints under review", caller: admin, logger: testLogger)
            _ = try await registry.workers.file(workerID, caller: pendingStaff, logger: testLogger)
            let suspended = await #expect(throws: RegistryError.self) {
                try await registry.workers.addSkill(
                    workerID,
                    .init(category: "nanny", level: 2, assessedOn: "2026-01-05", assessor: "X", note: nil),
                    caller: pendingStaff,
                    logger: testLogger
                )
            }
            #expect(suspended?.code == "agency_suspended")
            _ = try await registry.agencies.decide(pendingID, .reinstate, reason: nil, caller: admin, logger: testLogger)
            _ = try await registry.workers.addSkill(
                workerID,
                .init(category: "nanny", level: 2, assessedOn: "2026-01-05", assessor: "X", note: nil),
                caller: pendingStaff,
                logger: testLogger
            )
            for action in ["agency.applied", "agency.approve", "agency.suspend", "agency.reinstate", "worker.registered", "worker.skill_assessed"] {
                #expect(try await registry.auditCount(action) >= 1, "\(action)")
            }
        }
    }

    @Test("a second registration of the same ID is 409 and reveals nothing of the file")
    func duplicate() async throws {
        try await withTestApp { registry, _, client in
            let (_, a) = try await registry.approvedAgency(1)
            _ = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber(), name: "李秀英"), caller: a, logger: testLogger)
            // Agency B signs in over the API and tries to register the same person.
            _ = try await registry.approvedAgency(2)
            let login = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["email": "staff2@agency.cn", "password": "agency password 2"])
            )
            let token = try #require(TestJSON.object(login.body)["token"] as? String)
            let response = try await client.execute(
                uri: "/api/v1/workers",
                method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                body: TestJSON.body([
                    "id_number": Fixtures.idNumber(), "full_name": "Someone", "sex": "F", "home_region": "110105",
                    "service_categories": ["cooking"],
                ])
            )
            #expect(response.status == .conflict)
            #expect(TestJSON.errorCode(response.body) == "worker_exists")
            let text = String(buffer: response.body)
            for secret in ["李秀英", "13800138000", "Agency 1", "320102", "1985"] {
                #expect(!text.contains(secret), "the 409 must not reveal \(secret)")
            }
            #expect(text.contains("/api/v1/transfers"))
        }
    }

    @Test("the ID number is stored only as ciphertext: no table holds it in clear text")
    func encryptedAtRest() async throws {
        try await withTestRegistry { registry, endpoint in
            let (_, a) = try await registry.approvedAgency(1)
            let id = Fixtures.idNumber(birth: "19900307", serial: 246)
            let workerID = try await registry.workers.register(Fixtures.registration(id), caller: a, logger: testLogger)
            // Transfer requests carry the ID too: they must not leave it anywhere either.
            let (_, b) = try await registry.approvedAgency(2)
            _ = try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger)
            try await asOwner(endpoint) { client in
                var tables: [String] = []
                for try await name in try await client.query(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
                    logger: testLogger
                ).decode(String.self) { tables.append(name) }
                #expect(tables.contains("workers") && tables.contains("audit_log"))
                for table in tables {
                    // Table names come from the catalog; the searched value is a bind parameter.
                    var binds = PostgresBindings()
                    binds.append("%\(id.prefix(14))%")
                    let rows = try await client.query(
                        PostgresQuery(
                            unsafeSQL: "SELECT count(*)::int FROM \"\(table)\" t WHERE row_to_json(t)::text LIKE $1",
                            binds: binds
                        ),
                        logger: testLogger
                    )
                    #expect(try await single(rows, Int.self) == 0, "\(table) holds the ID number in clear text")
                }
                // The ciphertext opens to the number with the key, and the file shows it masked.
                let rows = try await client.query("SELECT id_ciphertext FROM workers WHERE id = \(workerID)", logger: testLogger)
                let cipher = try await single(rows, Data.self)
                #expect(try registry.keys.open(Array(cipher), context: SealedPlace.workerID(workerID.uuid)) == id)
                // Moved into another row, the same ciphertext does not open.
                expectErrorSync("unsealable") { try registry.keys.open(Array(cipher), context: SealedPlace.workerID(UUID())) }
            }
            let file = try await registry.workers.file(workerID, caller: a, logger: testLogger)
            #expect(file.idNumberMasked == String(id.prefix(2)) + "***************" + String(id.suffix(1)))
        }
    }

    @Test("agency A cannot read or change agency B's worker: 404, and the attempt is logged")
    func isolation() async throws {
        let capture = LogCapture()
        try await withTestApp(capture: capture) { registry, _, client in
            let (_, a) = try await registry.approvedAgency(1)
            _ = try await registry.approvedAgency(2)
            let workerID = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber()), caller: a, logger: testLogger)
            let login = try await client.execute(
                uri: "/api/v1/auth/login",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body(["email": "staff2@agency.cn", "password": "agency password 2"])
            )
            let bearer: HTTPFields = [
                .authorization: "Bearer \(TestJSON.object(login.body)["token"] as? String ?? "")", .contentType: "application/json",
            ]
            let before = try await registry.fingerprint()
            let read = try await client.execute(uri: "/api/v1/workers/\(workerID)", method: .get, headers: bearer)
            #expect(read.status == .notFound)
            let write = try await client.execute(
                uri: "/api/v1/workers/\(workerID)/skills",
                method: .post,
                headers: bearer,
                body: TestJSON.body(["category": "nanny", "level": 5, "assessed_on": "2026-01-01", "assessor": "me"])
            )
            #expect(write.status == .notFound)
            let assess = try await client.execute(
                uri: "/api/v1/workers/\(workerID)/tenure",
                method: .put,
                headers: bearer,
                body: TestJSON.body(["ethics_rating": 1])
            )
            #expect(assess.status == .notFound)
            // Unknown and malformed ids look the same.
            #expect(try await client.execute(uri: "/api/v1/workers/\(UUID())", method: .get, headers: bearer).status == .notFound)
            #expect(try await client.execute(uri: "/api/v1/workers/not-a-uuid", method: .get, headers: bearer).status == .notFound)
            // B's roster does not contain her.
            let roster = try await client.execute(uri: "/api/v1/workers", method: .get, headers: bearer)
            #expect((TestJSON.object(roster.body)["workers"] as? [Any])?.isEmpty == true)
            // Nothing changed, and each attempt on her file is logged with the caller.
            #expect(changedTables(before, try await registry.fingerprint()) == [])
            for path in ["/api/v1/workers/\(workerID)", "/api/v1/workers/\(workerID)/skills", "/api/v1/workers/\(workerID)/tenure"] {
                #expect(capture.refusals(path: path).count == 1 && capture.refusals(path: path)[0].hasPrefix("agency_staff:"), "\(path)")
            }
        }
    }

    @Test("qualifications, health certificates and skills are recorded with validity marks and audited")
    func qualifications() async throws {
        try await withTestRegistry { registry, _ in
            let (_, a) = try await registry.approvedAgency(1)
            let w = try await registry.workers.register(Fixtures.registration(Fixtures.idNumber()), caller: a, logger: testLogger)
            _ = try await registry.workers.addTraining(
                w,
                .init(
                    kind: "certificate",
                    title: "育婴员",
                    issuer: "人社局",
                    category: "nanny",
                    certificateNo: "C-1",
                    issuedOn: "2020-01-01",
                    expiresOn: "2023-01-01",
                    hours: nil
                ),
                caller: a,
                logger: testLogger
            )
            _ = try await registry.workers.addTraining(
                w,
                .init(
                    kind: "training",
                    title: "急救",
                    issuer: "红十字会",
                    category: nil,
                    certificateNo: nil,
                    issuedOn: "2026-03-01",
                    expiresOn: nil,
                    hours: 16
                ),
                caller: a,
                logger: testLogger
            )
            _ = try await registry.workers.addHealthCertificate(
                w,
                .init(
                    issuer: "疾控中心",
                    certificateNo: nil,
                    issuedOn: "2026-01-01",
                    validUntil: "2099-01-01",
                    result: nil
                ),
                caller: a,
                logger: testLogger
            )
            _ = try await registry.workers.addSkill(
                w,
                .init(category: "elder_care", level: 4, assessedOn: "2026-02-01", assessor: "鉴定中心", note: nil),
                caller: a,
                logger: testLogger
            )
            let bad = await #expect(throws: RegistryError.self) {
                try await registry.workers.addSkill(
                    w,
                    .init(category: "elder_care", level: 6, assessedOn: "2026-02-01", assessor: "x", note: nil),
                    caller: a,
                    logger: testLogger
                )
            }
            #expect(bad?.code == "invalid_field" && bad?.field == "level")
            await expectError("invalid_field") {
                try await registry.workers.addHealthCertificate(
                    w,
                    .init(
                        issuer: "x",
                        certificateNo: nil,
                        issuedOn: "2026-01-01",
                        validUntil: "2025-01-01",
                        result: nil
                    ),
                    caller: a,
                    logger: testLogger
                )
            }
            let file = try await registry.workers.file(w, caller: a, logger: testLogger)
            #expect(file.trainings.map(\.valid) == [false, true])
            #expect(file.healthCertificates.map(\.valid) == [true])
            #expect(file.skills.map(\.level) == [4])
            #expect(try await registry.auditCount("worker.certificate_added", subject: w.uuid) == 1)
            #expect(try await registry.auditCount("worker.training_added", subject: w.uuid) == 1)
            #expect(try await registry.auditCount("worker.skill_assessed", subject: w.uuid) == 1)
            #expect(try await registry.auditCount("worker.health_certificate_added", subject: w.uuid) == 1)
        }
    }

    @Test("transfer: request, consent by code, seal; custody moves and the sealed tenure never changes")
    func transferFlow() async throws {
        try await withTestRegistry { registry, endpoint in
            let (aID, a) = try await registry.approvedAgency(1)
            let (bID, b) = try await registry.approvedAgency(2)
            let id = Fixtures.idNumber()
            let w = try await registry.workers.register(Fixtures.registration(id), caller: a, logger: testLogger)
            try await registry.workers.assess(w, .init(workAbility: "good", ethicsRating: 4), caller: a, logger: testLogger)

            let requested = try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger)
            #expect(requested.transfer.status == "requested")
            #expect(requested.codeSent)
            // Until she consents, the requesting agency learns nothing of the person behind the number.
            #expect(requested.transfer.workerName == nil && requested.transfer.fromAgencyName == nil && requested.transfer.fromAgencyId == nil)
            let tid = try #require(UUID(uuidString: requested.transfer.id))
            // B cannot read the file yet; A sees the request.
            await #expect(throws: RegistryError.notFound("Worker")) { try await registry.workers.file(w, caller: b, logger: testLogger) }
            #expect(try await registry.transfers.list(openOnly: true, caller: a, logger: testLogger).map(\.id) == [requested.transfer.id])
            // Only B enters the code; a wrong code is counted and refused.
            let code = try #require(try await registry.lastConsentCode())
            let wrong = await #expect(throws: RegistryError.self) {
                try await registry.transfers.consent(tid, code: code == "000000" ? "111111" : "000000", caller: b, logger: testLogger)
            }
            #expect(wrong?.code == "wrong_code")
            await expectError("not_a_party") { try await registry.transfers.consent(tid, code: code, caller: a, logger: testLogger) }
            // Sealing before consent is illegal.
            let early = await #expect(throws: RegistryError.self) {
                try await registry.transfers.seal(tid, final: .init(ethicsRating: 5), caller: a, logger: testLogger)
            }
            #expect(early?.code == "illegal_transition")
            let consented = try await registry.transfers.consent(tid, code: code, caller: b, logger: testLogger)
            #expect(consented.status == "consented")
            #expect(consented.consentMethod == "code")
            #expect(consented.sealDeadline != nil)
            // Only A seals, with a final ethics rating.
            await expectError("not_a_party") { try await registry.transfers.seal(tid, final: .init(ethicsRating: 5), caller: b, logger: testLogger) }
            await expectError("missing_field") { try await registry.transfers.seal(tid, final: .init(), caller: a, logger: testLogger) }
            let done = try await registry.transfers.seal(
                tid,
                final: .init(feedbackSummary: "reliable", ethicsRating: 5),
                caller: a,
                logger: testLogger
            )
            #expect(done.status == "completed")
            #expect(done.completedHow == "sealed")

            // Custody moved: B reads the whole history, A no longer can.
            let file = try await registry.workers.file(w, caller: b, logger: testLogger)
            #expect(file.currentAgency.id == bID.text)
            #expect(file.tenures.count == 2)
            #expect(file.tenures[0].agencyID == aID && file.tenures[0].sealedHow == "agency" && file.tenures[0].ethicsRating == 5)
            #expect(file.tenures[0].workAbility == "good" && file.tenures[0].feedbackSummary == "reliable")
            #expect(file.tenures[1].agencyID == bID && file.tenures[1].sealedAt == nil)
            await expectError("not_found") { try await registry.workers.file(w, caller: a, logger: testLogger) }
            // The sealed tenure cannot change, not even by the service role directly or by the owner: the trigger refuses.
            let sealedID = try #require(UUID(uuidString: file.tenures[0].id))
            await expectSQLError("42501", "is sealed and cannot change") {
                try await registry.database.query("UPDATE tenures SET ethics_rating = 1 WHERE id = \(sealedID)", logger: testLogger)
            }
            try await asOwner(endpoint) { owner in
                await expectSQLError("42501", "is sealed and cannot change") {
                    try await owner.query("UPDATE tenures SET ethics_rating = 1 WHERE id = \(sealedID)", logger: testLogger)
                }
                await expectSQLError("42501", "tenures are never deleted") {
                    try await owner.query("DELETE FROM tenures WHERE id = \(sealedID)", logger: testLogger)
                }
            }
            await expectSQLError("42501", "permission denied for table tenures") {
                try await registry.database.query("DELETE FROM tenures WHERE id = \(sealedID)", logger: testLogger)
            }
            let reread = try await registry.workers.file(w, caller: b, logger: testLogger).tenures
            #expect(reread.count == 2 && reread[0].id == sealedID.text && reread[0].ethicsRating == 5)
            // Closed transfers take no more events.
            let closed = await #expect(throws: RegistryError.self) {
                try await registry.transfers.close(tid, .cancel, reason: nil, caller: b, logger: testLogger)
            }
            #expect(closed?.code == "illegal_transition")
            for action in ["transfer.requested", "transfer.consent_code_wrong", "transfer.consented", "transfer.completed", "tenure.sealed"] {
                #expect(try await registry.auditCount(action) == 1, "\(action)")
            }
        }
    }

    @Test("reject and cancel paths; a worker consents in her own account; the deadline completes a transfer")
    func otherPaths() async throws {
        try await withTestRegistry { registry, _ in
            let (_, a) = try await registry.approvedAgency(1)
            let (bID, b) = try await registry.approvedAgency(2)
            let id = Fixtures.idNumber()
            let w = try await registry.workers.register(Fixtures.registration(id), caller: a, logger: testLogger)
            let workerUser = try await registry.database.transaction(logger: testLogger) { connection in
                try await AccountStore.create(
                    .init(
                        role: .worker,
                        email: "li@example.cn",
                        phone: nil,
                        displayName: "李秀英",
                        passwordHash: nil,
                        workerID: w.uuid
                    ),
                    on: connection,
                    logger: testLogger
                )
            }
            let worker = Caller(
                Principal(
                    .user(
                        id: UserID(workerUser),
                        role: .worker,
                        agencyID: nil,
                        workerID: w
                    )
                )
            )

            // The worker refuses; B cannot refuse for her.
            let t1 = try #require(UUID(uuidString: try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger).transfer.id))
            await expectError("not_a_party") { try await registry.transfers.close(t1, .reject, reason: nil, caller: b, logger: testLogger) }
            #expect(try await registry.transfers.close(t1, .reject, reason: "I stay", caller: worker, logger: testLogger).status == "rejected")
            // B asks again and cancels.
            let t2 = try #require(UUID(uuidString: try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger).transfer.id))
            await expectError("not_a_party") { try await registry.transfers.close(t2, .cancel, reason: nil, caller: a, logger: testLogger) }
            #expect(try await registry.transfers.close(t2, .cancel, reason: nil, caller: b, logger: testLogger).status == "cancelled")
            // B asks a third time; she consents in her account; A never seals; the deadline passes.
            let t3 = try #require(UUID(uuidString: try await registry.transfers.request(idNumber: id, caller: b, logger: testLogger).transfer.id))
            let consented = try await registry.transfers.consent(t3, code: nil, caller: worker, logger: testLogger)
            #expect(consented.consentMethod == "account")
            #expect(try await registry.transfers.completeOverdue(logger: testLogger) == 0)
            try await registry.database.query("UPDATE transfers SET seal_deadline = now() - interval '1 minute' WHERE id = \(t3)", logger: testLogger)
            #expect(try await registry.transfers.completeOverdue(logger: testLogger) == 1)
            #expect(try await registry.transfers.completeOverdue(logger: testLogger) == 0)  // idempotent
            let done = try await registry.transfers.get(t3, caller: b, logger: testLogger)
            #expect(done.status == "completed" && done.completedHow == "deadline")
            let file = try await registry.workers.file(w, caller: worker, logger: testLogger)
            #expect(file.currentAgency.id == bID.text)
            #expect(file.tenures.first?.sealedHow == "deadline")
        }
    }

    @Test("two agencies racing for one worker: exactly one transfer opens")
    func race() async throws {
        try await withTestRegistry { registry, _ in
            let (_, a) = try await registry.approvedAgency(1)
            var others: [Caller] = []
            for n in 2...5 { others.append(try await registry.approvedAgency(n).staff) }
            let id = Fixtures.idNumber()
            _ = try await registry.workers.register(Fixtures.registration(id), caller: a, logger: testLogger)
            let outcomes = await withTaskGroup(of: String.self) { group in
                for caller in others {
                    group.addTask {
                        do {
                            _ = try await registry.transfers.request(idNumber: id, caller: caller, logger: testLogger)
                            return "opened"
                        } catch let error as RegistryError {
                            return error.code
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                var all: [String] = []
                for await o in group { all.append(o) }
                return all
            }
            #expect(outcomes.filter { $0 == "opened" }.count == 1, "\(outcomes)")
            #expect(outcomes.filter { $0 == "transfer_open" }.count == others.count - 1, "\(outcomes)")
        }
    }

    @Test("roster import: good, bad and duplicate rows, run twice creates nothing twice")
    func importTwice() async throws {
        try await withTestRegistry { registry, _ in
            let (aID, a) = try await registry.approvedAgency(1)
            let (bID, b) = try await registry.approvedAgency(2)
            let elsewhere = Fixtures.idNumber(serial: 900)
            _ = try await registry.workers.register(Fixtures.registration(elsewhere), caller: b, logger: testLogger)
            _ = bID
            var csv = "id_number,full_name,sex,phone,home_region,service_categories\n"
            for i in 0..<30 { csv += "\(Fixtures.idNumber(serial: 100 + i)),Worker \(i),\(i % 2 == 0 ? "F" : "M"),,320102,nanny;cooking\n" }
            csv += "\(Fixtures.idNumber(serial: 100)),Again,F,,320102,nanny\n"  // line 32: same ID as line 2
            csv += "110105194912310021,Bad check,F,,110105,nanny\n"  // line 33
            csv += "\(elsewhere),Elsewhere,F,,320102,nanny\n"  // line 34: another agency's worker
            csv += "\(Fixtures.idNumber(serial: 200)),\"Quoted, Name\",F,,320102,gardening\n"  // line 35: unknown category
            let records = CSV.parse(csv)
            let columns = try WorkerImport.columns(records[0].fields)
            let first = try await registry.workerImport.run(
                records: Array(records.dropFirst()),
                columns: columns,
                agencyID: aID.uuid,
                caller: a,
                logger: testLogger
            )
            #expect(first.created == 30)
            #expect(first.rejected == 3)
            #expect(first.transferNeeded == 1)
            let byLine = Dictionary(uniqueKeysWithValues: first.lines.map { ($0.line, $0) })
            #expect(byLine[32]?.reason?.contains("line 2") == true)
            #expect(byLine[33]?.field == "id_number")
            #expect(byLine[34]?.outcome == .transferNeeded)
            #expect(byLine[35]?.field == "category" || byLine[35]?.field == "service_categories")

            let second = try await registry.workerImport.run(
                records: Array(records.dropFirst()),
                columns: columns,
                agencyID: aID.uuid,
                caller: a,
                logger: testLogger
            )
            #expect(second.created == 0)
            #expect(second.alreadyRegistered == 30)
            #expect(second.rejected == 3 && second.transferNeeded == 1)
            #expect(try await registry.workers.roster(nameContains: nil, limit: 500, offset: 0, caller: a, logger: testLogger).count == 30)
            #expect(try await registry.auditCount("worker.registered") == 31)
            // Every imported worker has her tenure.
            let rows = try await registry.database.query(
                "SELECT count(*)::int FROM tenures WHERE agency_id = \(aID) AND sealed_at IS NULL",
                logger: testLogger
            )
            #expect(try await single(rows, Int.self) == 30)
            // A header without the needed columns is refused up front.
            expectErrorSync("bad_header") { try WorkerImport.columns(["name", "id"]) }
        }
    }

    @Test("the HTTP API: register 201, bad input 400 naming the field, import over HTTP, decisions by admins only")
    func overHTTP() async throws {
        try await withTestApp { registry, _, client in
            let apply = try await client.execute(
                uri: "/api/v1/agencies",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body([
                    "name": "安心家政", "uscc": Fixtures.uscc(7), "region_code": "350102", "contact_name": "王芳",
                    "contact_email": "wang@anxin.cn", "password": "agency password 7",
                    "representative": "林建国", "commitment_version": registry.policies.commitments.agency.version,
                ])
            )
            #expect(apply.status == .created)
            let agencyID = try #require(TestJSON.object(apply.body)["agency_id"] as? String)
            let badCode = try await client.execute(
                uri: "/api/v1/agencies",
                method: .post,
                headers: [.contentType: "application/json"],
                body: TestJSON.body([
                    "name": "X", "uscc": "91350100M000100Y44", "region_code": "350102", "contact_name": "X",
                    "contact_email": "x@x.cn", "password": "agency password 7",
                    "representative": "X", "commitment_version": registry.policies.commitments.agency.version,
                ])
            )
            #expect(badCode.status == .badRequest)
            _ = try await registry.makeUser(email: "root@example.cn", password: "admin password")
            func token(_ email: String, _ password: String) async throws -> HTTPFields {
                let r = try await client.execute(
                    uri: "/api/v1/auth/login",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: TestJSON.body(["email": email, "password": password])
                )
                return [.authorization: "Bearer \(TestJSON.object(r.body)["token"] as? String ?? "")", .contentType: "application/json"]
            }
            let staff = try await token("wang@anxin.cn", "agency password 7")
            let admin = try await token("root@example.cn", "admin password")
            // Her own credit commitment first (the agency's came signed with the application).
            let commitment = try await client.execute(
                uri: "/api/v1/agency/commitments",
                method: .post,
                headers: staff,
                body: TestJSON.body(["kind": "staff", "version": registry.policies.commitments.staff.version])
            )
            #expect(commitment.status == .ok)
            #expect(
                try await client.execute(
                    uri: "/api/v1/agencies/\(agencyID)/approve",
                    method: .post,
                    headers: staff,
                    body: TestJSON.body([:])
                ).status == .forbidden
            )
            let notApproved = try await client.execute(
                uri: "/api/v1/workers",
                method: .post,
                headers: staff,
                body: TestJSON.body([
                    "id_number": Fixtures.idNumber(), "full_name": "A", "sex": "F",
                    "home_region": "320102", "service_categories": ["nanny"],
                ])
            )
            #expect(notApproved.status == .forbidden && TestJSON.errorCode(notApproved.body) != "commitment_required")
            #expect(
                try await client.execute(
                    uri: "/api/v1/agencies/\(agencyID)/approve",
                    method: .post,
                    headers: admin,
                    body: TestJSON.body([:])
                ).status == .ok
            )
            #expect(
                try await client.execute(
                    uri: "/api/v1/agencies/\(agencyID)/explode",
                    method: .post,
                    headers: admin,
                    body: TestJSON.body([:])
                ).status == .notFound
            )
            let created = try await client.execute(
                uri: "/api/v1/workers",
                method: .post,
                headers: staff,
                body: TestJSON.body([
                    "id_number": Fixtures.idNumber().lowercased(), "full_name": "李秀英", "sex": "女",
                    "phone": "13800138000", "home_region": "320102", "service_categories": ["nanny"],
                ])
            )
            #expect(created.status == .created)
            let badID = try await client.execute(
                uri: "/api/v1/workers",
                method: .post,
                headers: staff,
                body: TestJSON.body([
                    "id_number": "320102198506151288", "full_name": "A", "sex": "F",
                    "home_region": "320102", "service_categories": ["nanny"],
                ])
            )
            #expect(badID.status == .badRequest)
            #expect((TestJSON.object(badID.body)["error"] as? [String: Any])?["field"] as? String == "id_number")
            var csv = "id_number,full_name,sex,phone,home_region,service_categories\n"
            csv += "\(Fixtures.idNumber(serial: 300)),甲,F,,320102,nanny\n\(Fixtures.idNumber()),乙,F,,320102,nanny\nbad,丙,F,,320102,nanny\n"
            let imported = try await client.execute(uri: "/api/v1/workers:import", method: .post, headers: staff, body: ByteBuffer(string: csv))
            #expect(imported.status == .ok)
            let summary = TestJSON.object(imported.body)
            #expect(summary["created"] as? Int == 1 && summary["already_registered"] as? Int == 1 && summary["rejected"] as? Int == 1)
            let roster = try await client.execute(uri: "/api/v1/workers?q=%E7%A7%80", method: .get, headers: staff)
            #expect((TestJSON.object(roster.body)["workers"] as? [[String: Any]])?.count == 1)
        }
    }
}
