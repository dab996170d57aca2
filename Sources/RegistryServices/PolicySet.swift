import Foundation
import RegistryDomain
import Yams

/// Every policy file, loaded and validated at startup.
public struct PolicySet: Sendable {
    public var access: AccessPolicy
    public var authentication: AuthenticationPolicy
    public var custody: CustodyPolicy
    public var reports: ReportPolicy
    public var flags: FlagPolicy
    /// The sectors and their service categories (`sectors.yaml`).
    public var sectors: SectorPolicy
    public var grading: GradingPolicy
    public var revocation: RevocationPolicy
    public var messages: MessagePolicy
    public var schedule: SchedulePolicy
    /// The template code of each message kind, for an SMS provider that sends only approved
    /// templates (`sms-templates.yaml`); checked against the message kinds when one is configured.
    public var smsTemplates: SMSTemplatePolicy
    /// What is published: the blacklist's fields and masking, the red list's rule.
    public var publication: PublicationPolicy
    /// The agency's and the staff's credit commitments.
    public var commitments: CommitmentPolicy
    /// Agency demerit points: offences, answer time, expiry, thresholds.
    public var demerits: DemeritPolicy
    /// Workers' reviews of households: the window, the complaints, the warning threshold.
    public var households: HouseholdPolicy

    public init(
        access: AccessPolicy,
        authentication: AuthenticationPolicy,
        custody: CustodyPolicy = .init(),
        reports: ReportPolicy = .init(),
        flags: FlagPolicy,
        sectors: SectorPolicy,
        grading: GradingPolicy,
        revocation: RevocationPolicy,
        messages: MessagePolicy = .init(),
        schedule: SchedulePolicy = .init(),
        smsTemplates: SMSTemplatePolicy = .init(),
        publication: PublicationPolicy = .init(),
        commitments: CommitmentPolicy,
        demerits: DemeritPolicy,
        households: HouseholdPolicy
    ) {
        self.demerits = demerits
        self.households = households
        self.publication = publication
        self.commitments = commitments
        self.messages = messages
        self.schedule = schedule
        self.smsTemplates = smsTemplates
        self.access = access
        self.authentication = authentication
        self.custody = custody
        self.reports = reports
        self.flags = flags
        self.sectors = sectors
        self.grading = grading
        self.revocation = revocation
    }

    /// Loads every policy file from `directory`. A problem names the file,
    /// the line and what is wrong.
    public static func load(directory: String) throws -> PolicySet {
        let access = try PolicyFile.load(directory + "/access.yaml", as: AccessFile.self) { file throws(PolicyError) in
            try file.policy()
        }
        let authentication = try PolicyFile.load(directory + "/authentication.yaml", as: AuthenticationPolicy.self) {
            file throws(PolicyError) in
            try file.validate()
            return file
        }
        let custody = try PolicyFile.load(directory + "/custody.yaml", as: CustodyPolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        let reports = try PolicyFile.load(directory + "/reports.yaml", as: ReportPolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        let flags = try PolicyFile.load(directory + "/flags.yaml", as: FlagPolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        let sectors = try loadSectorPolicy(directory: directory)
        let grading = try loadGradingPolicy(directory: directory, sectors: sectors)
        do {
            try grading.checkDimensions(skill: reports.reviewDimensions.skill, ethics: reports.reviewDimensions.ethics)
        } catch {
            throw PolicyLoadError(file: directory + "/grading.yaml", line: nil, problem: "\(error) (compare reports.yaml review_dimensions)")
        }
        do {
            try sectors.checkDimensions(skill: reports.reviewDimensions.skill)
        } catch {
            throw PolicyLoadError(file: directory + "/sectors.yaml", line: nil, problem: "\(error) (compare reports.yaml review_dimensions)")
        }
        let penalised = Set(grading.ethics.flags.penalties.keys)
        for category in flags.categories.keys.sorted() where !penalised.contains(category) {
            throw PolicyLoadError(
                file: directory + "/flags.yaml",
                line: nil,
                problem:
                    "category '\(category)' has no penalty in grading.yaml ethics.flags.penalties (it has: \(penalised.sorted().joined(separator: ", ")))"
            )
        }
        for category in penalised.sorted() where flags.categories[category] == nil {
            throw PolicyLoadError(
                file: directory + "/grading.yaml",
                line: nil,
                problem: "ethics.flags.penalties names '\(category)', which flags.yaml does not declare"
            )
        }
        var revocation = try PolicyFile.load(directory + "/revocation.yaml", as: RevocationPolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        try loadCalendar(directory: directory + "/calendar", into: &revocation)
        for effect in flags.effects where effect.openCase {
            for category in effect.categories where revocation.grounds[category] == nil {
                throw PolicyLoadError(
                    file: directory + "/revocation.yaml",
                    line: nil,
                    problem: "flags.yaml opens cases for '\(category)', which is not among the grounds"
                )
            }
        }
        let messages = try PolicyFile.load(directory + "/messages.yaml", as: MessagePolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        let schedule = try PolicyFile.load(directory + "/schedule.yaml", as: SchedulePolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        let smsTemplates = try PolicyFile.load(directory + "/sms-templates.yaml", as: SMSTemplatePolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        let publication = try PolicyFile.load(directory + "/publication.yaml", as: PublicationPolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        let commitments = try PolicyFile.load(directory + "/commitments.yaml", as: CommitmentPolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        let demerits = try PolicyFile.load(directory + "/demerits.yaml", as: DemeritPolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        let households = try PolicyFile.load(directory + "/households.yaml", as: HouseholdPolicy.self) { file throws(PolicyError) in
            try file.validate()
            return file
        }
        return PolicySet(
            access: access,
            authentication: authentication,
            custody: custody,
            reports: reports,
            flags: flags,
            sectors: sectors,
            grading: grading,
            revocation: revocation,
            messages: messages,
            schedule: schedule,
            smsTemplates: smsTemplates,
            publication: publication,
            commitments: commitments,
            demerits: demerits,
            households: households
        )
    }
}

extension PolicySet {
    /// Reads `calendar/YYYY.yaml` (one file per year, with no year missing between the first and
    /// the last) into the revocation policy's working-day calendar. Without the folder, the
    /// calendar is whatever revocation.yaml itself lists.
    static func loadCalendar(directory: String, into revocation: inout RevocationPolicy) throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        var years: [CalendarYear] = []
        for name in names.sorted() where name.hasSuffix(".yaml") {
            guard let fileYear = Int(name.dropLast(5)), (2000...2200).contains(fileYear) else {
                throw PolicyLoadError(file: directory + "/" + name, line: nil, problem: "a calendar file is named after its year, like 2027.yaml")
            }
            years.append(
                try PolicyFile.load(directory + "/" + name, as: CalendarYear.self) { file throws(PolicyError) in
                    try file.validate(fileYear: fileYear)
                    return file
                }
            )
        }
        guard let first = years.first, let last = years.last else {
            throw PolicyLoadError(file: directory, line: nil, problem: "the working-day calendar has no year (add YYYY.yaml)")
        }
        for (a, b) in zip(years, years.dropFirst()) where b.year != a.year + 1 {
            throw PolicyLoadError(
                file: directory,
                line: nil,
                problem: "the calendar has no file for \(a.year + 1) (it goes from \(first.year) to \(last.year)): every year between must be listed"
            )
        }
        revocation.holidays = (revocation.holidays ?? []) + years.flatMap(\.holidays)
        revocation.workdays = (revocation.workdays ?? []) + years.flatMap(\.workdays)
        revocation.calendarLastYear = last.year
        revocation.provisionalYears = years.filter(\.provisional).map(\.year)
    }

    /// `sms-templates.yaml` against the message kinds (`Web/i18n/messages`): every kind has a
    /// template code or is not sent by SMS, and the file names no other kind. Needed by a provider
    /// that sends approved templates (Alibaba Cloud SMS).
    public func checkSMSTemplates(kinds: Set<String>, directory: String) throws {
        do {
            try smsTemplates.check(kinds: kinds)
        } catch {
            throw PolicyLoadError(file: directory + "/sms-templates.yaml", line: nil, problem: error.description)
        }
    }
}

/// The shape of `Policies/access.yaml`.
struct AccessFile: Decodable {
    var version: Int
    var actions: [String: String]
    var roles: [String: [String]]

    func policy() throws(PolicyError) -> AccessPolicy {
        var grants: [Role: Set<String>] = [:]
        for (name, granted) in roles {
            for (index, action) in granted.enumerated() where self.actions[action] == nil {
                throw PolicyError(path: ["roles", name, String(index)], message: "grants unknown action '\(action)'")
            }
        }
        for (name, actions) in roles {
            guard let role = Role(rawValue: name) else {
                throw PolicyError(
                    path: ["roles", name],
                    message: "unknown role '\(name)' (known: \(Role.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            grants[role] = Set(actions)
        }
        return try AccessPolicy(version: version, actions: actions, grants: grants)
    }
}

/// Sessions, passwords and login throttling (`Policies/authentication.yaml`).
public struct AuthenticationPolicy: Sendable, Decodable, Equatable {
    public var version: Int
    public var sessionLifetimeHours: Int
    /// A session not used for this long ends, whatever its lifetime.
    public var sessionIdleMinutes: Int
    public var passwordMinLength: Int
    public var loginThrottle: LoginThrottlePolicy
    /// Accounts created (households registering, agencies applying) per client address and in
    /// all, per minute: each costs an argon2id run.
    public var registrationsPerAddressPerMinute: Int
    public var registrationsPerMinute: Int

    enum CodingKeys: String, CodingKey {
        case registrationsPerAddressPerMinute = "registrations_per_address_per_minute"
        case registrationsPerMinute = "registrations_per_minute"
        case version
        case sessionLifetimeHours = "session_lifetime_hours"
        case sessionIdleMinutes = "session_idle_minutes"
        case passwordMinLength = "password_min_length"
        case loginThrottle = "login_throttle"
    }

    public init(
        version: Int = 1,
        sessionLifetimeHours: Int = 12,
        sessionIdleMinutes: Int = 30,
        passwordMinLength: Int = 10,
        loginThrottle: LoginThrottlePolicy = .init(),
        registrationsPerAddressPerMinute: Int = 5,
        registrationsPerMinute: Int = 120
    ) {
        self.registrationsPerAddressPerMinute = registrationsPerAddressPerMinute
        self.registrationsPerMinute = registrationsPerMinute
        self.version = version
        self.sessionLifetimeHours = sessionLifetimeHours
        self.sessionIdleMinutes = sessionIdleMinutes
        self.passwordMinLength = passwordMinLength
        self.loginThrottle = loginThrottle
    }

    func validate() throws(PolicyError) {
        guard (1...720).contains(sessionLifetimeHours) else {
            throw PolicyError(path: ["session_lifetime_hours"], message: "must be 1 to 720")
        }
        guard (1...10_000).contains(registrationsPerAddressPerMinute), (registrationsPerAddressPerMinute...100_000).contains(registrationsPerMinute)
        else {
            throw PolicyError(path: ["registrations_per_minute"], message: "must be 1 to 100000, and at least registrations_per_address_per_minute")
        }
        guard (1...1440).contains(sessionIdleMinutes) else {
            throw PolicyError(path: ["session_idle_minutes"], message: "must be 1 to 1440")
        }
        guard (8...128).contains(passwordMinLength) else {
            throw PolicyError(path: ["password_min_length"], message: "must be 8 to 128")
        }
        try loginThrottle.validate()
    }
}

/// A policy file could not be loaded: which file, which line, what is wrong.
public struct PolicyLoadError: Error, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var problem: String

    public var description: String {
        "\(file)" + (line.map { ":\($0)" } ?? "") + ": \(problem)"
    }
}

enum PolicyFile {
    static func load<File: Decodable, Result>(
        _ path: String,
        as: File.Type,
        validate: (File) throws(PolicyError) -> Result
    ) throws -> Result {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyLoadError(file: path, line: nil, problem: "the file is missing")
        }
        let text = String(decoding: data, as: UTF8.self)
        let node: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                throw PolicyLoadError(file: path, line: nil, problem: "the file is empty")
            }
            node = composed
        } catch let error as YamlError {
            throw PolicyLoadError(file: path, line: error.line, problem: "not valid YAML: \(error.problem)")
        }
        let file: File
        do {
            file = try YAMLDecoder().decode(File.self, from: node)
        } catch let error as DecodingError {
            let (codingPath, problem) = describe(error)
            throw PolicyLoadError(file: path, line: line(of: codingPath, in: node), problem: problem)
        }
        do {
            return try validate(file)
        } catch {
            throw PolicyLoadError(file: path, line: line(of: error.path, in: node), problem: error.description)
        }
    }

    static func describe(_ error: DecodingError) -> ([String], String) {
        func path(_ keys: [any CodingKey]) -> [String] { keys.map { $0.intValue.map(String.init) ?? $0.stringValue } }
        switch error {
        case .keyNotFound(let key, let ctx):
            let p = path(ctx.codingPath)
            return (p, (p.isEmpty ? "" : p.joined(separator: ".") + ": ") + "missing key '\(key.stringValue)'")
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            let p = path(ctx.codingPath)
            return (p, (p.isEmpty ? "" : p.joined(separator: ".") + ": ") + ctx.debugDescription)
        @unknown default:
            return ([], "\(error)")
        }
    }

    /// The line of the node at `path` (or of its nearest existing parent), 1-based. A path that
    /// ends at a mapping key names the key's line.
    static func line(of path: [String], in root: Node) -> Int? {
        var node = root
        var mark = root.mark
        for key in path {
            if let index = Int(key), let seq = node.sequence, index < seq.count {
                node = seq[index]
                mark = node.mark
            } else if let mapping = node.mapping, let pair = mapping.first(where: { $0.key.string == key }) {
                node = pair.value
                mark = pair.key.mark
            } else {
                break
            }
        }
        return mark.map { $0.line }
    }
}

extension YamlError {
    var line: Int? {
        switch self {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): mark.line
        default: nil
        }
    }

    var problem: String {
        switch self {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _): problem
        default: "\(self)"
        }
    }
}
