import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// Tenures (one per agency period) and the qualifications recorded during them.
public enum TenureStore {
    public struct Tenure: Sendable, Equatable, Codable {
        public var id: UUID
        public var agencyID: UUID
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
        /// The assessment was overturned on the worker's dispute: the administrator's reason and the day.
        public var overturnedReason: String? = nil
        public var overturnedOn: String? = nil
    }

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

    public static func list(workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Tenure] {
        let rows = try await connection.query(
            """
            SELECT t.id, t.agency_id, a.name, t.started_on::text, t.ended_on::text, t.work_ability, t.health_status,
                   t.feedback_summary, t.ethics_rating, t.ethics_note, t.sealed_at, t.sealed_how, n.reason, n.created_at::date::text
            FROM tenures t JOIN agencies a ON a.id = t.agency_id LEFT JOIN tenure_annotations n ON n.tenure_id = t.id
            WHERE t.worker_id = \(workerID) ORDER BY t.started_on, t.created_at LIMIT 500
            """,
            logger: logger
        )
        var result: [Tenure] = []
        for try await (id, agency, name, started, ended, ability, health, feedback, rating, note, sealedAt, how, overturned, overturnedOn)
            in rows.decode((UUID, UUID, String, String, String?, String?, String?, String?, Int16?, String?, Date?, String?, String?, String?).self)
        {
            result.append(
                Tenure(
                    id: id,
                    agencyID: agency,
                    agencyName: name,
                    startedOn: started,
                    endedOn: ended,
                    workAbility: ability,
                    healthStatus: health,
                    feedbackSummary: feedback,
                    ethicsRating: rating.map(Int.init),
                    ethicsNote: note,
                    sealedAt: sealedAt,
                    sealedHow: how,
                    overturnedReason: overturned,
                    overturnedOn: overturnedOn
                )
            )
        }
        return result
    }

    /// The open tenure of a worker, locked.
    public static func openTenure(workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> (id: UUID, agencyID: UUID)? {
        let rows = try await connection.query(
            """
            SELECT id, agency_id FROM tenures WHERE worker_id = \(workerID) AND sealed_at IS NULL FOR UPDATE
            """,
            logger: logger
        )
        for try await (id, agency) in rows.decode((UUID, UUID).self) { return (id, agency) }
        return nil
    }

    /// Updates the open tenure's assessment (fields left nil keep their value).
    public static func assess(_ tenureID: UUID, _ a: Assessment, on connection: PostgresConnection, logger: Logger) async throws {
        let rating = a.ethicsRating.map(Int16.init)
        try await connection.query(
            """
            UPDATE tenures SET work_ability = coalesce(\(a.workAbility), work_ability),
                health_status = coalesce(\(a.healthStatus), health_status),
                feedback_summary = coalesce(\(a.feedbackSummary), feedback_summary),
                ethics_rating = coalesce(\(rating), ethics_rating),
                ethics_note = coalesce(\(a.ethicsNote), ethics_note),
                updated_at = now()
            WHERE id = \(tenureID) AND sealed_at IS NULL
            """,
            logger: logger
        )
    }

    /// Seals a tenure: its final state. After this the row never changes (trigger).
    public static func seal(
        _ tenureID: UUID,
        how: String,
        by: UUID?,
        endedOn: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            UPDATE tenures SET sealed_at = now(), sealed_by = \(by), sealed_how = \(how), ended_on = \(endedOn)::date, updated_at = now()
            WHERE id = \(tenureID) AND sealed_at IS NULL
            """,
            logger: logger
        )
    }

    public static func open(workerID: UUID, agencyID: UUID, startedOn: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO tenures (worker_id, agency_id, started_on) VALUES (\(workerID), \(agencyID), \(startedOn)::date)
            """,
            logger: logger
        )
    }
}

/// Trainings, certificates, health certificates and skill assessments (append-only).
public enum QualificationStore {
    public struct Training: Sendable, Equatable, Codable {
        public var id: UUID
        public var kind: String
        public var title: String
        public var issuer: String
        public var category: String?
        public var certificateNo: String?
        public var issuedOn: String
        public var expiresOn: String?
        public var hours: Int?
        public var agencyID: UUID
    }

    public struct HealthCertificate: Sendable, Equatable, Codable {
        public var id: UUID
        public var issuer: String
        public var certificateNo: String?
        public var issuedOn: String
        public var validUntil: String
        public var result: String
        public var agencyID: UUID
    }

    public struct SkillAssessment: Sendable, Equatable, Codable {
        public var id: UUID
        public var category: String
        public var level: Int
        public var assessedOn: String
        public var assessor: String
        public var note: String?
        public var agencyID: UUID
    }

    public static func addTraining(
        workerID: UUID,
        tenureID: UUID,
        agencyID: UUID,
        by: UUID,
        kind: String,
        title: String,
        issuer: String,
        category: String?,
        certificateNo: String?,
        issuedOn: String,
        expiresOn: String?,
        hours: Int?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        let rows = try await connection.query(
            """
            INSERT INTO trainings (worker_id, tenure_id, agency_id, kind, title, issuer, category, certificate_no, issued_on,
                                   expires_on, hours, created_by)
            VALUES (\(workerID), \(tenureID), \(agencyID), \(kind), \(title), \(issuer), \(category), \(certificateNo),
                    \(issuedOn)::date, \(expiresOn)::date, \(hours.map(Int32.init)), \(by))
            RETURNING id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { return id }
        throw RegistryError(.unavailable, code: "insert_failed", message: "Not recorded.")
    }

    public static func addHealth(
        workerID: UUID,
        tenureID: UUID,
        agencyID: UUID,
        by: UUID,
        issuer: String,
        certificateNo: String?,
        issuedOn: String,
        validUntil: String,
        result: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        let rows = try await connection.query(
            """
            INSERT INTO health_certificates (worker_id, tenure_id, agency_id, issuer, certificate_no, issued_on, valid_until, result, created_by)
            VALUES (\(workerID), \(tenureID), \(agencyID), \(issuer), \(certificateNo), \(issuedOn)::date, \(validUntil)::date, \(result), \(by))
            RETURNING id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { return id }
        throw RegistryError(.unavailable, code: "insert_failed", message: "Not recorded.")
    }

    public static func addSkill(
        workerID: UUID,
        tenureID: UUID,
        agencyID: UUID,
        by: UUID,
        category: String,
        level: Int,
        assessedOn: String,
        assessor: String,
        note: String?,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        let rows = try await connection.query(
            """
            INSERT INTO skill_assessments (worker_id, tenure_id, agency_id, category, level, assessed_on, assessor, note, created_by)
            VALUES (\(workerID), \(tenureID), \(agencyID), \(category), \(Int16(level)), \(assessedOn)::date, \(assessor), \(note), \(by))
            RETURNING id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { return id }
        throw RegistryError(.unavailable, code: "insert_failed", message: "Not recorded.")
    }

    public static func trainings(workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [Training] {
        let rows = try await connection.query(
            """
            SELECT id, kind, title, issuer, category, certificate_no, issued_on::text, expires_on::text, hours, agency_id FROM (
                SELECT id, kind, title, issuer, category, certificate_no, issued_on, expires_on, hours, agency_id, created_at
                FROM trainings WHERE worker_id = \(workerID) ORDER BY issued_on DESC, created_at DESC LIMIT 500
            ) newest ORDER BY issued_on, created_at
            """,
            logger: logger
        )
        var result: [Training] = []
        for try await (id, kind, title, issuer, category, no, issued, expires, hours, agency)
            in rows.decode((UUID, String, String, String, String?, String?, String, String?, Int32?, UUID).self)
        {
            result.append(
                Training(
                    id: id,
                    kind: kind,
                    title: title,
                    issuer: issuer,
                    category: category,
                    certificateNo: no,
                    issuedOn: issued,
                    expiresOn: expires,
                    hours: hours.map(Int.init),
                    agencyID: agency
                )
            )
        }
        return result
    }

    public static func healthCertificates(workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [HealthCertificate] {
        let rows = try await connection.query(
            """
            SELECT id, issuer, certificate_no, issued_on::text, valid_until::text, result, agency_id FROM (
                SELECT id, issuer, certificate_no, issued_on, valid_until, result, agency_id, created_at
                FROM health_certificates WHERE worker_id = \(workerID) ORDER BY issued_on DESC, created_at DESC LIMIT 500
            ) newest ORDER BY issued_on, created_at
            """,
            logger: logger
        )
        var result: [HealthCertificate] = []
        for try await (id, issuer, no, issued, until, outcome, agency) in rows.decode((UUID, String, String?, String, String, String, UUID).self) {
            result.append(
                HealthCertificate(
                    id: id,
                    issuer: issuer,
                    certificateNo: no,
                    issuedOn: issued,
                    validUntil: until,
                    result: outcome,
                    agencyID: agency
                )
            )
        }
        return result
    }

    public static func skills(workerID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [SkillAssessment] {
        let rows = try await connection.query(
            """
            SELECT id, category, level, assessed_on::text, assessor, note, agency_id
            FROM skill_assessments WHERE worker_id = \(workerID) ORDER BY category, assessed_on DESC, created_at DESC LIMIT 1000
            """,
            logger: logger
        )
        var result: [SkillAssessment] = []
        for try await (id, category, level, on, assessor, note, agency) in rows.decode((UUID, String, Int16, String, String, String?, UUID).self) {
            result.append(
                SkillAssessment(
                    id: id,
                    category: category,
                    level: Int(level),
                    assessedOn: on,
                    assessor: assessor,
                    note: note,
                    agencyID: agency
                )
            )
        }
        return result
    }
}
