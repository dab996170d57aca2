import Foundation
import PostgresNIO
import RegistryDemo
import RegistryDomain
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Testing

@Suite("Synthetic data at scale (registry demo --workers)")
struct ScaleDemoTests {
    static let options = ScaleDemo.Options(workers: 2000, agencies: 5, reviewsPerWorker: 3, flags: 500, seed: 42, jobs: 3)

    @Test("a scale set has its counts, IDs sealed as registration seals them, one open tenure each, grades; a second run is refused")
    func scaleSet() async throws {
        try await withTestRegistry { registry, _ in
            // act
            let summary = try await ScaleDemo(registry: registry, options: Self.options, logger: testLogger).run { _ in }

            // verify: the counts asked for
            #expect(try await registry.number("SELECT count(*) FROM workers") == 2000)
            #expect(try await registry.number("SELECT count(*) FROM agencies WHERE status = 'approved'") == 5)
            #expect(try await registry.number("SELECT count(*) FROM users WHERE role = 'agency_staff'") == 10)
            #expect(try await registry.number("SELECT count(*) FROM engagements") == 6000)
            #expect(try await registry.number("SELECT count(*) FROM reviews") == 6000)
            #expect(try await registry.reviewGraderColumnsDiffering() == 0)
            #expect(try await registry.number("SELECT count(*) FROM flags") == 500)
            #expect(
                try await registry.number("SELECT count(DISTINCT f.source_id) FROM flags f JOIN integration_sources s ON s.id = f.source_id") == 2
            )
            #expect(try await registry.number("SELECT count(*) FROM flags WHERE worker_id IS NOT NULL") > 400)
            // Generated as a registry in service would hold them: a flag whose last day has passed has its
            // expiry applied already (the day after), so the first flag-expiry run has nothing to catch up on.
            #expect(try await registry.number("SELECT count(*) FROM flags WHERE expires_on < current_date - 1") > 0)
            #expect(try await registry.number("SELECT count(*) FROM flags WHERE expires_on < current_date - 1 AND expiry_applied_on IS NULL") == 0)
            #expect(try await registry.flags.expireDue(logger: testLogger) == 0)
            #expect(try await registry.number("SELECT count(*) FROM users WHERE role = 'employer'") == 2000)
            #expect(summary.rows["workers"] == 2000 && summary.rows["reviews"] == 6000)

            // Every ID number opens, has a valid check character, matches its birth date and sex, and
            // its blind index is the key ring's: the same format as registration.
            let today = CivilDate.today()
            var numbers: [String] = []
            for try await (workerID, sealed, blind, birth, sex) in try await registry.database.query(
                """
                SELECT id, id_ciphertext, id_blind_index, birth_date::text, sex FROM workers
                """,
                logger: testLogger
            ).decode((UUID, Data, Data, String, String).self) {
                let id = try NationalID(try registry.keys.open(Array(sealed), context: SealedPlace.workerID(workerID)), today: today)
                #expect(registry.keys.blindIndex(id) == Array(blind))
                #expect(id.birthDate.iso == birth)
                #expect(id.sex.rawValue == sex)
                numbers.append(id.value)
            }
            #expect(numbers.count == 2000 && Set(numbers).count == 2000)

            // Registration finds the file: registering one of them again is refused as a duplicate.
            let staff = try await registry.staffCaller()
            let duplicate = await #expect(throws: RegistryError.self) {
                try await registry.workers.register(Fixtures.registration(numbers[17]), caller: staff, logger: testLogger)
            }
            #expect(duplicate?.code == "worker_exists")

            // Custody: exactly one open tenure per worker (nobody is barred here), at her current
            // agency; every sealed tenure belongs to a completed transfer.
            #expect(
                try await registry.number(
                    """
                    SELECT count(*) FROM workers w
                    WHERE w.status <> 'revoked' AND (SELECT count(*) FROM tenures t WHERE t.worker_id = w.id AND t.sealed_at IS NULL) <> 1
                    """
                ) == 0
            )
            #expect(
                try await registry.number(
                    """
                    SELECT count(*) FROM tenures t JOIN workers w ON w.id = t.worker_id WHERE t.sealed_at IS NULL AND t.agency_id <> w.current_agency_id
                    """
                ) == 0
            )
            let sealed = try await registry.number("SELECT count(*) FROM tenures WHERE sealed_at IS NOT NULL")
            #expect(sealed > 0)
            #expect(try await registry.number("SELECT count(*) FROM transfers WHERE status = 'completed'") == sealed)

            // Grades for everyone; one audit event for the whole generation, not one per row.
            #expect(
                try await registry.number("SELECT count(*) FROM workers w WHERE NOT EXISTS (SELECT 1 FROM grades g WHERE g.worker_id = w.id)") == 0
            )
            #expect(try await registry.auditCount("demo.scale_generated") == 1)
            #expect(try await registry.auditCount("worker.registered") == 0)

            // A second run on the non-empty registry is refused and changes nothing.
            let refused = await #expect(throws: RegistryError.self) {
                try await ScaleDemo(registry: registry, options: Self.options, logger: testLogger).run { _ in }
            }
            #expect(refused?.code == "registry_not_empty")
            #expect(try await registry.number("SELECT count(*) FROM workers") == 2000)
            #expect(try await registry.auditCount("demo.scale_generated") == 1)
        }
    }

    @Test("--force adds a second, independent set beside the first")
    func forcedSecondSet() async throws {
        try await withTestRegistry { registry, _ in
            // setup
            let small = ScaleDemo.Options(workers: 300, agencies: 2, reviewsPerWorker: 1, flags: 50, seed: 7, jobs: 2)
            _ = try await ScaleDemo(registry: registry, options: small, logger: testLogger).run { _ in }

            // act: the same seed again, forced
            var again = small
            again.force = true
            let summary = try await ScaleDemo(registry: registry, options: again, logger: testLogger).run { _ in }

            // verify
            #expect(summary.tag == "-r2")
            #expect(try await registry.number("SELECT count(*) FROM workers") == 600)
            #expect(try await registry.number("SELECT count(*) FROM agencies") == 4)
            #expect(try await registry.number("SELECT count(*) FROM integration_sources") == 4)
            #expect(try await registry.auditCount("demo.scale_generated") == 2)
        }
    }
}

extension Registry {
    /// A count from the database.
    fileprivate func number(_ sql: String) async throws -> Int {
        for try await n in try await database.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).decode(Int64.self) { return Int(n) }
        return 0
    }

    /// A staff member of one of the generated agencies.
    fileprivate func staffCaller() async throws -> Caller {
        for try await (user, agency) in try await database.query(
            """
            SELECT id, agency_id FROM users WHERE role = 'agency_staff' ORDER BY email LIMIT 1
            """,
            logger: testLogger
        ).decode((UUID, UUID).self) {
            return Caller(
                Principal(.user(id: UserID(user), role: .agencyStaff, agencyID: AgencyID(agency), workerID: nil))
            )
        }
        throw RegistryError.notFound("Staff")
    }
}
