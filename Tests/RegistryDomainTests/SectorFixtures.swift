@testable import RegistryDomain

// The categories the domain tests speak of, by name: test data, not code the service uses (the
// service knows categories only from `Policies/sectors.yaml` and `Policies/flags.yaml`).
extension ServiceCategory {
    static let nanny = ServiceCategory("nanny")
    static let maternity = ServiceCategory("maternity")
    static let elderCare = ServiceCategory("elder_care")
    static let patientCare = ServiceCategory("patient_care")
    static let housekeeping = ServiceCategory("housekeeping")
    static let cooking = ServiceCategory("cooking")
    static let classTeacher = ServiceCategory("class_teacher")

    /// The domestic-service categories, in the policy's order.
    static let allCases: [ServiceCategory] = [.nanny, .maternity, .elderCare, .patientCare, .housekeeping, .cooking]
}

extension FlagCategory {
    static let violentCrime = FlagCategory("violent_crime")
    static let theft = FlagCategory("theft")
    static let childOrElderAbuse = FlagCategory("child_or_elder_abuse")
    static let fraud = FlagCategory("fraud")
    static let drugOffence = FlagCategory("drug_offence")
    static let loanFraud = FlagCategory("loan_fraud")
    static let debtDefault = FlagCategory("debt_default")
    static let fareEvasion = FlagCategory("fare_evasion")

    static let allCases: [FlagCategory] = [
        .violentCrime, .theft, .childOrElderAbuse, .fraud, .drugOffence, .loanFraud, .debtDefault, .fareEvasion,
    ]
}

extension SectorPolicy {
    /// Domestic service alone: the categories `GradingFixtures.policy()` has rules for.
    static let domesticOnly = SectorPolicy(version: "test.1", sectors: [fixture.sectors[0]])

    /// Domestic service and a preschool sector with its own weights, as `sectors.yaml` has them.
    static let fixture = SectorPolicy(
        version: "test.1",
        sectors: [
            .init(
                id: "domestic_service",
                zh: "家政服务",
                en: "Domestic service",
                levelNames: [
                    "zh-CN": ["初级", "中级", "高级", "技师", "高级技师"],
                    "en": ["Junior", "Intermediate", "Senior", "Technician", "Senior technician"],
                ],
                reviewSkillDimensions: ["punctuality", "quality", "childcare", "eldercare", "cooking"],
                categories: [
                    .init(id: "nanny", zh: "育儿嫂", en: "Nanny"),
                    .init(id: "maternity", zh: "母婴护理（月嫂）", en: "Maternity care"),
                    .init(id: "elder_care", zh: "养老护理", en: "Elder care"),
                    .init(id: "patient_care", zh: "病患陪护", en: "Patient care"),
                    .init(id: "housekeeping", zh: "家政保洁", en: "Housekeeping"),
                    .init(id: "cooking", zh: "家庭烹饪", en: "Cooking"),
                ]
            ),
            .init(
                id: "preschool_education",
                zh: "幼儿园教师",
                en: "Preschool education",
                composite: .init(ethicsWeight: 0.8, skillWeight: 0.2),
                levelNames: [
                    "zh-CN": ["见习", "二级教师", "一级教师", "高级教师", "正高级教师"],
                    "en": ["Probationary", "Second grade", "First grade", "Senior", "Principal"],
                ],
                reviewSkillDimensions: ["punctuality", "childcare"],
                categories: [.init(id: "class_teacher", zh: "幼儿园班级教师", en: "Class teacher")],
                qualifications: [
                    .init(id: "kindergarten_teacher_certificate", zh: "幼儿园教师资格证", en: "Kindergarten teacher's certificate", expires: true)
                ]
            ),
        ]
    )
}
