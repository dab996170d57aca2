/// Custody and transfer rules (`Policies/custody.yaml`).
public struct CustodyPolicy: Sendable, Equatable, Codable {
    public var version: Int
    /// Days the old agency has to seal its tenure after the worker consented.
    public var sealDeadlineDays: Int
    /// Minutes a transfer consent code sent to the worker's phone stays valid.
    public var consentCodeMinutes: Int
    /// Wrong codes allowed over a transfer's whole life (a new code does not reset the count).
    public var consentCodeAttempts: Int
    /// Codes sent for one transfer, the first included.
    public var consentCodeSends: Int
    /// Transfer requests one agency may make in a calendar day (each reaches a worker's phone).
    public var transferRequestsPerAgencyPerDay: Int
    public var minimumAge: Int
    public var maximumAge: Int
    /// Tenure fields an employer's report shows (the agency in custody and administrators see all).
    public var reportTenureFields: [String]
    /// Rows per `POST /api/v1/workers:import` request.
    public var importMaxRows: Int
    /// Days a transfer request waits for the worker's answer before it lapses (freeing her file).
    public var requestExpiryDays: Int

    public static let tenureFields = [
        "agency", "period", "work_ability", "health_status", "feedback_summary",
        "ethics_rating", "ethics_note", "sealed",
    ]

    enum CodingKeys: String, CodingKey {
        case version
        case sealDeadlineDays = "seal_deadline_days"
        case consentCodeMinutes = "consent_code_minutes"
        case consentCodeAttempts = "consent_code_attempts"
        case consentCodeSends = "consent_code_sends"
        case transferRequestsPerAgencyPerDay = "transfer_requests_per_agency_per_day"
        case minimumAge = "minimum_age"
        case maximumAge = "maximum_age"
        case reportTenureFields = "report_tenure_fields"
        case importMaxRows = "import_max_rows"
        case requestExpiryDays = "request_expiry_days"
    }

    public init(
        version: Int = 1,
        sealDeadlineDays: Int = 7,
        consentCodeMinutes: Int = 30,
        consentCodeAttempts: Int = 5,
        minimumAge: Int = 16,
        maximumAge: Int = 70,
        reportTenureFields: [String] = ["agency", "period", "work_ability", "feedback_summary", "ethics_rating", "sealed"],
        importMaxRows: Int = 5000,
        consentCodeSends: Int = 3,
        transferRequestsPerAgencyPerDay: Int = 50,
        requestExpiryDays: Int = 14
    ) {
        self.requestExpiryDays = requestExpiryDays
        self.consentCodeSends = consentCodeSends
        self.transferRequestsPerAgencyPerDay = transferRequestsPerAgencyPerDay
        self.version = version
        self.sealDeadlineDays = sealDeadlineDays
        self.consentCodeMinutes = consentCodeMinutes
        self.consentCodeAttempts = consentCodeAttempts
        self.minimumAge = minimumAge
        self.maximumAge = maximumAge
        self.reportTenureFields = reportTenureFields
        self.importMaxRows = importMaxRows
    }

    public var ages: ClosedRange<Int> { minimumAge...maximumAge }

    public func validate() throws(PolicyError) {
        guard (1...90).contains(sealDeadlineDays) else { throw PolicyError(path: ["seal_deadline_days"], message: "must be 1 to 90") }
        guard (1...90).contains(requestExpiryDays) else { throw PolicyError(path: ["request_expiry_days"], message: "must be 1 to 90") }
        guard (1...1440).contains(consentCodeMinutes) else { throw PolicyError(path: ["consent_code_minutes"], message: "must be 1 to 1440") }
        guard (1...20).contains(consentCodeAttempts) else { throw PolicyError(path: ["consent_code_attempts"], message: "must be 1 to 20") }
        guard (1...10).contains(consentCodeSends) else { throw PolicyError(path: ["consent_code_sends"], message: "must be 1 to 10") }
        guard (1...100_000).contains(transferRequestsPerAgencyPerDay) else {
            throw PolicyError(path: ["transfer_requests_per_agency_per_day"], message: "must be 1 to 100000")
        }
        guard minimumAge >= 16, maximumAge <= 80, minimumAge < maximumAge else {
            throw PolicyError(path: ["minimum_age"], message: "ages must satisfy 16 <= minimum < maximum <= 80")
        }
        for (i, field) in reportTenureFields.enumerated() where !Self.tenureFields.contains(field) {
            throw PolicyError(
                path: ["report_tenure_fields", String(i)],
                message: "unknown tenure field '\(field)' (known: \(Self.tenureFields.joined(separator: ", ")))"
            )
        }
        guard (1...100_000).contains(importMaxRows) else { throw PolicyError(path: ["import_max_rows"], message: "must be 1 to 100000") }
    }
}
