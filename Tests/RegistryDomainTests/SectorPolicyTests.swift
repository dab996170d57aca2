import Testing

@testable import RegistryDomain

private typealias F = GradingFixtures

@Suite("Sectors")
struct SectorPolicyTests {
    let sectors = SectorPolicy.fixture

    @Test("the fixture is valid; categories are found with their sector, in the policy's order")
    func lookup() throws {
        try sectors.validate()
        #expect(sectors.categoryIDs == ["nanny", "maternity", "elder_care", "patient_care", "housekeeping", "cooking", "class_teacher"])
        #expect(sectors.category("class_teacher")?.sector.id == "preschool_education")
        #expect(sectors.category("gardening") == nil)
        #expect(sectors.categoryName("class_teacher", language: "zh-CN") == "幼儿园班级教师")
        #expect(sectors.categoryName("class_teacher", language: "en") == "Class teacher")
        #expect(sectors.categoryName("gardening", language: "en") == "gardening")
        #expect(sectors.sectors(of: [.cooking, .classTeacher, .nanny]).map(\.id) == ["domestic_service", "preschool_education"])
    }

    @Test("level names come from the category's sector")
    func levelNames() {
        #expect(sectors.levelName(3, category: "nanny", language: "zh-CN") == "高级")
        #expect(sectors.levelName(3, category: "class_teacher", language: "zh-CN") == "一级教师")
        #expect(sectors.levelName(5, category: "class_teacher", language: "en") == "Principal")
    }

    @Test("parsing: known names in order without repeats; an unknown name or none is a 400 naming the known ones")
    func parse() throws {
        #expect(try sectors.parseCategories([" nanny", "class_teacher", "nanny"]) == [.nanny, .classTeacher])
        do {
            _ = try sectors.parseCategories(["nanny", "gardening"])
            Issue.record("gardening was accepted")
        } catch {
            #expect(error.code == "unknown_category" && error.field == "service_categories")
            #expect(error.message.contains("gardening") && error.message.contains("class_teacher"))
        }
        do {
            _ = try sectors.parseCategories([])
            Issue.record("no category was accepted")
        } catch {
            #expect(error.code == "missing_field")
        }
    }

    @Test(
        "a bad sector policy is refused with the path to what is wrong",
        arguments: [
            ("ethics must weigh more", ["sectors", "1", "composite", "ethics_weight"]),
            ("already in sector 'domestic_service'", ["sectors", "1", "categories", "1", "id"]),
            ("exactly five names", ["sectors", "1", "level_names", "en"]),
            ("declared twice", ["sectors", "1", "id"]),
            ("not a category of sector", ["sectors", "1", "qualifications", "0", "category"]),
        ]
    )
    func invalid(message: String, path: [String]) {
        var bad = sectors
        if message.hasPrefix("ethics") { bad.sectors[1].composite = .init(ethicsWeight: 0.5, skillWeight: 0.5) }
        if message.hasPrefix("already") { bad.sectors[1].categories.append(.init(id: "nanny", zh: "育儿嫂", en: "Nanny")) }
        if message.hasPrefix("exactly") { bad.sectors[1].levelNames["en"]?.removeLast() }
        if message.hasPrefix("declared") { bad.sectors[1].id = "domestic_service" }
        if message.hasPrefix("not a category") { bad.sectors[1].qualifications[0].category = "nanny" }
        #expect {
            try bad.validate()
        } throws: { error in
            guard let e = error as? PolicyError else { return false }
            return e.path == path && e.message.contains(message)
        }
    }

    @Test("the composite weights are the strictest of her sectors' (ethics weighing most); none of them: the policy's own")
    func weights() {
        let policy = F.policy().applying(sectors: sectors)
        #expect(policy.compositeWeights(for: [.nanny]) == policy.composite)
        #expect(policy.compositeWeights(for: [.nanny, .classTeacher]) == .init(ethicsWeight: 0.8, skillWeight: 0.2))
        #expect(policy.compositeWeights(for: []) == policy.composite)
    }

    @Test("a class teacher is graded with her sector's weights; the same record as a nanny with the default ones")
    func gradedBySector() throws {
        var policy = F.policy().applying(sectors: sectors)
        policy.skill.categories["class_teacher"] = .init(reviewDimensions: ["childcare"], certificateMinimumLevel: 2)
        let grader = try Grader(policy: policy)
        func input(_ category: ServiceCategory) -> GradingInput {
            GradingInput(
                today: F.today,
                categories: [category],
                assessments: [F.assessment(category, 4)],
                reviews: [F.review(3, daysAgo: 30)]
            )
        }
        let teacher = grader.grade(input(.classTeacher))
        let nanny = grader.grade(input(.nanny))
        #expect(teacher.skillLevels == [.classTeacher: 4] && nanny.skillLevels == [.nanny: 4])
        #expect(teacher.skillScore == nanny.skillScore && teacher.ethicsScore == nanny.ethicsScore)
        // The scores are shown rounded, so the composite agrees with them to a cent.
        #expect(abs(teacher.composite - (0.8 * teacher.ethicsScore + 0.2 * teacher.skillScore)) <= 0.01)
        #expect(abs(nanny.composite - (0.65 * nanny.ethicsScore + 0.35 * nanny.skillScore)) <= 0.01)
        #expect(teacher.composite != nanny.composite)
    }

    @Test("a category the policy no longer knows is graded with the default rule, never dropped")
    func unknownCategoryKept() throws {
        let grader = try Grader(policy: F.policy().applying(sectors: .domesticOnly))
        let result = grader.grade(GradingInput(today: F.today, categories: [.nanny], assessments: [F.assessment(ServiceCategory("gardening"), 3)]))
        #expect(result.skillLevels[ServiceCategory("gardening")] == 3)
    }
}
