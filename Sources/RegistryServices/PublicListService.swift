import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// The published lists (`Policies/publication.yaml`). The blacklist shows the bans in force,
/// with exactly the fields policy declares publishable, masked as it says; a lifted ban leaves
/// it at once (the list is read from the bans, not copied).
public struct PublicListService: Sendable {
    let database: Database
    let clock: RegistryClock
    let keys: KeyRing
    let policies: PolicySet

    /// A name in both languages (a sector, the grounds).
    public struct Named: Sendable, Equatable, Encodable {
        public var id: String
        public var zh: String
        public var en: String
    }

    /// One barred worker as published; a field policy withholds is absent.
    public struct Entry: Sendable, Equatable, Encodable {
        public var name: String?
        public var idNumber: String?
        public var sectors: [Named]?
        public var grounds: Named?
        public var decidedOn: String?
        public var reference: String?
    }

    public struct Page: Sendable, Encodable {
        public var entries: [Entry]
        public var total: Int
        public var page: Int
        public var perPage: Int
        public var pages: Int
    }

    var policy: PublicationPolicy.Blacklist { policies.publication.blacklist }

    /// Seconds a client or proxy may keep a page.
    public var cacheSeconds: Int { policy.cacheSeconds }
    public var pageSize: Int { policy.pageSize }

    /// One page of the blacklist (1-based; `perPage` at most the policy's page size).
    public func blacklist(page: Int, perPage: Int? = nil, logger: Logger) async throws -> Page {
        let size = perPage ?? policy.pageSize
        guard (1...policy.pageSize).contains(size) else {
            throw RegistryError.invalid("per_page", "per_page is 1 to \(policy.pageSize).")
        }
        guard (1...100_000).contains(page) else { throw RegistryError.invalid("page", "page is 1 to 100000.") }
        let total = try await PublicListStore.bansInForce(database: database, logger: logger)
        let rows = try await PublicListStore.bans(limit: size, offset: (page - 1) * size, database: database, logger: logger)
        return Page(
            entries: rows.map(entry),
            total: total,
            page: page,
            perPage: size,
            pages: max(1, (total + size - 1) / size)
        )
    }

    func entry(_ row: PublicListStore.BanRow) -> Entry {
        var e = Entry()
        if policy.shows("name") { e.name = PublicationPolicy.Blacklist.maskName(row.fullName) }
        if policy.shows("id_number") {
            let clear = try? keys.open(Array(row.idCiphertext), context: SealedPlace.workerID(row.workerID))
            e.idNumber = clear.map(policy.maskIDNumber) ?? String(repeating: "*", count: 18)
        }
        if policy.shows("sectors") {
            e.sectors = policies.sectors.sectors(of: row.categories.map(ServiceCategory.init(rawValue:))).map {
                Named(id: $0.id, zh: $0.zh, en: $0.en)
            }
        }
        if policy.shows("grounds") {
            // The grounds in plain words: revocation.yaml's, or the flag category's for a case a flag opened.
            let names: (zh: String, en: String)? =
                policies.revocation.grounds[row.grounds].map { ($0.zh, $0.en) } ?? policies.flags.categories[row.grounds].map { ($0.zh, $0.en) }
            e.grounds = Named(id: row.grounds, zh: names?.zh ?? row.grounds, en: names?.en ?? row.grounds)
        }
        if policy.shows("decided_on") { e.decidedOn = row.decidedOn }
        if policy.shows("reference") { e.reference = CaseReference.text(year: row.caseYear, number: row.casePublicNo) }
        return e
    }

    /// The page as CSV (UTF-8, a header row, the published fields only; names in both languages).
    public static func csv(_ page: Page, fields: [String]) -> String {
        var header: [String] = []
        for field in PublicationPolicy.Blacklist.knownFields where fields.contains(field) {
            switch field {
            case "sectors": header += ["sectors_zh", "sectors_en"]
            case "grounds": header += ["grounds_zh", "grounds_en"]
            default: header.append(field)
            }
        }
        var lines = [header.joined(separator: ",")]
        for e in page.entries {
            var cells: [String] = []
            for field in PublicationPolicy.Blacklist.knownFields where fields.contains(field) {
                switch field {
                case "name": cells.append(e.name ?? "")
                case "id_number": cells.append(e.idNumber ?? "")
                case "sectors": cells += [(e.sectors ?? []).map(\.zh).joined(separator: "、"), (e.sectors ?? []).map(\.en).joined(separator: "; ")]
                case "grounds": cells += [e.grounds?.zh ?? "", e.grounds?.en ?? ""]
                case "decided_on": cells.append(e.decidedOn ?? "")
                default: cells.append(e.reference ?? "")
                }
            }
            lines.append(cells.map(CSV.quote).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    // MARK: The red list

    var redListRule: RedListRule {
        let today = clock.today
        let rule = policies.publication.redList
        return RedListRule(grade: rule.grade.rawValue, heldSince: today.adding(days: -rule.minDays).iso, today: today.iso)
    }

    /// Where a worker stands toward the red list, in the rule's terms.
    public struct RedListView: Sendable, Equatable, Encodable {
        public var optIn: Bool
        public var listed: Bool
        /// The grade and days the rule asks for.
        public var grade: String
        public var minDays: Int
        /// What keeps her off it now (empty when she is on it): not_opted_in, not_active,
        /// grade_not_held, open_case, live_flag.
        public var missing: [String]
        public var gradeSince: String?
    }

    func view(_ s: PublicListStore.RedListStanding) -> RedListView {
        var missing: [String] = []
        if !s.optIn { missing.append("not_opted_in") }
        if !s.active { missing.append("not_active") }
        if !s.gradeHeld { missing.append("grade_not_held") }
        if s.openCase { missing.append("open_case") }
        if s.liveFlag { missing.append("live_flag") }
        let rule = policies.publication.redList
        return RedListView(
            optIn: s.optIn,
            listed: s.listed,
            grade: rule.grade.rawValue,
            minDays: rule.minDays,
            missing: missing,
            gradeSince: s.gradeSince
        )
    }

    /// Her own standing toward the red list (a worker signed in).
    public func redList(caller: Caller, logger: Logger) async throws -> RedListView {
        guard caller.principal.role == .worker, let worker = caller.principal.workerID else { throw RegistryError.forbidden }
        guard let standing = try await PublicListStore.redListStanding(worker.uuid, rule: redListRule, database: database, logger: logger) else {
            throw RegistryError.notFound("Worker")
        }
        return view(standing)
    }

    /// She opts in to the red list, or out; audited.
    public func setRedList(optIn: Bool, caller: Caller, logger: Logger) async throws -> RedListView {
        guard caller.principal.role == .worker, let worker = caller.principal.workerID else { throw RegistryError.forbidden }
        try await database.transaction(logger: logger) { connection in
            try await PublicListStore.setRedListOptIn(worker.uuid, optIn, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event(optIn ? "worker.red_list_opt_in" : "worker.red_list_opt_out", "worker", worker.uuid, [:]),
                on: connection,
                logger: logger
            )
        }
        return try await redList(caller: caller, logger: logger)
    }

    /// An agency's count: its active workers in custody and how many are on the red list.
    public struct RedListCount: Sendable, Equatable, Encodable {
        public var workers: Int
        public var onRedList: Int
    }

    public func redListCount(caller: Caller, logger: Logger) async throws -> RedListCount {
        guard caller.principal.role == .agencyStaff, let agency = caller.principal.agencyID else { throw RegistryError.forbidden }
        let (active, listed) = try await PublicListStore.redListCount(agencyID: agency.uuid, rule: redListRule, database: database, logger: logger)
        return RedListCount(workers: active, onRedList: listed)
    }
}
