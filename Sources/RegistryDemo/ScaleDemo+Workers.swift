import Foundation
import Logging
import NIOCore
import RegistryDomain
import RegistrySecurity
import RegistryServices
import RegistryStorage
import Synchronization

/// A value shared by concurrent tasks behind a lock.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

extension ScaleDemo {
    /// The generated ID numbers, as 17-digit bodies by worker index: flags are written against
    /// them. Kept in memory only, never written anywhere.
    struct Identities: Sendable {
        var bodies: [UInt64]
        var tenures = 0
        var transfers = 0
        var activity = ActivityCounts()
    }

    static let workerBatch = 5000

    /// What one batch of workers produced.
    struct WorkerBatch: Sendable {
        var bodies: [UInt64] = []
        var activity = ActivityCounts()
        var tenures = 0
        var transfers = 0
        var bench: [BenchWorker] = []
    }

    /// One worker as generated, before her rows are written.
    struct Candidate {
        var body: UInt64
        var registration: WorkerRegistration
        var blind: [UInt8]
    }

    /// Workers with valid, distinct ID numbers, sealed and blind-indexed with the registry's key
    /// ring exactly as registration does (`WorkerRegistration`, `KeyRing.seal`, `KeyRing.blindIndex`),
    /// in parallel batches streamed with COPY together with their tenures and transfers; each
    /// batch's engagements, reviews and qualifications follow in the same transaction.
    func insertWorkers(_ plan: inout Plan, report: @escaping @Sendable (Int) -> Void) async throws -> Identities {
        let batches = (options.workers + Self.workerBatch - 1) / Self.workerBatch
        let seen = Locked(Set<UInt64>())
        let frozen = plan
        let results = try await parallel(batches) { b in
            let size = min(Self.workerBatch, options.workers - b * Self.workerBatch)
            let batch = try await workerBatch(b, size: size, plan: frozen, seen: seen)
            report(size)
            return batch
        }
        var identities = Identities(bodies: [])
        identities.bodies.reserveCapacity(options.workers)
        for r in results {
            identities.bodies += r.bodies
            identities.tenures += r.tenures
            identities.transfers += r.transfers
            identities.activity = identities.activity + r.activity
            plan.benchWorkers += r.bench
        }
        return identities
    }

    /// `count` new identities: distinct within the run and without a file in the registry.
    func candidates(_ count: Int, rng: inout DemoRandom, today: CivilDate, seen: Locked<Set<UInt64>>) async throws -> [Candidate] {
        var result: [Candidate] = []
        let ages = registry.policies.custody.ages
        while result.count < count {
            var fresh: [Candidate] = []
            while fresh.count < count - result.count {
                let female = rng.chance(0.94)
                let age = 22 + rng.below(21) + rng.below(21)
                guard let birth = CivilDate(year: today.year - age, month: 1, day: 1)?.adding(days: rng.below(365)) else { continue }
                let region = rng.chance(0.6) ? rng.pick(DemoPeople.originCounties) : rng.pick(DemoPeople.cityDistricts)
                let serial = rng.below(500) * 2 + (female ? 0 : 1)
                let body = DemoPeople.body(region: region, birth: birth, serial: serial)
                guard seen.withLock({ $0.insert(body).inserted }) else { continue }
                let input = WorkerRegistration.Input(
                    idNumber: DemoPeople.idNumber(body),
                    fullName: DemoPeople.name(female: female, &rng),
                    sex: female ? "F" : "M",
                    phone: DemoPeople.mobile(&rng),
                    homeRegion: rng.chance(0.9) ? region : rng.pick(DemoPeople.originCounties),
                    serviceCategories: Self.categories(female: female, &rng)
                )
                // The same validation as registration: check character, birth date, sex, age.
                let registration = try WorkerRegistration(input, today: today, ages: ages, sectors: registry.policies.sectors)
                fresh.append(Candidate(body: body, registration: registration, blind: registry.keys.blindIndex(registration.nationalID)))
            }
            // Someone already registered (another set, or real files) keeps her file: draw again.
            let taken = try await ScaleDataStore.existingBlindIndexes(fresh.map(\.blind), database: database, logger: logger)
            result += fresh.filter { !taken.contains($0.blind) }
        }
        return result
    }

    static func categories(female: Bool, _ rng: inout DemoRandom) -> [String] {
        let pool =
            female
            ? ["nanny", "nanny", "maternity", "maternity", "elder_care", "elder_care", "housekeeping", "housekeeping", "cooking", "patient_care"]
            : ["elder_care", "patient_care", "cooking", "housekeeping"]
        var chosen: [String] = []
        for _ in 0..<(1 + rng.below(3)) {
            let c = rng.pick(pool)
            if !chosen.contains(c) { chosen.append(c) }
        }
        return chosen
    }

    func workerBatch(_ b: Int, size: Int, plan: Plan, seen: Locked<Set<UInt64>>) async throws -> WorkerBatch {
        var rng = DemoRandom(seed: plan.seed, stream: 1000 + UInt64(b))
        let today = plan.today
        var people = try await candidates(size, rng: &rng, today: today, seen: seen)
        var out = WorkerBatch()
        var workers = ByteBuffer()
        var tenures = ByteBuffer()
        var transfers = ByteBuffer()
        var line = CopyLine()
        var activity = ActivityInput()
        let agencyCount = plan.agencies.count
        for i in 0..<people.count {
            let p = people[i]
            let reg = p.registration
            let id = UUID()
            var bench: BenchWorker?
            if b == 0, i < plan.benchWorkerPhones.count {
                bench = BenchWorker(id: id, phone: plan.benchWorkerPhones[i], name: reg.fullName)
                out.bench.append(bench!)
            }
            let first = plan.agencyIndex(&rng)
            let adult = CivilDate(
                year: reg.nationalID.birthDate.year + 18,
                month: reg.nationalID.birthDate.month,
                day: min(reg.nationalID.birthDate.day, 28)
            )!
            var registered = today.adding(days: -(30 + Int(3300 * pow(rng.unit(), 0.8))))
            registered = max(registered, adult.adding(days: 30), plan.agencies[first].appliedOn.adding(days: 10))
            var current = first
            var moved: CivilDate?
            let span = today.daysSinceEpoch - 30 - (registered.daysSinceEpoch + 90)
            if agencyCount > 1, span > 80, rng.chance(0.15) {
                current = (first + 1 + rng.below(agencyCount - 1)) % agencyCount
                moved = registered.adding(days: 90 + rng.below(span))
            }
            let registeredBy = plan.agencies[first].staff[rng.below(plan.agencies[first].staff.count)]
            let minute = 8 * 60 + rng.below(10 * 60)
            let available = rng.chance(0.1)

            line.add(id)
            line.add(bytes: registry.keys.seal(reg.nationalID.value, context: SealedPlace.workerID(id)))
            line.add(bytes: p.blind)
            line.add(reg.fullName)
            line.add(reg.nationalID.birthDate)
            line.add(reg.sex.rawValue)
            line.add(bench?.phone ?? reg.phone)
            line.add(reg.homeRegion)
            line.add("{" + reg.categories.map(\.rawValue).joined(separator: ",") + "}")
            line.add(plan.agencies[current].id)
            line.add("active")
            line.add(day: registered, minute: minute)
            line.add(registeredBy)
            line.add(available)
            line.add(day: available ? today.adding(days: -rng.below(60)) : nil, minute: minute)
            line.end(into: &workers)

            // The first agency's tenure: sealed when she moved, with its final assessment.
            let firstTenure = UUID()
            let secondTenure = UUID()
            line.add(firstTenure)
            line.add(id)
            line.add(plan.agencies[first].id)
            line.add(registered)
            if let moved {
                let sealedBy = rng.chance(0.9) ? plan.agencies[first].staff[0] : nil
                line.add(moved)
                line.add(rng.pick(DemoPeople.workAbility))
                line.add(rng.pick(DemoPeople.healthStatus))
                line.add(rng.pick(DemoPeople.feedback))
                line.add(3 + rng.below(3))
                line.add(nil as String?)
                line.add(day: moved, minute: 17 * 60)
                line.add(sealedBy)
                line.add(sealedBy == nil ? "deadline" : "agency")
                line.add(day: registered, minute: minute)
                line.add(day: moved, minute: 17 * 60)
                line.end(into: &tenures)
                out.tenures += 1

                // The completed transfer, and the new agency's open tenure.
                let requested = moved.adding(days: -(2 + rng.below(6)))
                line.add(UUID())
                line.add(id)
                line.add(plan.agencies[first].id)
                line.add(plan.agencies[current].id)
                line.add("completed")
                line.add(day: requested, minute: 10 * 60)
                line.add(plan.agencies[current].staff[0])
                line.add(nil as String?)
                line.add(day: requested, minute: 10 * 60 + 30)
                line.add(day: requested, minute: 11 * 60)
                line.add(rng.chance(0.7) ? "code" : "account")
                line.add(day: requested.adding(days: 7), minute: 11 * 60)
                line.add(day: moved, minute: 17 * 60)
                line.add(sealedBy == nil ? "deadline" : "sealed")
                line.end(into: &transfers)
                out.transfers += 1

                line.add(secondTenure)
                line.add(id)
                line.add(plan.agencies[current].id)
                line.add(moved)
                addOpenTenureAssessment(&line, &rng)
                line.add(day: moved, minute: 17 * 60)
                line.add(day: moved, minute: 17 * 60)
                line.end(into: &tenures)
                out.tenures += 1
            } else {
                addOpenTenureAssessment(&line, &rng)
                line.add(day: registered, minute: minute)
                line.add(day: registered, minute: minute)
                line.end(into: &tenures)
                out.tenures += 1
            }

            // A few transfers still wait for her consent.
            if agencyCount > 1, rng.chance(0.003) {
                let to = (current + 1 + rng.below(agencyCount - 1)) % agencyCount
                let requested = today.adding(days: -rng.below(5))
                var hash = [UInt8](repeating: 0, count: 32)
                for j in 0..<32 { hash[j] = UInt8(truncatingIfNeeded: rng.next()) }
                line.add(UUID())
                line.add(id)
                line.add(plan.agencies[current].id)
                line.add(plan.agencies[to].id)
                line.add("requested")
                line.add(day: requested, minute: 9 * 60)
                line.add(plan.agencies[to].staff[0])
                line.add(bytes: hash)
                line.add(day: requested, minute: 9 * 60 + 30)
                line.add(nil as String?)
                line.add(nil as String?)
                line.add(nil as String?)
                line.add(nil as String?)
                line.add(nil as String?)
                line.end(into: &transfers)
                out.transfers += 1
            }
            let currentTenure = moved == nil ? firstTenure : secondTenure
            activity.workers.append(id)
            activity.categories.append(reg.categories.map(\.rawValue).joined(separator: ","))
            activity.firstStart.append(registered.iso)
            activity.currentAgency.append(plan.agencies[current].id)
            activity.currentStaff.append(plan.agencies[current].staff[0])
            activity.currentTenure.append(currentTenure)
            activity.currentStart.append((moved ?? registered).iso)
            activity.currentAgencyName.append(plan.agencies[current].name)
            activity.previousAgency.append(plan.agencies[first].id)
            activity.previousStaff.append(plan.agencies[first].staff[0])
            activity.previousEnd.append(moved?.iso ?? "")
            activity.certificateTitle.append(Self.certificateTitles[reg.categories[0].rawValue] ?? "职业技能证书")
            out.bodies.append(p.body)
        }
        people.removeAll()
        let input = activity
        out.activity = try await database.transaction(logger: logger) { connection in
            try await ScaleDataStore.copyWorkers(workers, tenures: tenures, transfers: transfers, on: connection, logger: logger)
            return try await insertActivity(input, plan: plan, on: connection)
        }
        return out
    }

    /// The open tenure: ended_on … sealed_how, with the agency's provisional assessment on most.
    func addOpenTenureAssessment(_ line: inout CopyLine, _ rng: inout DemoRandom) {
        let assessed = rng.chance(0.6)
        line.add(nil as String?)
        line.add(assessed ? rng.pick(DemoPeople.workAbility) : nil)
        line.add(assessed ? rng.pick(DemoPeople.healthStatus) : nil)
        line.add(nil as String?)
        line.add(assessed ? 3 + rng.below(3) : nil)
        line.add(nil as String?)
        line.add(nil as String?)
        line.add(nil as UUID?)
        line.add(nil as String?)
    }
}
