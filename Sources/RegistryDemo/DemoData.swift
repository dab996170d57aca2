import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryServices
import RegistryStorage

/// Demo data so that a new user finds a living registry. Each capability adds its part here.
public enum DemoData {
    public static let adminEmail = "admin@demo.registry.local"

    struct DemoAgency {
        var name: String
        var uscc: String
        var region: String
        var contact: String
        var email: String
        /// The legal representative who signed the agency's credit commitment.
        var representative: String
    }

    static let agencyStaff = [
        DemoAgency(
            name: "安心家政服务有限公司",
            uscc: "91350100M000100Y43",
            region: "350102",
            contact: "王芳",
            email: "anxin@demo.registry.local",
            representative: "林建国"
        ),
        DemoAgency(
            name: "金牌月嫂服务中心",
            uscc: "91110108MA01KPGK0L",
            region: "110108",
            contact: "陈丽",
            email: "jinpai@demo.registry.local",
            representative: "陈丽"
        ),
    ]

    static let demoWorkers: [(birth: String, serial: Int, name: String, phone: String, region: String, categories: [String])] = [
        ("19800312", 224, "李秀英", "13800138001", "350102", ["nanny", "housekeeping"]),
        ("19760821", 342, "张桂兰", "13800138002", "350103", ["elder_care", "cooking"]),
        ("19881105", 128, "王春梅", "13800138003", "350102", ["maternity", "nanny"]),
        ("19920130", 466, "刘美华", "13800138004", "110105", ["maternity"]),
        ("19710615", 582, "陈玉珍", "13800138005", "110108", ["elder_care", "patient_care"]),
        ("19850909", 604, "杨小红", "13800138006", "110101", ["housekeeping", "cooking"]),
    ]

    /// A valid demo ID number (GB 11643) for a birth date and an even (female) serial.
    static func demoID(_ region: String, _ birth: String, _ serial: Int) -> String {
        let body = region + birth + String(format: "%03d", serial)
        return body + String(NationalID.checkCharacter(for: body)!)
    }

    /// Two approved agencies with staff, six workers with qualifications and skills, one
    /// completed transfer (a sealed tenure in the history) and one awaiting consent.
    static func loadWorkerFiles(_ registry: Registry, adminID: UserID, password: String, logger: Logger) async throws {
        let admin = Caller(Principal(.user(id: adminID, role: .admin, agencyID: nil, workerID: nil)))
        var staff: [Caller] = []
        for a in agencyStaff {
            let (agencyID, userID) = try await registry.agencies.apply(
                .init(
                    name: a.name,
                    uscc: a.uscc,
                    regionCode: a.region,
                    contactName: a.contact,
                    contactPhone: nil,
                    contactEmail: a.email,
                    password: password,
                    representative: a.representative,
                    commitmentVersion: registry.policies.commitments.agency.version
                ),
                caller: .system,
                logger: logger
            )
            _ = try await registry.agencies.decide(agencyID, .approve, reason: "demo", caller: admin, logger: logger)
            let contact = Caller(Principal(.user(id: userID, role: .agencyStaff, agencyID: agencyID, workerID: nil)))
            // The contact accepted her own commitment at her first sign-in.
            _ = try await registry.commitments.accept(
                .init(kind: "staff", version: registry.policies.commitments.staff.version),
                caller: contact,
                logger: logger
            )
            staff.append(contact)
        }
        var ids: [(WorkerID, String)] = []
        for (i, w) in demoWorkers.enumerated() {
            let idNumber = demoID(w.region, w.birth, w.serial)
            let caller = staff[i < 3 ? 0 : 1]
            let id = try await registry.workers.register(
                .init(idNumber: idNumber, fullName: w.name, sex: "F", phone: w.phone, homeRegion: w.region, serviceCategories: w.categories),
                caller: caller,
                logger: logger
            )
            ids.append((id, idNumber))
            let category = w.categories[0]
            _ = try await registry.workers.addSkill(
                id,
                .init(
                    category: category,
                    level: 2 + i % 3,
                    assessedOn: "2025-06-01",
                    assessor: "市职业技能鉴定中心",
                    note: nil
                ),
                caller: caller,
                logger: logger
            )
            _ = try await registry.workers.addTraining(
                id,
                .init(
                    kind: "certificate",
                    title: category == "elder_care" ? "养老护理员证" : "育婴员证",
                    issuer: "人力资源和社会保障局",
                    category: category,
                    certificateNo: "HR-\(2020 + i)-\(1000 + i)",
                    issuedOn: "202\(i % 5)-03-15",
                    expiresOn: i == 4 ? "2024-03-15" : nil,
                    hours: nil
                ),
                caller: caller,
                logger: logger
            )
            // Dated from today, so that the demo looks the same whenever it is loaded: one certificate lapsed, the rest valid.
            let today = CivilDate.today()
            _ = try await registry.workers.addHealthCertificate(
                id,
                .init(
                    issuer: "市疾病预防控制中心",
                    certificateNo: nil,
                    issuedOn: today.adding(days: -90).iso,
                    validUntil: (i == 5 ? today.adding(days: -10) : today.adding(days: 270)).iso,
                    result: nil
                ),
                caller: caller,
                logger: logger
            )
            try await registry.workers.assess(id, .init(workAbility: "能独立完成日常照护", ethicsRating: 4 + i % 2), caller: caller, logger: logger)
        }
        // 李秀英 moved from 安心 to 金牌: consented by code, sealed with a final assessment.
        let moved = try await registry.transfers.request(idNumber: ids[0].1, caller: staff[1], logger: logger)
        let movedID = UUID(uuidString: moved.transfer.id)!
        if let code = try await lastCode(registry, logger: logger) {
            _ = try await registry.transfers.consent(movedID, code: code, caller: staff[1], logger: logger)
            _ = try await registry.transfers.seal(
                movedID,
                final: .init(workAbility: "育儿经验丰富", feedbackSummary: "雇主评价良好", ethicsRating: 5),
                caller: staff[0],
                logger: logger
            )
        }
        // 张桂兰: 金牌 asked for her; she has not answered yet.
        _ = try await registry.transfers.request(idNumber: ids[1].1, caller: staff[1], logger: logger)

        // A household that hired 王春梅 through 安心 and reviewed her; she has her own account,
        // replied, and is listed for hire.
        let employerID = try await registry.accounts.registerEmployer(
            .init(email: employerEmail, phone: employerPhone, password: password, householdName: "张先生家", regionCode: "350102"),
            caller: .system,
            logger: logger
        )
        let employer = Caller(Principal(.user(id: employerID, role: .employer, agencyID: nil, workerID: nil)))
        try await verifyPhone(registry, employerPhone, caller: employer, logger: logger)
        let chunmei = ids[2].0
        _ = try await registry.accounts.startWorkerAccount(chunmei, caller: staff[0], logger: logger)
        if let code = try await lastCode(registry, template: "worker_activation_code", logger: logger) {
            try await registry.accounts.activateWorker(
                phone: demoWorkers[2].phone,
                code: code,
                password: password,
                throttle: registry.policies.authentication,
                logger: logger
            )
        }
        let workerUser = try await registry.database.withConnection { connection in
            try await AccountStore.find(email: nil, phone: demoWorkers[2].phone, on: connection, logger: logger)
        }
        guard let workerUser else { throw RegistryError(.unavailable, code: "demo_failed", message: "The demo worker's account was not created.") }
        let worker = Caller(Principal(.user(id: UserID(workerUser.id), role: .worker, agencyID: nil, workerID: chunmei)))
        let engagement = try await registry.engagements.place(
            .init(workerId: chunmei.uuid, employerEmail: employerEmail, employerPhone: nil, category: "maternity", startsOn: "2026-03-01"),
            caller: staff[0],
            logger: logger
        )
        _ = try await registry.engagements.transition(engagement, "confirm", caller: employer, logger: logger)
        let review = try await registry.engagements.review(
            engagement: engagement,
            .init(
                skillScores: ["punctuality": 5, "quality": 4, "childcare": 5, "cooking": 4],
                ethicsScores: ["honesty": 5, "respect": 5, "reliability": 5, "care": 5],
                comment: "照顾产妇和宝宝非常细心，做事踏实。"
            ),
            caller: employer,
            logger: logger
        )
        try await registry.engagements.reply(review, body: "谢谢张先生一家的信任！", caller: worker, logger: logger)
        try await registry.accounts.setAvailable(true, caller: worker, logger: logger)
        _ = try await registry.consents.issue(caller: worker, logger: logger)
        try await loadRecordsAndCases(registry, admin: admin, agency: staff[1], workers: ids.map(\.0), password: password, logger: logger)
        try await loadPastBan(registry, agency: staff[1], password: password, logger: logger)
    }

    /// Two more administrators (a decision needs two; an objection or appeal a third who took no part).
    public static let otherAdminEmails = ["admin2@demo.registry.local", "admin3@demo.registry.local"]
    /// 赵淑芬 of 金牌: barred in the past, long enough ago that she may now apply to be reinstated.
    public static let barredWorkerPhone = "13800138007"

    /// A ban from years ago, made through the workflow itself on a clock moved back: 金牌 filed
    /// it, two administrators decided it, its notice period passed and it was executed. Her
    /// account lets her see it and apply for reinstatement.
    static func loadPastBan(_ registry: Registry, agency: Caller, password: String, logger: Logger) async throws {
        var admins: [Caller] = []
        for (i, email) in otherAdminEmails.enumerated() {
            let id = try await registry.auth.createAdmin(email: email, password: password, displayName: i == 0 ? "示范管理员二" : "示范管理员三", logger: logger)
            admins.append(Caller(Principal(.user(id: id, role: .admin, agencyID: nil, workerID: nil))))
        }
        let years = registry.policies.revocation.reinstatementAfterYears
        let back = (years + 1) * 366
        registry.clock.advance(days: -back)
        defer { registry.clock.advance(days: back) }
        let idNumber = demoID("110105", "19780704", 716)
        let worker = try await registry.workers.register(
            .init(idNumber: idNumber, fullName: "赵淑芬", sex: "F", phone: barredWorkerPhone, homeRegion: "110105", serviceCategories: ["housekeeping"]),
            caller: agency,
            logger: logger
        )
        _ = try await registry.accounts.startWorkerAccount(worker, caller: agency, logger: logger)
        if let code = try await lastCode(registry, template: "worker_activation_code", logger: logger) {
            try await registry.accounts.activateWorker(
                phone: barredWorkerPhone,
                code: code,
                password: password,
                throttle: registry.policies.authentication,
                logger: logger
            )
        }
        let caseID = try await registry.cases.file(
            .init(workerId: worker.uuid, grounds: "theft", statement: "示范数据：雇主家中首饰失窃，经公安机关查实。"),
            caller: agency,
            logger: logger
        )
        for (admin, command, outcome) in [
            (admins[0], "start_review", nil), (admins[0], "propose_decision", "upheld"), (admins[1], "confirm_decision", nil),
        ] {
            _ = try await registry.cases.act(caseID, .init(command: command, reason: "示范数据：证据充分。", outcome: outcome), caller: admin, logger: logger)
        }
        registry.clock.advance(days: 15)
        defer { registry.clock.advance(days: -15) }
        _ = try await registry.cases.executeDue(logger: logger)
    }

    public static let secondEmployerEmail = "household2@demo.registry.local"

    /// So that the flag pages, the case queue and the dashboard show something on a first visit:
    /// records from a police source and a credit bureau, and cases in two states — all about
    /// 刘美华, 陈玉珍 and 杨小红 of 金牌 (the journeys use 王春梅 and the first household).
    static func loadRecordsAndCases(
        _ registry: Registry,
        admin: Caller,
        agency: Caller,
        workers: [WorkerID],
        password: String,
        logger: Logger
    ) async throws {
        let meihua = workers[3]
        let yuzhen = workers[4]
        for (name, kind, display) in [("demo-police", "police", "示范市公安局"), ("demo-bureau", "credit_bureau", "示范征信中心")] {
            let source = try await registry.flags.registerSource(
                .init(name: name, kind: kind, displayName: display, requireSignature: false),
                caller: admin,
                logger: logger
            )
            let key = try await registry.flags.issueKey(sourceID: try uuid(source.id), label: "demo", caller: admin, logger: logger)
            let caller = Caller(Principal(.integration(sourceID: SourceID(try uuid(source.id)), sourceName: name, keyID: KeyID(try uuid(key.id)))))
            let (id, reference, category, severity, status, occurred) =
                kind == "police"
                ? (demoWorkers[5], "DP-2025-0417", "fraud", 1, "alleged", "2025-04-17")
                : (demoWorkers[4], "DB-2024-1102", "debt_default", 2, "adjudicated", "2024-11-02")
            _ = try await registry.flags.submit(
                [
                    .init(
                        idNumber: demoID(id.region, id.birth, id.serial),
                        reference: reference,
                        category: category,
                        severity: severity,
                        status: status,
                        occurredOn: occurred,
                        expiresOn: nil,
                        narrative: "示范数据：\(display)的记录。"
                    )
                ],
                sourceID: try uuid(source.id),
                caller: caller,
                logger: logger
            )
        }
        // A second household engaged 刘美华 and 陈玉珍 through 金牌, and filed a case about each:
        // one waits for an administrator, the other is under review.
        let householdID = try await registry.accounts.registerEmployer(
            .init(email: secondEmployerEmail, phone: secondEmployerPhone, password: password, householdName: "李女士家", regionCode: "110105"),
            caller: .system,
            logger: logger
        )
        let household = Caller(Principal(.user(id: householdID, role: .employer, agencyID: nil, workerID: nil)))
        try await verifyPhone(registry, secondEmployerPhone, caller: household, logger: logger)
        var cases: [CaseID] = []
        for (worker, category, grounds, statement) in [
            (meihua, "maternity", "theft", "家中现金两千元不见，当天只有她在家。已向派出所报案。"),
            (yuzhen, "elder_care", "serious_neglect", "老人夜间摔倒，她未按约定查看，延误送医。"),
        ] {
            let engagement = try await registry.engagements.place(
                .init(workerId: worker.uuid, employerEmail: secondEmployerEmail, employerPhone: nil, category: category, startsOn: "2026-02-01"),
                caller: agency,
                logger: logger
            )
            _ = try await registry.engagements.transition(engagement, "confirm", caller: household, logger: logger)
            cases.append(
                try await registry.cases.file(.init(workerId: worker.uuid, grounds: grounds, statement: statement), caller: household, logger: logger)
            )
        }
        _ = try await registry.cases.act(
            cases[1],
            .init(command: "start_review", reason: "受理，调取监护记录。", outcome: nil),
            caller: admin,
            logger: logger
        )
    }

    static func uuid(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw RegistryError(.unavailable, code: "demo_failed", message: "Bad id \(text).") }
        return id
    }

    public static let employerEmail = "household@demo.registry.local"
    /// The demo households' own numbers, verified (a household confirms placements only then).
    static let employerPhone = "13600136001"
    static let secondEmployerPhone = "13600136002"
    public static let workerPhone = "13800138003"

    /// A household verifies its phone number as a person does: it asks for a code and enters it
    /// (the demo reads the code from the outbox instead of a phone).
    static func verifyPhone(_ registry: Registry, _ phone: String, caller: Caller, logger: Logger) async throws {
        _ = try await registry.contacts.requestChange(phone: phone, email: nil, caller: caller, logger: logger)
        guard let code = try await lastCode(registry, template: "phone_verification_code", logger: logger) else {
            throw RegistryError(.unavailable, code: "demo_failed", message: "The demo household's phone code was not sent.")
        }
        _ = try await registry.contacts.confirmChange(code: code, caller: caller, logger: logger)
    }

    static func lastCode(_ registry: Registry, template: String = "transfer_consent_code", logger: Logger) async throws -> String? {
        try await NotificationStore.lastUnsentCode(template: template, database: registry.database, logger: logger)
    }

    public struct Summary: Sendable {
        public var created: Bool
        public var adminEmail: String
        public var adminPassword: String?
        public var credentialsFile: String
    }

    /// Loads the demo data unless the database already has users. The demo administrator's
    /// password is `REGISTRY_DEMO_PASSWORD` or a random one, printed and saved (owner-only)
    /// in the data folder.
    public static func loadIfEmpty(_ registry: Registry, logger: Logger) async throws -> Summary {
        let file = registry.configuration.dataDirectory + "/demo-credentials.txt"
        let users = try await registry.database.withConnection { connection in
            try await AccountStore.count(role: .admin, on: connection, logger: logger)
        }
        guard users == 0 else {
            return Summary(created: false, adminEmail: adminEmail, adminPassword: nil, credentialsFile: file)
        }
        let password =
            ProcessInfo.processInfo.environment["REGISTRY_DEMO_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "demo-" + TokenGenerator.token(bytes: 9)
        let adminID = try await registry.auth.createAdmin(
            email: adminEmail,
            password: password,
            displayName: "Demo administrator",
            logger: logger
        )
        try await loadWorkerFiles(registry, adminID: adminID, password: password, logger: logger)
        try FileManager.default.createDirectory(atPath: registry.configuration.dataDirectory, withIntermediateDirectories: true)
        let text = """
            Demo administrator
            e-mail: \(adminEmail)
            password: \(password)

            Demo agency staff (same password): \(agencyStaff.map(\.email).joined(separator: ", "))
            Demo employers (same password): \(employerEmail), \(secondEmployerEmail)
            Demo worker 王春梅 (same password, signs in with her phone): \(workerPhone)
            Demo worker 赵淑芬, barred years ago, may apply for reinstatement (same password, phone): \(barredWorkerPhone)
            More administrators, for four eyes (same password): \(otherAdminEmails.joined(separator: ", "))

            """
        FileManager.default.createFile(atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        return Summary(created: true, adminEmail: adminEmail, adminPassword: password, credentialsFile: file)
    }
}
