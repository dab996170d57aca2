/// The credit report an employer reads before hiring, and the document the registry signs. Its
/// format is the domain's: built from a `WorkerFile` by `build`, it never follows storage columns.
public struct CreditReport: Sendable, Codable {
    public struct Person: Sendable, Codable {
        public var id: String
        public var fullName: String
        public var sex: String
        public var age: Int
        public var homeProvince: String
        public var serviceCategories: [String]
        public var status: String
    }

    public struct Grade: Sendable, Codable {
        public var grade: String
        public var composite: Double
        public var ethicsScore: Double
        public var skillScore: Double
        public var reasons: [ReasonCode]
        public var policyVersion: String
        public var computedAt: Instant
    }

    public struct ReasonCode: Sendable, Codable {
        public var code: String
        public var contribution: Double?
    }

    public struct Skill: Sendable, Codable {
        public var category: String
        public var level: Int
        public var levelName: String
        public var assessedOn: String
    }

    public struct Qualification: Sendable, Codable {
        public var kind: String
        public var title: String
        public var issuer: String
        public var issuedOn: String
        public var expiresOn: String?
        public var valid: Bool
    }

    public struct Health: Sendable, Codable {
        public var validUntil: String?
        public var valid: Bool
    }

    public struct Tenure: Sendable, Codable {
        public var agency: String?
        public var startedOn: String?
        public var endedOn: String?
        public var workAbility: String?
        public var healthStatus: String?
        public var feedbackSummary: String?
        public var ethicsRating: Int?
        public var ethicsNote: String?
        public var sealed: String?
        /// The agency's assessment was overturned on her dispute: shown struck through with
        /// the administrator's reason, never as a live rating (absent otherwise).
        public var overturned: Overturned? = nil

        public struct Overturned: Sendable, Codable, Equatable {
            public var reason: String
            public var overturnedOn: String
        }
    }

    public struct Engagements: Sendable, Codable {
        public var count: Int
        public var totalDays: Int
        public var items: [Item]

        public struct Item: Sendable, Codable {
            public var category: String
            public var startsOn: String
            public var endsOn: String?
            public var days: Int
        }
    }

    public struct Reviews: Sendable, Codable {
        public var count: Int
        public var skillAverages: [String: Double]
        public var ethicsAverages: [String: Double]
        public var recent: [Item]

        public struct Item: Sendable, Codable {
            public var id: String
            public var date: Instant
            /// The household's name for the worker, her agency, administrators and the household itself;
            /// nil for any other employer reading the report (she sees "another household").
            public var household: String?
            public var skillScores: [String: Int]
            public var ethicsScores: [String: Int]
            public var comment: String?
            public var reply: String?
            /// How the household confirmed the engagement behind the review: `verified_phone`
            /// (from an account whose number proved itself by a code) or
            /// `before_phone_verification` (confirmed before that was required).
            public var confirmedVia: String?
            public var confirmedAt: Instant?
        }
    }

    /// A flag as the report shows it (never its narrative).
    public struct Flag: Sendable, Codable, Equatable {
        public var source: String
        public var sourceKind: String
        public var category: String
        public var occurredOn: String
        public var status: String
    }

    /// Whether she is barred or suspended now, and since when.
    public struct Standing: Sendable, Codable, Equatable {
        public var revoked: Bool
        public var revokedSince: Instant?
        public var suspended: Bool
        public var suspendedSince: Instant?
    }

    /// The agency in custody as the public agency page shows it: its band (`DemeritPolicy.band`),
    /// demerit points in force and placements households confirmed.
    public struct Agency: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        public var band: String
        public var points: Int
        public var placements: Int
    }

    public var worker: Person
    public var currentAgency: String
    public var agency: Agency?
    public var grade: Grade?
    public var skills: [Skill]
    public var qualifications: [Qualification]
    public var health: Health
    public var tenures: [Tenure]
    public var engagements: Engagements
    public var reviews: Reviews
    public var flags: [Flag]
    public var standing: Standing
    public var generatedAt: Instant

    /// What policy decides about a report's contents.
    public struct Policy: Sendable, Equatable {
        /// The newest reviews shown (the counts and averages cover all of them).
        public var recentReviews: Int
        /// The fields of a tenure that reports show (`CustodyPolicy.tenureFields`).
        public var tenureFields: Set<String>
        /// Names the skill levels of each category's sector.
        public var sectors: SectorPolicy?
        /// Bands the agency by its demerit points in force.
        public var demerits: DemeritPolicy?

        public init(recentReviews: Int, tenureFields: Set<String>, sectors: SectorPolicy? = nil, demerits: DemeritPolicy? = nil) {
            self.recentReviews = recentReviews
            self.tenureFields = tenureFields
            self.sectors = sectors
            self.demerits = demerits
        }
    }

    /// Who reads: a household sees the names of households only on its own reviews; everyone
    /// else who may read the report (her, her agency, administrators) sees them all.
    public enum Reader: Sendable, Equatable {
        case household(employerID: String)
        case registry
    }

    /// The report of `file` on `today`, generated at `now` (to the second), for `reader`.
    public static func build(_ file: WorkerFile, policy: Policy, today: CivilDate, now: Instant, reader: Reader) -> CreditReport {
        let fields = policy.tenureFields
        let w = file.worker
        func date(_ iso: String?) -> CivilDate? { iso.flatMap(CivilDate.init(iso:)) }
        return CreditReport(
            worker: Person(
                id: w.id,
                fullName: w.fullName,
                sex: w.sex,
                age: (date(w.birthDate) ?? today).years(until: today),
                homeProvince: String(w.homeRegion.prefix(2)) + "0000",
                serviceCategories: w.categories,
                status: w.status
            ),
            currentAgency: file.agency ?? "",
            agency: file.agencyStanding.flatMap { s in
                policy.demerits.map {
                    Agency(id: s.agencyId, name: s.name, band: $0.band(points: s.points), points: s.points, placements: s.placements)
                }
            },
            grade: file.grade.map {
                Grade(
                    grade: $0.grade,
                    composite: $0.composite,
                    ethicsScore: $0.ethicsScore,
                    skillScore: $0.skillScore,
                    reasons: $0.reasons.map { ReasonCode(code: $0.code, contribution: $0.contribution) },
                    policyVersion: $0.policyVersion,
                    computedAt: $0.computedAt
                )
            },
            skills: file.skills.sorted { $0.category < $1.category }.map {
                Skill(
                    category: $0.category,
                    level: $0.level,
                    levelName: policy.sectors?.levelName($0.level, category: $0.category, language: "zh-CN") ?? SkillLevel(rawValue: $0.level)?
                        .chineseName ?? "",
                    assessedOn: $0.assessedOn
                )
            },
            qualifications: file.trainings.map {
                Qualification(
                    kind: $0.kind,
                    title: $0.title,
                    issuer: $0.issuer,
                    issuedOn: $0.issuedOn,
                    expiresOn: $0.expiresOn,
                    valid: date($0.expiresOn).map { $0 >= today } ?? true
                )
            },
            health: Health(
                validUntil: file.health?.validUntil,
                valid: file.health.map { (date($0.validUntil).map { $0 >= today } ?? false) && $0.result != "unfit" } ?? false
            ),
            tenures: file.tenures.map { t in
                Tenure(
                    agency: fields.contains("agency") ? t.agency : nil,
                    startedOn: fields.contains("period") ? t.startedOn : nil,
                    endedOn: fields.contains("period") ? t.endedOn : nil,
                    workAbility: fields.contains("work_ability") ? t.workAbility : nil,
                    healthStatus: fields.contains("health_status") ? t.healthStatus : nil,
                    feedbackSummary: fields.contains("feedback_summary") ? t.feedbackSummary : nil,
                    ethicsRating: fields.contains("ethics_rating") ? t.ethicsRating : nil,
                    ethicsNote: fields.contains("ethics_note") ? t.ethicsNote : nil,
                    sealed: fields.contains("sealed") ? t.sealedHow.map { $0 == "agency" ? "sealed" : "sealed_by_deadline" } ?? "open" : nil,
                    overturned: t.overturnedReason.map { .init(reason: $0, overturnedOn: t.overturnedOn ?? "") }
                )
            },
            engagements: Engagements(
                count: file.engagementCount,
                totalDays: file.engagementDays,
                items: file.engagements.map { e in
                    let start = date(e.startsOn) ?? today
                    let end = date(e.endsOn) ?? today
                    return .init(
                        category: e.category,
                        startsOn: e.startsOn,
                        endsOn: e.endsOn,
                        days: max(0, end.daysSinceEpoch - start.daysSinceEpoch)
                    )
                }
            ),
            reviews: Reviews(
                count: file.reviewCount,
                skillAverages: file.skillAverages,
                ethicsAverages: file.ethicsAverages,
                recent: file.reviews.prefix(max(0, policy.recentReviews)).map { r in
                    let named: Bool
                    switch reader {
                    case .registry: named = true
                    case .household(let employer): named = r.employerId == employer
                    }
                    return .init(
                        id: r.id,
                        date: r.createdAt,
                        household: named ? r.household : nil,
                        skillScores: r.skillScores,
                        ethicsScores: r.ethicsScores,
                        comment: r.comment,
                        reply: r.reply,
                        confirmedVia: r.confirmedVia,
                        confirmedAt: r.confirmedAt
                    )
                }
            ),
            flags: file.flags.map {
                Flag(source: $0.source, sourceKind: $0.sourceKind, category: $0.category, occurredOn: $0.occurredOn, status: $0.status)
            },
            standing: Standing(
                revoked: file.bannedSince != nil,
                revokedSince: file.bannedSince,
                suspended: file.suspendedSince != nil,
                suspendedSince: file.suspendedSince
            ),
            generatedAt: now.wholeSeconds
        )
    }
}
