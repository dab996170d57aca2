/// When the registry's time-driven jobs run, and the spans of time they act on
/// (`Policies/schedule.yaml`).
public struct SchedulePolicy: Sendable, Equatable, Codable {
    public var version: Int
    /// Seconds between two runs of each job, by the job's name.
    public var everySeconds: [String: Int]
    /// The agency in custody is told this many days before a worker's health certificate or
    /// qualification expires.
    public var credentialNoticeDays: Int
    /// A grade resting on reviews or ratings (whose weight decays with age) is computed again
    /// once it is this many days old.
    public var gradeRefreshDays: Int
    /// The service warns when the working-day calendar ends within this many days.
    public var calendarWarningDays: Int

    enum CodingKeys: String, CodingKey {
        case version
        case everySeconds = "every_seconds"
        case credentialNoticeDays = "credential_notice_days"
        case gradeRefreshDays = "grade_refresh_days"
        case calendarWarningDays = "calendar_warning_days"
    }

    /// The jobs the service runs, in the order they are listed.
    public static let jobNames = [
        "flag-expiry", "transfer-deadlines", "case-deadlines", "credential-expiry", "grade-refresh", "housekeeping",
        "audit-checkpoint", "calendar-check", "policy-names", "demerit-deadlines",
    ]

    public init(
        version: Int = 1,
        everySeconds: [String: Int] = [
            "flag-expiry": 300, "transfer-deadlines": 60, "case-deadlines": 30, "credential-expiry": 3600, "grade-refresh": 3600,
            "housekeeping": 3600, "audit-checkpoint": 3600, "calendar-check": 86_400, "policy-names": 3600,
            "demerit-deadlines": 600,
        ],
        credentialNoticeDays: Int = 30,
        gradeRefreshDays: Int = 30,
        calendarWarningDays: Int = 60
    ) {
        self.version = version
        self.everySeconds = everySeconds
        self.credentialNoticeDays = credentialNoticeDays
        self.gradeRefreshDays = gradeRefreshDays
        self.calendarWarningDays = calendarWarningDays
    }

    public func validate() throws(PolicyError) {
        for name in everySeconds.keys.sorted() where !Self.jobNames.contains(name) {
            throw PolicyError(path: ["every_seconds", name], message: "no such job (the jobs: \(Self.jobNames.joined(separator: ", ")))")
        }
        for name in Self.jobNames {
            guard let seconds = everySeconds[name] else {
                throw PolicyError(path: ["every_seconds"], message: "the job '\(name)' has no interval")
            }
            guard (10...604_800).contains(seconds) else {
                throw PolicyError(path: ["every_seconds", name], message: "must be 10 to 604800 seconds")
            }
        }
        guard (1...365).contains(credentialNoticeDays) else { throw PolicyError(path: ["credential_notice_days"], message: "must be 1 to 365") }
        guard (1...365).contains(gradeRefreshDays) else { throw PolicyError(path: ["grade_refresh_days"], message: "must be 1 to 365") }
        guard (1...365).contains(calendarWarningDays) else { throw PolicyError(path: ["calendar_warning_days"], message: "must be 1 to 365") }
    }

    /// The interval of `job` (a listed job's; validation guarantees it).
    public func interval(of job: String) -> Int { everySeconds[job] ?? 3600 }
}
