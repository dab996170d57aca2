import Foundation
import PostgresNIO
import RegistryDomain
import RegistryServices
import RegistryStorage
import Testing

@Suite("Audit chain")
struct AuditTests {
    struct Boom: Error {}

    func count(_ database: Database, _ action: String) async throws -> Int {
        let rows = try await database.query("SELECT count(*)::int FROM audit_log WHERE action = \(action)", logger: testLogger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    func chainLength(_ database: Database) async throws -> Int {
        let rows = try await database.query("SELECT count(*)::int FROM audit_chain", logger: testLogger)
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }

    func event(_ action: String) -> AuditEvent {
        AuditEvent(
            actorKind: .system,
            actorID: nil,
            actorRole: "system",
            action: action,
            subjectType: "test",
            subjectID: "1",
            details: ["n": 1]
        )
    }

    @Test("an audit row commits with its change and vanishes with a rolled-back one")
    func sameTransaction() async throws {
        try await withTestRegistry { registry, _ in
            try await registry.database.transaction(logger: testLogger) { connection in
                try await AuditStore.append(event("test.kept"), on: connection, logger: testLogger)
            }
            await #expect(throws: Boom.self) {
                try await registry.database.transaction(logger: testLogger) { connection in
                    try await AuditStore.append(event("test.rolled_back"), on: connection, logger: testLogger)
                    throw Boom()
                }
            }
            #expect(try await count(registry.database, "test.kept") == 1)
            #expect(try await count(registry.database, "test.rolled_back") == 0)
            // A user created through the service writes its audit row in the same transaction.
            _ = try await registry.auth.createAdmin(
                email: "a@example.cn",
                password: "long enough pw",
                displayName: "A",
                logger: testLogger
            )
            #expect(try await count(registry.database, "user.created") == 1)
            // A failed creation (duplicate) leaves no audit row.
            await expectError("account_exists") {
                try await registry.auth.createAdmin(
                    email: "a@example.cn",
                    password: "long enough pw",
                    displayName: "A",
                    logger: testLogger
                )
            }
            #expect(try await count(registry.database, "user.created") == 1)
        }
    }

    @Test(
        "the service role cannot update, delete or truncate the audit tables",
        arguments: [
            "UPDATE audit_log SET action = 'x.y'", "DELETE FROM audit_log", "TRUNCATE audit_log",
            "UPDATE audit_chain SET seq = seq + 1", "DELETE FROM audit_chain", "TRUNCATE audit_chain", "DELETE FROM audit_checkpoints",
            "TRUNCATE audit_checkpoints",
        ]
    )
    func serviceRoleCannotModify(statement: String) async throws {
        try await withTestRegistry { registry, _ in
            try await registry.database.transaction(logger: testLogger) { connection in
                try await AuditStore.append(event("test.row"), on: connection, logger: testLogger)
            }
            try await AuditStore.integrateAll(database: registry.database, logger: testLogger)
            // A privilege the service role does not hold, not a trigger: the grants alone keep it out.
            let table = statement.split(separator: " ").first { $0.hasPrefix("audit_") }.map(String.init) ?? "?"
            await expectSQLError("42501", "permission denied for table \(table)") {
                try await registry.database.query(PostgresQuery(unsafeSQL: statement), logger: testLogger)
            }
            #expect(try await count(registry.database, "test.row") == 1)
            #expect(try await chainLength(registry.database) == 1)
        }
    }

    @Test("even the owner cannot update or delete audit rows while the triggers stand")
    func triggersGuardOwner() async throws {
        try await withTestRegistry { registry, endpoint in
            try await registry.database.transaction(logger: testLogger) { connection in
                try await AuditStore.append(event("test.row"), on: connection, logger: testLogger)
            }
            try await AuditStore.integrateAll(database: registry.database, logger: testLogger)
            try await asOwner(endpoint) { client in
                for (statement, operation, table) in [
                    ("UPDATE audit_log SET details = '{}'", "UPDATE", "audit_log"),
                    ("DELETE FROM audit_log", "DELETE", "audit_log"),
                    ("TRUNCATE audit_log CASCADE", "TRUNCATE", "audit_log"),
                    ("UPDATE audit_chain SET seq = seq + 1", "UPDATE", "audit_chain"),
                    ("DELETE FROM audit_chain", "DELETE", "audit_chain"),
                ] {
                    await expectSQLError("42501", "\(operation) on \(table) is not allowed: the table is append-only") {
                        try await client.query(PostgresQuery(unsafeSQL: statement), logger: testLogger)
                    }
                }
            }
            // Re-read: the row is there, unchanged, and still chained.
            #expect(try await count(registry.database, "test.row") == 1)
            #expect(try await chainLength(registry.database) == 1)
            guard case .intact(1, _) = try await AuditStore.verify(database: registry.database, logger: testLogger) else {
                Issue.record("the chain no longer verifies")
                return
            }
        }
    }

    @Test("verify recomputes the chain, names the first edited row, and catches a chain rewritten after a checkpoint")
    func verifyDetectsTampering() async throws {
        try await withTestRegistry { registry, endpoint in
            for i in 0..<5 {
                try await registry.database.transaction(logger: testLogger) { connection in
                    try await AuditStore.append(event("test.n\(["a", "b", "c", "d", "e"][i])"), on: connection, logger: testLogger)
                }
            }
            try await AuditStore.integrateAll(database: registry.database, logger: testLogger)
            let intact = try await AuditStore.verify(database: registry.database, logger: testLogger)
            guard case .intact(let n, let head) = intact else {
                Issue.record("expected intact, got \(intact)")
                return
            }
            #expect(n == 5)
            #expect(head.count == 64)
            let (taken, isNew) = try await registry.audit.takeCheckpoint(logger: testLogger)
            #expect(isNew && taken.seq == 5 && taken.hash == head && taken.signature?.count == 64)
            let checkpoint = AuditStore.Head(seq: taken.seq, hash: taken.hash, takenAt: taken.takenAt, signature: taken.signature)
            #expect(try registry.audit.savedCheckpoints() == [taken])
            // The head has not moved: no second checkpoint.
            #expect(try await registry.audit.takeCheckpoint(logger: testLogger).isNew == false)

            // An attacker with the owner's rights disables the guard and edits row 3's details.
            try await asOwner(endpoint) { client in
                try await client.query("ALTER TABLE audit_log DISABLE TRIGGER USER", logger: testLogger)
                try await client.query(
                    """
                    UPDATE audit_log SET details = '{"n": 2}' WHERE id = (SELECT event_id FROM audit_chain WHERE seq = 3)
                    """,
                    logger: testLogger
                )
            }
            let broken = try await AuditStore.verify(database: registry.database, logger: testLogger)
            guard case .broken(let seq, _, let reason) = broken else {
                Issue.record("expected broken")
                return
            }
            #expect(seq == 3)
            #expect(reason.contains("changed"))

            // Rewriting the whole chain consistently fools a plain verify, but not the checkpoint.
            try await asOwner(endpoint) { client in
                try await client.query("ALTER TABLE audit_chain DISABLE TRIGGER USER", logger: testLogger)
                try await client.query("ALTER TABLE audit_queue DISABLE TRIGGER USER", logger: testLogger)
                try await client.query("DELETE FROM audit_chain", logger: testLogger)
                try await client.query(
                    """
                    UPDATE audit_log SET content_hash = audit_content_hash(id, occurred_at, actor_kind, actor_id, actor_role,
                        action, subject_type, subject_id, request_id, details)
                    """,
                    logger: testLogger
                )
                try await client.query("INSERT INTO audit_queue (event_id) SELECT id FROM audit_log", logger: testLogger)
                try await client.query("SELECT audit_integrate(1000)", logger: testLogger)
            }
            guard case .intact = try await AuditStore.verify(database: registry.database, logger: testLogger) else {
                Issue.record("a consistent rewrite verifies without a checkpoint")
                return
            }
            let caught = try await AuditStore.verify(database: registry.database, checkpoints: [checkpoint], logger: testLogger)
            guard case .broken(let at, _, let why) = caught else {
                Issue.record("the checkpoint must catch the rewrite")
                return
            }
            #expect(at == 5)
            #expect(why.contains("checkpoint"))
            // The service's own verify reads the checkpoint folder and the database's newest.
            guard case .broken(5, _, _) = try await registry.audit.verify(logger: testLogger) else {
                Issue.record("verify must check the saved and recorded checkpoints")
                return
            }

            // Forging the recorded checkpoint to match the rewritten chain fails its signature.
            try await asOwner(endpoint) { client in
                try await client.query(
                    "UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit_chain WHERE seq = 5) WHERE seq = 5",
                    logger: testLogger
                )
            }
            let forged = try await registry.audit.verifyChain(checkpoints: [], logger: testLogger).result
            guard case .broken(5, _, let forgedWhy) = forged else {
                Issue.record("a forged checkpoint must not verify, got \(forged)")
                return
            }
            #expect(forgedWhy.contains("signature"))
        }
    }
}
