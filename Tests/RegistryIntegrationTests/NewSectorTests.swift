import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegistryDomain
import RegistryHTTP
import RegistryServices
import RegistryStorage
import Testing

/// A copy of `Policies/` with a sector no code knows: pet care, with its own categories, level
/// names, review dimension, weights, and a flag category of its own that opens a case.
enum MadeUpSector {
    static func policies() throws -> String {
        let dir = NSTemporaryDirectory() + "policies-sector-\(UUID().uuidString.prefix(8))"
        try FileManager.default.copyItem(atPath: repositoryRoot + "/Policies", toPath: dir)
        func append(_ file: String, _ text: String) throws {
            let path = dir + "/" + file
            try (try String(contentsOfFile: path, encoding: .utf8) + text).write(toFile: path, atomically: true, encoding: .utf8)
        }
        func replace(_ file: String, _ old: String, _ new: String) throws {
            let path = dir + "/" + file
            let text = try String(contentsOfFile: path, encoding: .utf8)
            guard text.contains(old) else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: path]) }
            try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
        }
        try append(
            "sectors.yaml",
            """

              - id: pet_care
                zh: 宠物照护
                en: Pet care
                composite: {ethics_weight: 0.75, skill_weight: 0.25}
                level_names:
                  zh-CN: [学徒, 初级, 中级, 高级, 首席]
                  en: [Apprentice, Junior, Intermediate, Senior, Chief]
                review_skill_dimensions: [punctuality, animal_handling]
                categories:
                  - {id: dog_walker, zh: 遛狗员, en: Dog walker}
                  - {id: pet_sitter, zh: 宠物看护, en: Pet sitter}
                qualifications:
                  - {id: pet_first_aid, zh: 宠物急救证, en: Pet first aid certificate, category: pet_sitter, expires: true}

            dimension_names:
              animal_handling: {zh: 照护宠物, en: Way with animals}

            """
        )
        try replace(
            "reports.yaml",
            "skill: [punctuality, quality, childcare, eldercare, cooking, teaching]",
            "skill: [punctuality, quality, childcare, eldercare, cooking, teaching, animal_handling]"
        )
        try replace("grading.yaml", "cooking: 1, teaching: 1}", "cooking: 1, teaching: 1, animal_handling: 1}")
        try replace(
            "grading.yaml",
            "  categories:\n    nanny:",
            """
              categories:
                dog_walker: {review_dimensions: [animal_handling], certificate_minimum_level: 1}
                pet_sitter: {review_dimensions: [animal_handling], certificate_minimum_level: 2}
                nanny:
            """
        )
        try replace("grading.yaml", "      fare_evasion: 5\n", "      fare_evasion: 5\n      animal_cruelty: 60\n")
        try replace(
            "grading.yaml",
            "  texts:\n",
            """
              texts:
                review_animal_handling_high:
                  zh-CN: {text: "雇主对您照护宠物的能力评价较高。", improve: "继续保持。"}
                  en: {text: "Employers rated your way with animals highly.", improve: "Keep it up."}
                review_animal_handling_low:
                  zh-CN: {text: "有雇主对您照护宠物的能力评价偏低。", improve: "参加宠物照护培训。"}
                  en: {text: "Some employers rated your way with animals low.", improve: "Take a pet-care course."}
                flag_animal_cruelty:
                  zh-CN: {text: "公安机关报送的虐待动物记录降低了您的等级。", improve: "记录有误时可提出异议。"}
                  en: {text: "A police record of animal cruelty lowers your grade.", improve: "Dispute it if it is wrong."}

            """
        )
        try replace(
            "flags.yaml",
            "categories:\n",
            "categories:\n  animal_cruelty:       { source: police, zh: 虐待动物, en: Animal cruelty }\n"
        )
        try append(
            "flags.yaml",
            """
              - categories: [animal_cruelty]
                statuses: [convicted, adjudicated]
                min_severity: 1
                suspend: true
                open_case: true

            """
        )
        try replace("revocation.yaml", "grounds:\n", "grounds:\n  animal_cruelty:        { zh: 虐待动物（警方通报）, en: Animal cruelty (police record) }\n")
        return dir
    }
}

@Suite("A new sector is a policy change only")
struct NewSectorTests {
    @Test(
        "a made-up sector written only in a copy of Policies/: registration, a review in its dimensions, a flag with its effect, a grade with its weights and a report with its level names"
    )
    func madeUpSector() async throws {
        let dir = try MadeUpSector.policies()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let started = ContinuousClock.now
        let policies = try PolicySet.load(directory: dir)
        print("policies loaded and validated in \(ContinuousClock.now - started)")
        #expect(policies.sectors.category("dog_walker")?.sector.id == "pet_care")

        try await withTestRegistry(policies: policies) { registry, _ in
            // Registration in the new sector (with a domestic category too); an unknown name is a 400.
            var h = try await Household.make(registry)
            let (_, agency) = (h.agencyID, h.agency)
            await expectError("unknown_category") {
                try await registry.workers.register(
                    .init(
                        idNumber: Fixtures.idNumber(serial: 200),
                        fullName: "王芳",
                        sex: "F",
                        phone: nil,
                        homeRegion: "320102",
                        serviceCategories: ["cat_groomer"]
                    ),
                    caller: agency,
                    logger: testLogger
                )
            }
            let worker = try await registry.workers.register(
                .init(
                    idNumber: Fixtures.idNumber(serial: 202),
                    fullName: "王芳",
                    sex: "F",
                    phone: "13900139002",
                    homeRegion: "320102",
                    serviceCategories: ["dog_walker", "housekeeping"]
                ),
                caller: agency,
                logger: testLogger
            )
            h.workerID = worker
            _ = try await registry.workers.addSkill(
                worker,
                .init(category: "dog_walker", level: 3, assessedOn: registry.clock.today.adding(days: -30).iso, assessor: "市宠物行业协会", note: nil),
                caller: agency,
                logger: testLogger
            )
            // The sector's qualification that expires needs its expiry date.
            await expectError("missing_field") {
                try await registry.workers.addTraining(
                    worker,
                    .init(
                        kind: "certificate",
                        title: "宠物急救证",
                        issuer: "市宠物行业协会",
                        category: "pet_sitter",
                        certificateNo: nil,
                        issuedOn: registry.clock.today.adding(days: -10).iso,
                        expiresOn: nil,
                        hours: nil
                    ),
                    caller: agency,
                    logger: testLogger
                )
            }

            // A placement in the sector, and a review in its dimensions only.
            let engagement = try await registry.engagements.place(
                .init(
                    workerId: worker.uuid,
                    employerEmail: "home@example.cn",
                    employerPhone: nil,
                    category: "dog_walker",
                    startsOn: registry.clock.today.adding(days: -20).iso
                ),
                caller: agency,
                logger: testLogger
            )
            _ = try await registry.engagements.transition(engagement, "confirm", caller: h.employer, logger: testLogger)
            // The review form asks for the sector's skill dimensions, named as sectors.yaml names them.
            try await Application(router: buildRouter(registry).0, logger: testLogger).test(.router) { client in
                var household = PageClient(client: client)
                household.cookies["lang"] = "en"
                _ = try await household.signIn(email: "home@example.cn", password: "employer password")
                let form = String(buffer: try await household.get("/employer/engagements/\(engagement.uuidString.lowercased())/review").body)
                #expect(form.contains("Way with animals") && form.contains("name=\"skill_animal_handling\""), "\(form.prefix(300))")
                #expect(!form.contains("name=\"skill_childcare\"") && !form.contains("name=\"skill_teaching\""))
            }
            let ethics = ["honesty": 5, "respect": 5, "reliability": 5, "care": 5]
            await expectError("invalid_field") {
                try await registry.engagements.review(
                    engagement: engagement,
                    .init(skillScores: ["childcare": 5], ethicsScores: ethics, comment: nil),
                    caller: h.employer,
                    logger: testLogger
                )
            }
            _ = try await registry.engagements.review(
                engagement: engagement,
                .init(skillScores: ["punctuality": 5, "animal_handling": 5], ethicsScores: ethics, comment: "狗狗很喜欢她"),
                caller: h.employer,
                logger: testLogger
            )

            // The grade: her level in the new category, the sector's weights.
            while try await registry.grading.drainQueue(logger: testLogger) > 0 {}
            let admin = try await registry.adminCaller
            let grade = try await registry.grading.computation(worker, purpose: "audit", caller: admin, logger: testLogger)
            #expect(grade.skillLevels[ServiceCategory("dog_walker")] == 3)
            #expect(abs(grade.composite - (0.75 * grade.ethicsScore + 0.25 * grade.skillScore)) <= 0.01)

            // The report names her level as the sector does.
            var report = try await registry.reports.report(worker, caller: agency, logger: testLogger)
            #expect(report.skills.first { $0.category == "dog_walker" }?.levelName == "中级")
            #expect(report.worker.serviceCategories == ["dog_walker", "housekeeping"])

            // A police flag of the sector's own category: suspended, and a case opened for adjudication.
            let (sourceID, _, _, police) = try await registry.source("police-pets", kind: "police")
            let result = try await registry.flags.submit(
                [flag(Fixtures.idNumber(serial: 202), "PC-1", "animal_cruelty", severity: 2, status: "convicted", occurred: "2026-01-10")],
                sourceID: sourceID,
                caller: police,
                logger: testLogger
            )
            #expect(result.map(\.outcome) == [.created])
            #expect(try await registry.workerStatus(worker) == "suspended")
            #expect(try await registry.count("SELECT count(*)::int FROM cases WHERE worker_id = $1 AND grounds = 'animal_cruelty'", worker.uuid) == 1)
            while try await registry.grading.drainQueue(logger: testLogger) > 0 {}
            let after = try await registry.grading.computation(worker, purpose: "audit", caller: admin, logger: testLogger)
            #expect(after.ethicsScore < grade.ethicsScore)
            #expect(after.reasons.contains { $0.code == "flag_animal_cruelty" })
            report = try await registry.reports.report(worker, caller: agency, logger: testLogger)
            #expect(report.flags.map(\.category) == ["animal_cruelty"])

            // The service publishes the sector's names to clients.
            let (router, _) = buildRouter(registry)
            try await Application(router: router, logger: testLogger).test(.router) { client in
                try await client.execute(uri: "/api/v1/sectors", method: .get) { response in
                    #expect(response.status == .ok)
                    let body = TestJSON.object(response.body)
                    let sectors = body["sectors"] as? [[String: Any]] ?? []
                    #expect(sectors.last?["id"] as? String == "pet_care")
                    #expect((body["flag_categories"] as? [[String: Any]] ?? []).contains { $0["id"] as? String == "animal_cruelty" })
                }
            }
            // Every name in the data is one policy declares.
            #expect(try await registry.scheduler.run("policy-names", logger: testLogger).rows > 0)
        }
    }

    @Test("a category in the data that policy no longer declares fails the policy-names job, naming where it is used")
    func removedCategoryIsReported() async throws {
        let dir = try MadeUpSector.policies()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let withPets = try PolicySet.load(directory: dir)
        try await withTestRegistry(policies: withPets) { registry, _ in
            let (_, agency) = try await registry.approvedAgency(1)
            _ = try await registry.workers.register(
                .init(
                    idNumber: Fixtures.idNumber(serial: 300),
                    fullName: "王芳",
                    sex: "F",
                    phone: nil,
                    homeRegion: "320102",
                    serviceCategories: ["pet_sitter"]
                ),
                caller: agency,
                logger: testLogger
            )
            // The same database under the shipped policies, which have no pet care.
            let shipped = try Registry(
                configuration: registry.configuration,
                policies: try PolicySet.load(directory: repositoryRoot + "/Policies"),
                database: registry.database,
                keys: registry.keys,
                clock: registry.clock,
                hasher: testHasher
            )
            do {
                _ = try await shipped.scheduler.run("policy-names", logger: testLogger)
                Issue.record("the job passed with an undeclared category in the data")
            } catch {
                #expect("\(error)".contains("pet_sitter in workers.service_categories (1 rows)"), "\(error)")
            }
            // The check itself names each unknown name with where and how often.
            await #expect(throws: UnknownPolicyNames.self) { try await shipped.checkPolicyNames(logger: testLogger) }
        }
    }
}
