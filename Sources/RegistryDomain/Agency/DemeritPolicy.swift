/// Agency demerit points (`Policies/demerits.yaml`): the offences an agency can be given points
/// for, how long it has to answer a notice, how long upheld points count, and what the points in
/// force lead to.
public struct DemeritPolicy: Sendable, Equatable, Codable {
    public struct Offence: Sendable, Equatable, Codable {
        public var points: Int
        public var expiresDays: Int
        public var recordedBy: Recorder
        public var zh: String
        public var en: String

        public init(points: Int, expiresDays: Int, recordedBy: Recorder, zh: String, en: String) {
            self.points = points
            self.expiresDays = expiresDays
            self.recordedBy = recordedBy
            self.zh = zh
            self.en = en
        }

        enum CodingKeys: String, CodingKey {
            case points, zh, en
            case expiresDays = "expires_days"
            case recordedBy = "recorded_by"
        }

        public func text(language: String) -> String { language.hasPrefix("zh") ? zh : en }
    }

    /// Who records an offence: the registry itself when the event happens, or an administrator.
    public enum Recorder: String, Sendable, Codable {
        case system, administrator
    }

    public struct Thresholds: Sendable, Equatable, Codable {
        public var warning: Int
        public var suspendRegistrations: Int
        public var caseAgainst: Int

        public init(warning: Int, suspendRegistrations: Int, caseAgainst: Int) {
            self.warning = warning
            self.suspendRegistrations = suspendRegistrations
            self.caseAgainst = caseAgainst
        }

        enum CodingKeys: String, CodingKey {
            case warning
            case suspendRegistrations = "suspend_registrations"
            case caseAgainst = "case"
        }
    }

    public var version: Int
    public var answerDays: Int
    public var caseObjectionDays: Int
    public var offences: [String: Offence]
    public var thresholds: Thresholds

    public init(version: Int = 1, answerDays: Int, caseObjectionDays: Int = 14, offences: [String: Offence], thresholds: Thresholds) {
        self.version = version
        self.answerDays = answerDays
        self.caseObjectionDays = caseObjectionDays
        self.offences = offences
        self.thresholds = thresholds
    }

    enum CodingKeys: String, CodingKey {
        case version, offences, thresholds
        case answerDays = "answer_days"
        case caseObjectionDays = "case_objection_days"
    }

    /// The offences the registry records by itself; each must be declared with `recorded_by: system`.
    public static let systemOffences: Set<String> = ["assessment_overturned", "transfer_unanswered", "suspended_worker_placement"]

    /// What the points in force lead to (each level includes the ones below it).
    public enum Level: String, Sendable, Codable, Comparable, CaseIterable {
        case none, warning
        case registrationsSuspended = "registrations_suspended"
        case caseAgainst = "case"

        var rank: Int { Self.allCases.firstIndex(of: self)! }
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
    }

    public func level(points: Int) -> Level {
        if points >= thresholds.caseAgainst { return .caseAgainst }
        if points >= thresholds.suspendRegistrations { return .registrationsSuspended }
        if points >= thresholds.warning { return .warning }
        return .none
    }

    /// The agency's band as employers see it: A with no points in force, B below the warning,
    /// C below the suspension of new registrations, D from there.
    public func band(points: Int) -> String {
        if points <= 0 { return "A" }
        if points < thresholds.warning { return "B" }
        if points < thresholds.suspendRegistrations { return "C" }
        return "D"
    }

    public func validate() throws(PolicyError) {
        guard version == 1 else { throw PolicyError(path: ["version"], message: "must be 1") }
        guard (1...90).contains(answerDays) else { throw PolicyError(path: ["answer_days"], message: "must be 1 to 90 days") }
        guard (1...90).contains(caseObjectionDays) else { throw PolicyError(path: ["case_objection_days"], message: "must be 1 to 90 days") }
        guard !offences.isEmpty else { throw PolicyError(path: ["offences"], message: "declares no offence") }
        for (name, offence) in offences.sorted(by: { $0.key < $1.key }) {
            let path = ["offences", name]
            guard name.count <= 40, name.first?.isLetter == true, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") })
            else {
                throw PolicyError(path: path, message: "an offence is named in lower-case letters, digits and '_' (at most 40)")
            }
            guard (1...100).contains(offence.points) else { throw PolicyError(path: path + ["points"], message: "must be 1 to 100") }
            guard (30...3650).contains(offence.expiresDays) else {
                throw PolicyError(path: path + ["expires_days"], message: "must be 30 to 3650 days")
            }
            for (language, text) in [("zh", offence.zh), ("en", offence.en)] where text.trimmingWhitespace().isEmpty || text.count > 300 {
                throw PolicyError(path: path + [language], message: "needs the offence in plain words, 1 to 300 characters")
            }
            if Self.systemOffences.contains(name) != (offence.recordedBy == .system) {
                throw PolicyError(
                    path: path + ["recorded_by"],
                    message: Self.systemOffences.contains(name)
                        ? "the registry records this offence itself: recorded_by is system"
                        : "only \(Self.systemOffences.sorted().joined(separator: ", ")) are recorded by the system"
                )
            }
        }
        for name in Self.systemOffences.sorted() where offences[name] == nil {
            throw PolicyError(path: ["offences"], message: "the registry records '\(name)' itself: declare its points and expiry")
        }
        let t = thresholds
        guard t.warning >= 1, t.warning < t.suspendRegistrations, t.suspendRegistrations < t.caseAgainst, t.caseAgainst <= 1000 else {
            throw PolicyError(path: ["thresholds"], message: "must rise: 1 ≤ warning < suspend_registrations < case ≤ 1000")
        }
    }
}

/// The life of one demerit: a notice the agency may answer, then upheld (counting until it
/// expires) or withdrawn. A notice not answered by its due date is upheld unanswered.
public enum DemeritState: String, Sendable, Codable, CaseIterable {
    case notified, answered, upheld, withdrawn

    public enum Event: Sendable, Equatable {
        case answer, uphold, withdraw, lapse
    }

    /// The next state, or nil when the event cannot happen now. An administrator upholds only
    /// what the agency has answered (or let lapse): its right to answer comes first. Withdrawing,
    /// in the agency's favour, is possible at any time before a decision.
    public func applying(_ event: Event) -> DemeritState? {
        switch (self, event) {
        case (.notified, .answer): .answered
        case (.notified, .lapse): .upheld
        case (.answered, .uphold): .upheld
        case (.answered, .withdraw), (.notified, .withdraw): .withdrawn
        default: nil
        }
    }
}

/// A case against an agency whose points reached the case threshold, adjudicated like a worker's:
/// one administrator proposes an outcome, the agency is told and may object within the window, and
/// a second administrator — never the proposer — decides.
public enum AgencyCaseState: String, Sendable, Codable, CaseIterable {
    case open, proposed, objected, decided

    public enum Event: Sendable, Equatable {
        case propose
        /// The agency objects; only while the window is open.
        case object(windowOpen: Bool)
        /// The decision; from a proposal only once its window has closed (an objection may come until then).
        case decide(windowOpen: Bool)
    }

    public func applying(_ event: Event) -> AgencyCaseState? {
        switch (self, event) {
        case (.open, .propose): .proposed
        case (.proposed, .object(let open)) where open: .objected
        case (.proposed, .decide(let open)) where !open: .decided
        case (.objected, .decide): .decided
        default: nil
        }
    }
}

/// What a case against an agency may end in.
public enum AgencyCaseOutcome: String, Sendable, Codable, CaseIterable {
    /// The agency is suspended: it can read but not register or change anything.
    case suspendAgency = "suspend_agency"
    case dismiss

    /// In plain words, for the messages to the agency.
    public var zh: String { self == .suspendAgency ? "暂停机构" : "不予处理" }
    public var en: String { self == .suspendAgency ? "suspend the agency" : "dismiss the case" }
}
