import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryServices
import RegistryStorage

extension ScaleDemo {
    struct AgencyPlan: Sendable {
        var id: UUID
        var name: String
        var region: String
        var appliedOn: CivilDate
        var staff: [UUID]
        var staffEmails: [String]
    }

    /// What the phases share: the run's accounts and agencies, and what the workers phase counted.
    struct Plan: Sendable {
        var tag: String
        var run: Int
        /// Employer ids are md5(seedText || ':e:' || n), computable in SQL and unique per run.
        var seedText: String
        /// The generator's seed for this set (`--seed`, varied for a second set).
        var seed: UInt64
        var today: CivilDate
        var adminID: UUID
        var createdAdmin: Bool
        var agencies: [AgencyPlan]
        /// Cumulative weights: a few large agencies, many small ones.
        var agencyWeights: [Double]
        var policeSource: UUID
        var bureauSource: UUID
        var benchEmployers: Int
        var benchWorkerPhones: [String]
        var benchWorkerHashes: [String]
        var employerHashes: [String]
        var benchWorkers: [BenchWorker] = []

        var employerPhonePrefix: String { "19" + (run % 100 < 10 ? "0" : "") + String(run % 100) }

        func agencyIndex(_ rng: inout DemoRandom) -> Int {
            let u = rng.unit() * (agencyWeights.last ?? 1)
            var lo = 0
            var hi = agencyWeights.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if agencyWeights[mid] < u { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
    }

    struct BenchWorker: Sendable {
        var id: UUID
        var phone: String
        var name: String
    }

    /// The demo administrator (created when missing), the agencies and their staff, the two
    /// integration sources, and the one audit event of the generation, in one transaction.
    func prepareAccounts(tag: String, run: Int, password: String, report: @escaping @Sendable (Int) -> Void) async throws -> Plan {
        let today = CivilDate.today()
        // A second set with the same --seed draws other people, agencies and codes.
        let seed = run == 1 ? options.seed : options.seed &+ UInt64(run) &* 0xD1B5_4A32_D192_ED03
        var rng = DemoRandom(seed: seed, stream: 1)
        let existingAdmin = try await database.withConnection { connection in
            try await AccountStore.find(email: DemoData.adminEmail, phone: nil, on: connection, logger: logger)
        }
        let adminUUID: UUID
        if let existingAdmin {
            adminUUID = existingAdmin.id
        } else {
            adminUUID = try await registry.auth.createAdmin(
                email: DemoData.adminEmail,
                password: password,
                displayName: "Demo administrator",
                logger: logger
            ).uuid
        }
        var agencies: [AgencyPlan] = []
        var names = Set<String>()
        var weights: [Double] = []
        var total = 0.0
        for a in 0..<options.agencies {
            let region = rng.pick(DemoPeople.cityDistricts)
            var name = ""
            for attempt in 0..<50 {
                name = DemoPeople.city(of: region) + rng.pick(DemoPeople.agencyBrands) + rng.pick(DemoPeople.agencyKinds)
                if attempt == 49 { name += "（第\(a + 1)分部）" }
                if names.insert(name).inserted { break }
            }
            let number = String(repeating: "0", count: max(0, 3 - String(a + 1).count)) + String(a + 1)
            let emails = (1...options.staffPerAgency).map { "staff\(number)-\($0)\(tag)@scale.demo.local" }
            agencies.append(
                AgencyPlan(
                    id: UUID(),
                    name: name,
                    region: region,
                    appliedOn: today.adding(days: -(3650 + 365 + rng.below(700))),
                    staff: emails.map { _ in UUID() },
                    staffEmails: emails
                )
            )
            total += 1 / pow(Double(a + 5), 0.7)
            weights.append(total)
        }
        let benchEmployers = min(options.accountsWithPassword, options.employers)
        let benchWorkers = min(options.accountsWithPassword, options.workers)
        let phoneBlock = "134" + String(format: "%04d", run % 10_000)
        let benchPhones = (0..<benchWorkers).map { phoneBlock + String(format: "%04d", $0 + 1) }
        let staffCount = agencies.reduce(0) { $0 + $1.staff.count }
        let hashes = try await hashPasswords(password, count: staffCount + benchEmployers + benchWorkers)

        var staffNames: [String] = []
        var staffHashes: [String] = []
        var staffIDs: [UUID] = []
        var staffAgencies: [UUID] = []
        var staffEmails: [String] = []
        var staffCreated: [String] = []
        for a in agencies {
            for (i, id) in a.staff.enumerated() {
                staffIDs.append(id)
                staffAgencies.append(a.id)
                staffEmails.append(a.staffEmails[i])
                staffNames.append(DemoPeople.name(female: rng.chance(0.8), &rng))
                staffHashes.append(hashes[staffIDs.count - 1])
                staffCreated.append(a.appliedOn.iso)
            }
        }
        let contactNames = agencies.map { a in staffNames[staffIDs.firstIndex(of: a.staff[0])!] }
        let seedText = String(options.seed) + tag
        let secrets = ["scale-police" + tag, "scale-bureau" + tag].map { name in
            Data(registry.keys.seal(TokenGenerator.token(bytes: 32), context: SealedPlace.sourceSecret(name: name)))
        }
        let usccs = agencies.map { DemoPeople.uscc(region: $0.region, &rng) }
        let contactPhones = agencies.map { _ in DemoPeople.mobile(&rng) }
        let sources: (UUID, UUID) = try await database.transaction(logger: logger) { connection in
            try await ScaleDataStore.insertAgencies(
                ids: agencies.map(\.id),
                names: agencies.map(\.name),
                usccs: usccs,
                regions: agencies.map(\.region),
                contactNames: contactNames,
                contactPhones: contactPhones,
                contactEmails: agencies.map { $0.staffEmails[0] },
                applied: agencies.map { $0.appliedOn.iso },
                decidedBy: adminUUID,
                on: connection,
                logger: logger
            )
            try await ScaleDataStore.insertStaff(
                ids: staffIDs,
                emails: staffEmails,
                names: staffNames,
                passwordHashes: staffHashes,
                agencies: staffAgencies,
                created: staffCreated,
                on: connection,
                logger: logger
            )
            try await ScaleDataStore.insertCommitments(
                agencies: agencies.map(\.id),
                contacts: agencies.map { $0.staff[0] },
                representatives: contactNames,
                staff: staffIDs,
                staffAgencies: staffAgencies,
                versions: (registry.policies.commitments.agency.version, registry.policies.commitments.staff.version),
                on: connection,
                logger: logger
            )
            let police = try await IntegrationStore.createSource(
                name: "scale-police" + tag,
                kind: SourceKind.police.rawValue,
                displayName: "公安机关（演示数据）",
                secretEnc: secrets[0],
                requireSignature: false,
                by: adminUUID,
                on: connection,
                logger: logger
            )
            let bureau = try await IntegrationStore.createSource(
                name: "scale-bureau" + tag,
                kind: SourceKind.creditBureau.rawValue,
                displayName: "征信机构（演示数据）",
                secretEnc: secrets[1],
                requireSignature: false,
                by: adminUUID,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                Caller.system.event(
                    "demo.scale_generated",
                    "registry",
                    nil,
                    [
                        "set": .string(tag.isEmpty ? "1" : String(tag.dropFirst(2))), "seed": .string(String(options.seed)),
                        "workers": .int(options.workers), "agencies": .int(options.agencies), "staff_per_agency": .int(options.staffPerAgency),
                        "reviews_per_worker": .int(options.reviewsPerWorker), "flags": .int(options.flags), "employers": .int(options.employers),
                        "police_source": .string(police.uuidString.lowercased()), "bureau_source": .string(bureau.uuidString.lowercased()),
                    ]
                ),
                on: connection,
                logger: logger
            )
            return (police, bureau)
        }
        report(agencies.count)
        return Plan(
            tag: tag,
            run: run,
            seedText: seedText,
            seed: seed,
            today: today,
            adminID: adminUUID,
            createdAdmin: existingAdmin == nil,
            agencies: agencies,
            agencyWeights: weights,
            policeSource: sources.0,
            bureauSource: sources.1,
            benchEmployers: benchEmployers,
            benchWorkerPhones: benchPhones,
            benchWorkerHashes: Array(hashes.suffix(benchWorkers)),
            employerHashes: Array(hashes[staffCount..<(staffCount + benchEmployers)])
        )
    }

    /// argon2id hashes of the demo password with the registry's own hasher, each with its own salt.
    /// No more run at once than the hasher's gate admits (four per core): past it the hasher
    /// answers `busy` instead of waiting.
    func hashPasswords(_ password: String, count: Int) async throws -> [String] {
        let hasher = registry.auth.hasher
        return try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var hashes = [String](repeating: "", count: count)
            var next = 0
            while next < min(count, hasher.gate.limit) {
                let i = next
                group.addTask { (i, try await hasher.hash(password)) }
                next += 1
            }
            while let (i, hash) = try await group.next() {
                hashes[i] = hash
                if next < count {
                    let j = next
                    group.addTask { (j, try await hasher.hash(password)) }
                    next += 1
                }
            }
            return hashes
        }
    }

    /// Households: the first `benchEmployers` sign in with e-mail and the demo password; the others
    /// have no password yet. Generated in the database, ids derived from the run's seed.
    func insertEmployers(_ plan: Plan, report: @escaping @Sendable (Int) -> Void) async throws -> Int {
        let hashes = plan.employerHashes
        let k = plan.benchEmployers
        if k > 0 {
            try await ScaleDataStore.insertEmployersWithPassword(
                passwordHashes: hashes,
                seedText: plan.seedText,
                tag: plan.tag,
                phonePrefix: plan.employerPhonePrefix,
                region: plan.agencies[0].region,
                surnames: DemoPeople.surnames,
                database: database,
                logger: logger
            )
            report(k)
        }
        let chunk = 100_000
        let chunks = (options.employers - k + chunk - 1) / chunk
        let regions = DemoPeople.cityDistricts
        _ = try await parallel(chunks) { c in
            let lo = k + 1 + c * chunk
            let hi = min(options.employers, lo + chunk - 1)
            try await ScaleDataStore.insertEmployers(
                lo,
                through: hi,
                seedText: plan.seedText,
                phonePrefix: plan.employerPhonePrefix,
                surnames: DemoPeople.surnames,
                regions: regions,
                database: database,
                logger: logger
            )
            report(hi - lo + 1)
        }
        return options.employers
    }

    /// Some workers activate their own account (sign-in by phone): they issue consent codes.
    func insertWorkerAccounts(_ plan: Plan) async throws -> Int {
        guard !plan.benchWorkers.isEmpty else { return 0 }
        let w = plan.benchWorkers
        try await ScaleDataStore.insertWorkerAccounts(
            workers: w.map(\.id),
            phones: w.map(\.phone),
            names: w.map(\.name),
            passwordHashes: Array(plan.benchWorkerHashes.prefix(w.count)),
            database: database,
            logger: logger
        )
        return w.count
    }
}
