import Foundation
import Testing

@testable import RegistryDomain

@Suite("The credit report, built from her file without a database")
struct CreditReportTests {
    let today = CivilDate(iso: "2026-06-15")!
    let now = Instant(secondsSince1970: 1_781_500_000.75)
    let policy = CreditReport.Policy(
        recentReviews: 2,
        tenureFields: ["agency", "period", "work_ability", "feedback_summary", "ethics_rating", "sealed"]
    )

    func file() -> WorkerFile {
        WorkerFile(
            worker: .init(
                id: "w1",
                fullName: "王秀英",
                birthDate: "1980-06-16",
                sex: "F",
                homeRegion: "320102",
                categories: ["nanny", "elder_care"],
                status: "active"
            ),
            agency: "安心家政",
            skills: [
                .init(category: "nanny", level: 3, assessedOn: "2025-01-01"), .init(category: "elder_care", level: 9, assessedOn: "2025-02-01"),
            ],
            trainings: [
                .init(kind: "certificate", title: "育婴员", issuer: "人社局", issuedOn: "2020-01-01", expiresOn: "2026-06-14"),
                .init(kind: "certificate", title: "养老护理员", issuer: "人社局", issuedOn: "2021-01-01", expiresOn: "2026-06-15"),
                .init(kind: "training", title: "急救", issuer: "红十字会", issuedOn: "2022-01-01", expiresOn: nil),
            ],
            health: .init(validUntil: "2026-12-31", result: "fit"),
            tenures: [
                .init(
                    agency: "金牌家政",
                    startedOn: "2019-01-01",
                    endedOn: "2020-01-01",
                    workAbility: "good",
                    healthStatus: "healthy",
                    ethicsRating: 2,
                    ethicsNote: "private note",
                    sealedHow: "agency",
                    overturnedReason: "no evidence",
                    overturnedOn: "2020-03-01"
                ),
                .init(agency: "安心家政", startedOn: "2020-02-01", sealedHow: "deadline"),
                .init(agency: "安心家政", startedOn: "2021-02-01"),
            ],
            engagementCount: 7,
            engagementDays: 900,
            engagements: [
                .init(category: "nanny", startsOn: "2026-06-01", endsOn: nil),
                .init(category: "nanny", startsOn: "2025-01-01", endsOn: "2025-03-02"),
                .init(category: "nanny", startsOn: "2025-05-01", endsOn: "2025-04-01"),
            ],
            reviewCount: 12,
            skillAverages: ["care": 4.5],
            ethicsAverages: ["honesty": 4.83],
            reviews: [
                review("r1", employer: "e1", household: "李家"),
                review("r2", employer: "e2", household: "张家"),
                review("r3", employer: "e1", household: "李家"),
            ],
            flags: [.init(source: "Police", sourceKind: "police", category: "theft", occurredOn: "2025-01-01", status: "confirmed")],
            bannedSince: nil,
            suspendedSince: Instant(secondsSince1970: 1_700_000_000)
        )
    }

    func review(_ id: String, employer: String, household: String) -> WorkerFile.Review {
        .init(
            id: id,
            createdAt: Instant(secondsSince1970: 1_750_000_000),
            employerId: employer,
            household: household,
            skillScores: ["care": 5],
            ethicsScores: ["honesty": 4],
            comment: "ok",
            reply: nil
        )
    }

    @Test("a household sees the names of households only on its own reviews; the registry's readers see them all")
    func householdNames() {
        let mine = CreditReport.build(file(), policy: policy, today: today, now: now, reader: .household(employerID: "e2"))
        #expect(mine.reviews.recent.map(\.household) == [nil, "张家"])
        let registry = CreditReport.build(file(), policy: policy, today: today, now: now, reader: .registry)
        #expect(registry.reviews.recent.map(\.household) == ["李家", "张家"])
    }

    @Test("the newest reviews up to the policy's number; counts and averages over all of them as read")
    func reviewsBounded() {
        let r = CreditReport.build(file(), policy: policy, today: today, now: now, reader: .registry)
        #expect(r.reviews.recent.map(\.id) == ["r1", "r2"])
        #expect(r.reviews.count == 12)
        #expect(r.reviews.skillAverages == ["care": 4.5])
        #expect(r.reviews.ethicsAverages == ["honesty": 4.83])
    }

    @Test("age on the day (the day before her birthday she is still 45), home province, agency, generated to the second")
    func person() {
        let r = CreditReport.build(file(), policy: policy, today: today, now: now, reader: .registry)
        #expect(r.worker.age == 45)
        #expect(r.worker.homeProvince == "320000")
        #expect(r.currentAgency == "安心家政")
        #expect(r.generatedAt == Instant(secondsSince1970: 1_781_500_000))
        var orphan = file()
        orphan.agency = nil
        #expect(CreditReport.build(orphan, policy: policy, today: today, now: now, reader: .registry).currentAgency == "")
    }

    @Test("qualifications are valid through their expiry day; skills sorted by category with the level's name, unknown levels unnamed")
    func qualificationsAndSkills() {
        let r = CreditReport.build(file(), policy: policy, today: today, now: now, reader: .registry)
        #expect(r.qualifications.map(\.valid) == [false, true, true])
        #expect(r.skills.map(\.category) == ["elder_care", "nanny"])
        #expect(r.skills.map(\.levelName) == ["", "高级"])
    }

    @Test("health: valid while not expired and not unfit; no certificate is not valid")
    func health() {
        var f = file()
        #expect(CreditReport.build(f, policy: policy, today: today, now: now, reader: .registry).health.valid)
        f.health = .init(validUntil: "2026-12-31", result: "unfit")
        #expect(!CreditReport.build(f, policy: policy, today: today, now: now, reader: .registry).health.valid)
        f.health = .init(validUntil: "2026-06-14", result: "fit")
        #expect(!CreditReport.build(f, policy: policy, today: today, now: now, reader: .registry).health.valid)
        f.health = nil
        let none = CreditReport.build(f, policy: policy, today: today, now: now, reader: .registry).health
        #expect(!none.valid && none.validUntil == nil)
    }

    @Test("tenures show only the fields policy lists; sealing in plain states; an overturned assessment is marked")
    func tenures() {
        let r = CreditReport.build(file(), policy: policy, today: today, now: now, reader: .registry)
        #expect(r.tenures.map(\.sealed) == ["sealed", "sealed_by_deadline", "open"])
        #expect(r.tenures[0].ethicsNote == nil)  // not in the fields
        #expect(r.tenures[0].healthStatus == nil)
        #expect(r.tenures[0].ethicsRating == 2)
        #expect(r.tenures[0].overturned == .init(reason: "no evidence", overturnedOn: "2020-03-01"))
        #expect(r.tenures[1].overturned == nil)
        let narrow = CreditReport.Policy(recentReviews: 2, tenureFields: ["agency"])
        let n = CreditReport.build(file(), policy: narrow, today: today, now: now, reader: .registry)
        #expect(n.tenures[0].agency == "金牌家政" && n.tenures[0].startedOn == nil && n.tenures[0].sealed == nil && n.tenures[0].ethicsRating == nil)
    }

    @Test("engagements: a running one counts to today, an end before its start counts zero; totals as read")
    func engagements() {
        let r = CreditReport.build(file(), policy: policy, today: today, now: now, reader: .registry)
        #expect(r.engagements.items.map(\.days) == [14, 60, 0])
        #expect(r.engagements.count == 7 && r.engagements.totalDays == 900)
    }

    @Test("standing follows the ban and the suspension")
    func standing() {
        var f = file()
        var r = CreditReport.build(f, policy: policy, today: today, now: now, reader: .registry)
        #expect(!r.standing.revoked && r.standing.suspended && r.standing.suspendedSince == Instant(secondsSince1970: 1_700_000_000))
        f.bannedSince = Instant(secondsSince1970: 1_710_000_000)
        f.suspendedSince = nil
        r = CreditReport.build(f, policy: policy, today: today, now: now, reader: .registry)
        #expect(r.standing.revoked && !r.standing.suspended)
        #expect(r.flags.map(\.category) == ["theft"])
    }

    @Test("the database's JSON decodes: empty lists as null, times in seconds, reasons as codes or objects, anything else skipped")
    func decoding() throws {
        let json = """
            {"worker": {"id": "w1", "full_name": "王秀英", "birth_date": "1980-06-16", "sex": "F", "home_region": "320102",
                        "categories": ["nanny"], "status": "active"},
             "agency": null,
             "grade": {"grade": "B", "composite": 71.5, "ethics_score": 80, "skill_score": 60.25,
                       "reasons": ["few_reviews", {"code": "sealed_rating", "contribution": -2.5}, 7, {"no_code": 1}],
                       "policy_version": "g3", "computed_at": 1781500000.123456},
             "skills": null, "trainings": null, "health": null, "tenures": null,
             "engagement_count": 0, "engagement_days": 0, "engagements": null,
             "review_count": 0, "skill_averages": null, "ethics_averages": null, "reviews": null, "flags": null,
             "banned_since": null, "suspended_since": 1700000000.5}
            """
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let f = try decoder.decode(WorkerFile.self, from: Data(json.utf8))
        #expect(f.skills.isEmpty && f.reviews.isEmpty && f.skillAverages.isEmpty && f.agency == nil)
        #expect(f.grade?.reasons == [WorkerFile.Reason]([.init(code: "few_reviews"), .init(code: "sealed_rating", contribution: -2.5)]))
        #expect(f.grade?.computedAt == Instant(secondsSince1970: 1_781_500_000.123456))
        #expect(f.suspendedSince == Instant(secondsSince1970: 1_700_000_000.5))
        let r = CreditReport.build(f, policy: policy, today: today, now: now, reader: .registry)
        #expect(r.grade?.reasons.map { $0.code } == ["few_reviews", "sealed_rating"])
        #expect(r.health.validUntil == nil && r.engagements.items.isEmpty)
    }

    @Test("an instant is written in ISO 8601 UTC to the second, and read back from that, from fractions or from seconds")
    func instants() throws {
        #expect(Instant(secondsSince1970: 0).iso == "1970-01-01T00:00:00Z")
        #expect(Instant(secondsSince1970: 1_781_500_000.75).iso == "2026-06-15T05:06:40Z")
        #expect(Instant(secondsSince1970: -1).iso == "1969-12-31T23:59:59Z")
        #expect(Instant(iso: "2026-06-15T05:06:40Z") == Instant(secondsSince1970: 1_781_500_000))
        #expect(Instant(iso: "2026-06-15T05:06:40.25Z") == Instant(secondsSince1970: 1_781_500_000.25))
        for bad in ["2026-06-15 05:06:40Z", "2026-06-15T05:06:40", "2026-06-15T25:06:40Z", "2026-06-15T05:06:40.Z", "2026-13-15T05:06:40Z"] {
            #expect(Instant(iso: bad) == nil, "\(bad)")
        }
        let encoded = try JSONEncoder().encode([Instant(secondsSince1970: 86_400.5)])
        #expect(String(decoding: encoded, as: UTF8.self) == #"["1970-01-02T00:00:00Z"]"#)
        #expect(try JSONDecoder().decode([Instant].self, from: encoded) == [Instant(secondsSince1970: 86_400)])
        #expect(try JSONDecoder().decode([Instant].self, from: Data("[12.5]".utf8)) == [Instant(secondsSince1970: 12.5)])
    }
}
