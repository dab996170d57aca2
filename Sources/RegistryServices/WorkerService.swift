import Foundation
import Logging
import RegistryDomain
import RegistrySecurity
import RegistryStorage

/// The worker's file: registration, reading, qualifications, tenure assessment, bulk import.
public struct WorkerService: Sendable {
    let database: Database
    let clock: RegistryClock
    let keys: KeyRing
    let policy: CustodyPolicy
    let flags: FlagService
    let sectors: SectorPolicy

    init(database: Database, clock: RegistryClock, keys: KeyRing, policy: CustodyPolicy, flags: FlagService, sectors: SectorPolicy) {
        self.sectors = sectors
        self.database = database
        self.clock = clock
        self.keys = keys
        self.policy = policy
        self.flags = flags
    }

    static func duplicate() -> RegistryError {
        RegistryError(
            .conflict,
            code: "worker_exists",
            message:
                "This person already has a file in the registry. To continue it, request a transfer with her ID number (POST /api/v1/transfers).",
            field: "id_number",
            details: ["next": "/api/v1/transfers"]
        )
    }

    /// Opens a worker's file in the caller's agency with her first tenure.
    public func register(_ input: WorkerRegistration.Input, caller: Caller, logger: Logger) async throws -> WorkerID {
        let today = clock.today
        let registration = try WorkerRegistration(input, today: today, ages: policy.ages, sectors: sectors)
        let blind = Data(keys.blindIndex(registration.nationalID))
        // The id is chosen here so that the sealed ID number is bound to its row.
        let workerID = UUID()
        let sealed = Data(keys.seal(registration.nationalID.value, context: SealedPlace.workerID(workerID)))
        return try await database.transaction(logger: logger) { connection in
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: true, on: connection, logger: logger)
            try DemeritService.requireRegistrationsOpen(agency)
            let new = WorkerStore.NewWorker(
                id: workerID,
                idCiphertext: sealed,
                keyVersion: keys.currentSealingVersion,
                blindIndex: blind,
                fullName: registration.fullName,
                birthDate: registration.nationalID.birthDate.iso,
                sex: registration.sex.rawValue,
                phone: registration.phone,
                homeRegion: registration.homeRegion,
                categories: registration.categories.map(\.rawValue),
                agencyID: agency.id,
                registeredBy: caller.userUUID
            )
            guard let id = try await WorkerStore.insert(new, startedOn: today.iso, on: connection, logger: logger) else {
                throw Self.duplicate()
            }
            try await AuditStore.append(
                caller.event(
                    "worker.registered",
                    "worker",
                    id,
                    [
                        "agency": .string(agency.id.text), "categories": .list(registration.categories.map { .string($0.rawValue) }),
                    ]
                ),
                on: connection,
                logger: logger
            )
            try await flags.attachOnRegistration([id], caller: caller, on: connection, logger: logger)
            try await GradeStore.enqueue(id, reason: "registered", on: connection, logger: logger)
            return WorkerID(id)
        }
    }

    public struct File: Sendable, Encodable {
        public var id: String
        public var idNumberMasked: String
        public var fullName: String
        public var sex: String
        public var birthDate: String
        public var age: Int
        public var phone: String?
        public var homeRegion: String
        public var serviceCategories: [String]
        public var status: String
        public var currentAgency: AgencyRef
        public var tenures: [Tenure]
        public var trainings: [QualificationView<Training>]
        public var healthCertificates: [QualificationView<HealthCertificate>]
        public var skills: [SkillAssessment]
        public var transfers: [TransferView]

        public struct AgencyRef: Sendable, Encodable {
            public var id: String
            public var name: String
        }

        enum CodingKeys: String, CodingKey {
            case id, sex, age, phone, status, tenures, trainings, skills, transfers
            case idNumberMasked = "id_number_masked"
            case fullName = "full_name"
            case birthDate = "birth_date"
            case homeRegion = "home_region"
            case serviceCategories = "service_categories"
            case currentAgency = "current_agency"
            case healthCertificates = "health_certificates"
        }
    }

    /// One agency's period of custody, with its assessment (final once sealed).
    public struct Tenure: Sendable, Equatable, Encodable {
        public var id: String
        public var agencyID: AgencyID
        public var agencyName: String
        public var startedOn: String
        public var endedOn: String?
        public var workAbility: String?
        public var healthStatus: String?
        public var feedbackSummary: String?
        public var ethicsRating: Int?
        public var ethicsNote: String?
        public var sealedAt: Date?
        public var sealedHow: String?
        /// Set when the assessment was overturned on her dispute (the sealed record stays as it was).
        public var overturnedReason: String?
        public var overturnedOn: String?

        init(_ row: TenureStore.Tenure) {
            id = row.id.text
            agencyID = AgencyID(row.agencyID)
            agencyName = row.agencyName
            startedOn = row.startedOn
            endedOn = row.endedOn
            workAbility = row.workAbility
            healthStatus = row.healthStatus
            feedbackSummary = row.feedbackSummary
            ethicsRating = row.ethicsRating
            ethicsNote = row.ethicsNote
            sealedAt = row.sealedAt
            sealedHow = row.sealedHow
            overturnedReason = row.overturnedReason
            overturnedOn = row.overturnedOn
        }
    }

    /// A training or certificate.
    public struct Training: Sendable, Equatable, Encodable {
        public var id: String
        public var kind: String
        public var title: String
        public var issuer: String
        public var category: String?
        public var certificateNo: String?
        public var issuedOn: String
        public var expiresOn: String?
        public var hours: Int?
        public var agencyID: AgencyID

        init(_ row: QualificationStore.Training) {
            id = row.id.text
            kind = row.kind
            title = row.title
            issuer = row.issuer
            category = row.category
            certificateNo = row.certificateNo
            issuedOn = row.issuedOn
            expiresOn = row.expiresOn
            hours = row.hours
            agencyID = AgencyID(row.agencyID)
        }
    }

    public struct HealthCertificate: Sendable, Equatable, Encodable {
        public var id: String
        public var issuer: String
        public var certificateNo: String?
        public var issuedOn: String
        public var validUntil: String
        public var result: String
        public var agencyID: AgencyID

        init(_ row: QualificationStore.HealthCertificate) {
            id = row.id.text
            issuer = row.issuer
            certificateNo = row.certificateNo
            issuedOn = row.issuedOn
            validUntil = row.validUntil
            result = row.result
            agencyID = AgencyID(row.agencyID)
        }
    }

    public struct SkillAssessment: Sendable, Equatable, Encodable {
        public var id: String
        public var category: String
        public var level: Int
        public var assessedOn: String
        public var assessor: String
        public var note: String?
        public var agencyID: AgencyID

        init(_ row: QualificationStore.SkillAssessment) {
            id = row.id.text
            category = row.category
            level = row.level
            assessedOn = row.assessedOn
            assessor = row.assessor
            note = row.note
            agencyID = AgencyID(row.agencyID)
        }
    }

    /// A qualification with its validity today.
    public struct QualificationView<Item: Encodable & Sendable>: Sendable, Encodable {
        public var item: Item
        public var valid: Bool

        public func encode(to encoder: any Encoder) throws {
            try item.encode(to: encoder)
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(valid, forKey: .valid)
        }

        enum Key: String, CodingKey { case valid }
    }

    /// Her whole file: for the agency in custody, for her, and for an administrator who states
    /// why — an administrator's read is an inquiry she sees in her "who looked" list.
    public func file(_ id: WorkerID, purpose stated: String? = nil, caller: Caller, logger: Logger) async throws -> File {
        let today = clock.today
        // Only administrators must state one; a purpose anyone sends must be one of the known.
        if let stated, caller.principal.role != .admin { _ = try AdminReadPurpose.parse(stated) }
        let adminPurpose = caller.principal.role == .admin ? try AdminReadPurpose.parse(stated) : nil
        return try await database.transaction(logger: logger) { connection in
            let (worker, _) = try await WorkerAccess.visible(id.uuid, caller: caller, write: false, on: connection, logger: logger)
            if let adminPurpose {
                try await InquiryStore.record(
                    workerID: id.uuid,
                    viewer: caller.userUUID,
                    role: caller.principal.role.rawValue,
                    purpose: adminPurpose.rawValue,
                    consentID: nil,
                    engagementID: nil,
                    on: connection,
                    logger: logger
                )
                try await AuditStore.append(
                    caller.event("worker.file_read", "worker", id.uuid, ["purpose": .string(adminPurpose.rawValue)]),
                    on: connection,
                    logger: logger
                )
            }
            let masked = maskedID(worker, today: today)
            let agency = try await AgencyStore.find(id: worker.currentAgencyID, on: connection, logger: logger)
            let birth = CivilDate(iso: worker.birthDate) ?? today
            return File(
                id: worker.id.text,
                idNumberMasked: masked,
                fullName: worker.fullName,
                sex: worker.sex,
                birthDate: worker.birthDate,
                age: birth.years(until: today),
                phone: worker.phone,
                homeRegion: worker.homeRegion,
                serviceCategories: worker.categories,
                status: worker.status,
                currentAgency: .init(id: worker.currentAgencyID.text, name: agency?.name ?? ""),
                tenures: try await TenureStore.list(workerID: id.uuid, on: connection, logger: logger).map(Tenure.init),
                trainings: try await QualificationStore.trainings(workerID: id.uuid, on: connection, logger: logger).map {
                    QualificationView(item: Training($0), valid: $0.expiresOn.flatMap(CivilDate.init(iso:)).map { $0 >= today } ?? true)
                },
                healthCertificates: try await QualificationStore.healthCertificates(workerID: id.uuid, on: connection, logger: logger).map {
                    QualificationView(
                        item: HealthCertificate($0),
                        valid: (CivilDate(iso: $0.validUntil).map { $0 >= today } ?? false) && $0.result != "unfit"
                    )
                },
                skills: try await QualificationStore.skills(workerID: id.uuid, on: connection, logger: logger).map(SkillAssessment.init),
                transfers: try await TransferStore.forWorker(id.uuid, on: connection, logger: logger).map(TransferView.init)
            )
        }
    }

    public struct Search: Sendable, Decodable {
        public var name: String?
        /// Matched by its blind index; never stored, logged or echoed.
        public var idNumber: String?
        /// Her file's id, or the id of a case about her.
        public var reference: String?

        public init(name: String? = nil, idNumber: String? = nil, reference: String? = nil) {
            self.name = name
            self.idNumber = idNumber
            self.reference = reference
        }

        enum CodingKeys: String, CodingKey {
            case name, reference
            case idNumber = "id_number"
        }
    }

    public struct Found: Sendable, Encodable {
        public var id: String
        public var fullName: String
        public var idNumberMasked: String
        public var agencyName: String
        public var status: String
    }

    /// An administrator finds workers by name, ID number or reference: the list, with masked ID
    /// numbers; opening one's file is a separate read with a purpose.
    public func find(_ q: Search, caller: Caller, logger: Logger) async throws -> [Found] {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        let name = try Input.text(q.name, field: "name", max: 100, required: false)
        let reference = try Input.text(q.reference, field: "reference", max: 100, required: false)
        let idText = try Input.text(q.idNumber, field: "id_number", max: 40, required: false)
        guard name != nil || reference != nil || idText != nil else {
            throw RegistryError.invalid("name", "Give a name, an ID number or a reference.", code: "missing_field")
        }
        var blind: Data?
        if let idText {
            blind = Data(keys.blindIndex(try NationalID(idText, today: clock.today)))
        }
        var referenceID: UUID?
        if let reference {
            guard let r = UUID(uuidString: reference) else {
                throw RegistryError.invalid("reference", "A reference is the id of her file or of a case about her.")
            }
            referenceID = r
        }
        let today = clock.today
        return try await database.withConnection { connection in
            var found: [Found] = []
            for id in try await WorkerStore.search(nameContains: name, blindIndex: blind, reference: referenceID, on: connection, logger: logger) {
                guard let worker = try await WorkerStore.get(id, on: connection, logger: logger) else { continue }
                let masked = maskedID(worker, today: today)
                let agency = try await AgencyStore.find(id: worker.currentAgencyID, on: connection, logger: logger)
                found.append(
                    Found(id: id.text, fullName: worker.fullName, idNumberMasked: masked, agencyName: agency?.name ?? "", status: worker.status)
                )
            }
            return found
        }
    }

    /// Her ID number masked for display, opened from its sealed column (never kept in clear).
    func maskedID(_ worker: WorkerStore.Worker, today: CivilDate) -> String {
        (try? NationalID(try keys.open(Array(worker.idCiphertext), context: SealedPlace.workerID(worker.id)), today: today).masked) ?? "******"
    }

    /// Her name alone, for an administrator's list (a dispute, a case): not her file, no inquiry.
    public func name(_ id: WorkerID, caller: Caller, logger: Logger) async throws -> String {
        guard caller.principal.role == .admin else { throw RegistryError.forbidden }
        return try await database.withConnection { connection in
            guard let worker = try await WorkerStore.get(id.uuid, on: connection, logger: logger) else { throw RegistryError.notFound("Worker") }
            return worker.fullName
        }
    }

    /// A worker on the agency's roster, as the API and the pages show her.
    public struct RosterEntry: Sendable, Equatable, Encodable {
        public var id: UUID
        public var fullName: String
        public var sex: String
        public var birthDate: String
        public var homeRegion: String
        public var categories: [String]
        public var status: String

        init(_ row: WorkerStore.RosterEntry) {
            id = row.id
            fullName = row.fullName
            sex = row.sex
            birthDate = row.birthDate
            homeRegion = row.homeRegion
            categories = row.categories
            status = row.status
        }
    }

    public func roster(nameContains: String?, limit: Int, offset: Int, caller: Caller, logger: Logger) async throws -> [RosterEntry] {
        let query = try Input.text(nameContains, field: "q", max: 100, required: false)
        return try await database.withConnection { connection in
            let agency = try await AgencyAccess.agency(nil, caller: caller, write: false, on: connection, logger: logger)
            return try await WorkerStore.roster(
                agencyID: agency.id,
                nameContains: query,
                limit: limit,
                offset: offset,
                on: connection,
                logger: logger
            ).map(RosterEntry.init)
        }
    }

    // MARK: Qualifications and assessment (the agency in custody only)

    public struct TrainingInput: Sendable, Decodable {
        public var kind: String
        public var title: String
        public var issuer: String
        public var category: String?
        public var certificateNo: String?
        public var issuedOn: String
        public var expiresOn: String?
        public var hours: Int?

        public init(
            kind: String,
            title: String,
            issuer: String,
            category: String?,
            certificateNo: String?,
            issuedOn: String,
            expiresOn: String?,
            hours: Int?
        ) {
            self.kind = kind
            self.title = title
            self.issuer = issuer
            self.category = category
            self.certificateNo = certificateNo
            self.issuedOn = issuedOn
            self.expiresOn = expiresOn
            self.hours = hours
        }

        enum CodingKeys: String, CodingKey {
            case kind, title, issuer, category, hours
            case certificateNo = "certificate_no"
            case issuedOn = "issued_on"
            case expiresOn = "expires_on"
        }
    }

    public struct HealthInput: Sendable, Decodable {
        public var issuer: String
        public var certificateNo: String?
        public var issuedOn: String
        public var validUntil: String
        public var result: String?

        public init(issuer: String, certificateNo: String?, issuedOn: String, validUntil: String, result: String?) {
            self.issuer = issuer
            self.certificateNo = certificateNo
            self.issuedOn = issuedOn
            self.validUntil = validUntil
            self.result = result
        }

        enum CodingKeys: String, CodingKey {
            case issuer, result
            case certificateNo = "certificate_no"
            case issuedOn = "issued_on"
            case validUntil = "valid_until"
        }
    }

    public struct SkillInput: Sendable, Decodable {
        public var category: String
        public var level: Int
        public var assessedOn: String
        public var assessor: String
        public var note: String?

        public init(category: String, level: Int, assessedOn: String, assessor: String, note: String?) {
            self.category = category
            self.level = level
            self.assessedOn = assessedOn
            self.assessor = assessor
            self.note = note
        }

        enum CodingKeys: String, CodingKey {
            case category, level, assessor, note
            case assessedOn = "assessed_on"
        }
    }

    /// Runs `body` with the worker locked, in the custody agency's open tenure.
    func inCustody<T: Sendable>(
        _ workerID: UUID,
        caller: Caller,
        logger: Logger,
        _ body: @Sendable (DatabaseConnection, _ tenureID: UUID, _ agencyID: UUID, _ userID: UUID) async throws -> T
    ) async throws -> T {
        guard let user = caller.userUUID else { throw RegistryError.forbidden }
        return try await database.transaction(logger: logger) { connection in
            let (worker, agency) = try await WorkerAccess.visible(workerID, caller: caller, write: true, on: connection, logger: logger)
            guard let agency else { throw RegistryError.notFound("Worker") }
            guard worker.status != "revoked" else {
                throw RegistryError(.conflict, code: "worker_revoked", message: "This worker is barred; her file is closed to new entries.")
            }
            guard let tenure = try await TenureStore.openTenure(workerID: workerID, on: connection, logger: logger), tenure.agencyID == agency.id
            else {
                throw RegistryError(.conflict, code: "no_open_tenure", message: "Your agency has no open tenure for this worker.")
            }
            let result = try await body(connection, tenure.id, agency.id, user)
            try await GradeStore.enqueue(workerID, reason: "file_changed", on: connection, logger: logger)
            return result
        }
    }

    public func addTraining(_ workerID: WorkerID, _ input: TrainingInput, caller: Caller, logger: Logger) async throws -> UUID {
        let today = clock.today
        guard ["training", "certificate"].contains(input.kind) else { throw RegistryError.invalid("kind", "kind is training or certificate.") }
        let title = try Input.text(input.title, field: "title", max: 200)!
        let issuer = try Input.text(input.issuer, field: "issuer", max: 200)!
        let number = try Input.text(input.certificateNo, field: "certificate_no", max: 100, required: false)
        let category = try input.category.map { try sectors.parseCategory($0).rawValue }
        let issued = try Input.date(input.issuedOn, field: "issued_on", notAfter: today)!
        let expires = try Input.date(input.expiresOn, field: "expires_on", required: false)
        if let expires, expires < issued { throw RegistryError.invalid("expires_on", "expires_on must not be before issued_on.") }
        // A qualification the sector knows to expire (a teacher's certificate) needs its last day.
        if expires == nil, let known = sectors.qualification(titled: title), known.expires {
            throw RegistryError.invalid("expires_on", "A \(known.en) (\(known.zh)) expires: enter its expiry date.", code: "missing_field")
        }
        if let hours = input.hours, !(1...10_000).contains(hours) { throw RegistryError.invalid("hours", "hours must be 1 to 10000.") }
        return try await inCustody(workerID.uuid, caller: caller, logger: logger) { connection, tenure, agency, user in
            let id = try await QualificationStore.addTraining(
                workerID: workerID.uuid,
                tenureID: tenure,
                agencyID: agency,
                by: user,
                kind: input.kind,
                title: title,
                issuer: issuer,
                category: category,
                certificateNo: number,
                issuedOn: issued.iso,
                expiresOn: expires?.iso,
                hours: input.hours,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    "worker.\(input.kind)_added",
                    "worker",
                    workerID.uuid,
                    ["record": .string(id.text), "title": .string(title)]
                ),
                on: connection,
                logger: logger
            )
            return id
        }
    }

    public func addHealthCertificate(_ workerID: WorkerID, _ input: HealthInput, caller: Caller, logger: Logger) async throws -> UUID {
        let today = clock.today
        let issuer = try Input.text(input.issuer, field: "issuer", max: 200)!
        let number = try Input.text(input.certificateNo, field: "certificate_no", max: 100, required: false)
        let issued = try Input.date(input.issuedOn, field: "issued_on", notAfter: today)!
        let until = try Input.date(input.validUntil, field: "valid_until")!
        guard until >= issued else { throw RegistryError.invalid("valid_until", "valid_until must not be before issued_on.") }
        let result = input.result ?? "fit"
        guard ["fit", "restricted", "unfit"].contains(result) else { throw RegistryError.invalid("result", "result is fit, restricted or unfit.") }
        return try await inCustody(workerID.uuid, caller: caller, logger: logger) { connection, tenure, agency, user in
            let id = try await QualificationStore.addHealth(
                workerID: workerID.uuid,
                tenureID: tenure,
                agencyID: agency,
                by: user,
                issuer: issuer,
                certificateNo: number,
                issuedOn: issued.iso,
                validUntil: until.iso,
                result: result,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    "worker.health_certificate_added",
                    "worker",
                    workerID.uuid,
                    ["record": .string(id.text), "valid_until": .string(until.iso)]
                ),
                on: connection,
                logger: logger
            )
            return id
        }
    }

    public func addSkill(_ workerID: WorkerID, _ input: SkillInput, caller: Caller, logger: Logger) async throws -> UUID {
        let today = clock.today
        let category = try sectors.parseCategory(input.category)
        guard let level = SkillLevel(rawValue: input.level) else {
            throw RegistryError.invalid("level", "level is 1 (初级) to 5 (高级技师).")
        }
        let on = try Input.date(input.assessedOn, field: "assessed_on", notAfter: today)!
        let assessor = try Input.text(input.assessor, field: "assessor", max: 200)!
        let note = try Input.text(input.note, field: "note", max: 2000, required: false)
        return try await inCustody(workerID.uuid, caller: caller, logger: logger) { connection, tenure, agency, user in
            let id = try await QualificationStore.addSkill(
                workerID: workerID.uuid,
                tenureID: tenure,
                agencyID: agency,
                by: user,
                category: category.rawValue,
                level: level.rawValue,
                assessedOn: on.iso,
                assessor: assessor,
                note: note,
                on: connection,
                logger: logger
            )
            try await AuditStore.append(
                caller.event(
                    "worker.skill_assessed",
                    "worker",
                    workerID.uuid,
                    ["record": .string(id.text), "category": .string(category.rawValue), "level": .int(level.rawValue)]
                ),
                on: connection,
                logger: logger
            )
            return id
        }
    }

    /// The agency's assessment of a tenure (fields left nil keep their value), recorded during
    /// custody or sealed at a transfer.
    public struct Assessment: Sendable, Equatable, Codable {
        public var workAbility: String?
        public var healthStatus: String?
        public var feedbackSummary: String?
        public var ethicsRating: Int?
        public var ethicsNote: String?

        public init(
            workAbility: String? = nil,
            healthStatus: String? = nil,
            feedbackSummary: String? = nil,
            ethicsRating: Int? = nil,
            ethicsNote: String? = nil
        ) {
            self.workAbility = workAbility
            self.healthStatus = healthStatus
            self.feedbackSummary = feedbackSummary
            self.ethicsRating = ethicsRating
            self.ethicsNote = ethicsNote
        }

        enum CodingKeys: String, CodingKey {
            case workAbility = "work_ability"
            case healthStatus = "health_status"
            case feedbackSummary = "feedback_summary"
            case ethicsRating = "ethics_rating"
            case ethicsNote = "ethics_note"
        }
    }

    /// Records the custody agency's assessment on the open tenure.
    public func assess(_ workerID: WorkerID, _ assessment: Assessment, caller: Caller, logger: Logger) async throws {
        let a = try TenureAssessment.validate(assessment)
        try await inCustody(workerID.uuid, caller: caller, logger: logger) { connection, tenure, _, _ in
            try await TenureStore.assess(tenure, a, on: connection, logger: logger)
            try await AuditStore.append(
                caller.event("tenure.assessed", "worker", workerID.uuid, ["tenure": .string(tenure.text)]),
                on: connection,
                logger: logger
            )
        }
    }
}
