import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Who asks, and the request's id for the audit log.
public struct Caller: Sendable {
    public var principal: Principal
    public var requestID: String?

    public init(_ principal: Principal, requestID: String? = nil) {
        self.principal = principal
        self.requestID = requestID
    }

    public static let system = Caller(.anonymous)

    public var userUUID: UUID? { principal.userID?.uuid }
    public var agencyUUID: UUID? { principal.agencyID?.uuid }
    public var workerUUID: UUID? { principal.workerID?.uuid }

    public func event(_ action: String, _ subjectType: String, _ subjectID: UUID?, _ details: [String: AuditValue] = [:]) -> AuditEvent {
        if case .anonymous = principal.kind {
            return AuditEvent(
                actorKind: .system,
                actorID: nil,
                actorRole: "system",
                action: action,
                subjectType: subjectType,
                subjectID: subjectID?.uuidString.lowercased(),
                requestID: requestID,
                details: details
            )
        }
        return AuditEvent(
            by: principal,
            action: action,
            subjectType: subjectType,
            subjectID: subjectID?.uuidString.lowercased(),
            requestID: requestID,
            details: details
        )
    }
}

extension CivilDate {
    /// Today in China Standard Time, the registry's civil calendar.
    public static func today(_ now: Date = Date()) -> CivilDate {
        let seconds = Int(now.timeIntervalSince1970) + 8 * 3600
        return CivilDate(daysSinceEpoch: Int((Double(seconds) / 86_400).rounded(.down)))
    }
}

/// Input text helpers shared by the services.
enum Input {
    static func text(_ value: String?, field: String, max: Int, required: Bool = true) throws(RegistryError) -> String? {
        let trimmed = value?.trimmingWhitespace() ?? ""
        if trimmed.isEmpty {
            if required { throw .invalid(field, "'\(field)' is required.", code: "missing_field") }
            return nil
        }
        guard trimmed.count <= max else { throw .invalid(field, "'\(field)' is longer than \(max) characters.", code: "too_long") }
        guard !trimmed.hasControlCharacters else {
            throw .invalid(field, "'\(field)' contains control characters or bidirectional overrides.", code: "invalid_characters")
        }
        return trimmed
    }

    /// A name (of a person, a household, an agency, a source): free text's rule, and no line
    /// breaks, tabs or invisible format characters either.
    static func name(_ value: String?, field: String, max: Int, required: Bool = true) throws(RegistryError) -> String? {
        guard let text = try text(value, field: field, max: max, required: required) else { return nil }
        guard !text.hasInvisibleCharacters else {
            throw .invalid(field, "'\(field)' contains line breaks or invisible characters.", code: "invalid_characters")
        }
        return text
    }

    static func date(_ value: String?, field: String, required: Bool = true, notAfter: CivilDate? = nil) throws(RegistryError) -> CivilDate? {
        guard let value, !value.trimmingWhitespace().isEmpty else {
            if required { throw .invalid(field, "'\(field)' is required (YYYY-MM-DD).", code: "missing_field") }
            return nil
        }
        guard let date = CivilDate(iso: value.trimmingWhitespace()), date.year >= 1900 else {
            throw .invalid(field, "'\(field)' must be a date as YYYY-MM-DD.")
        }
        if let notAfter, date > notAfter { throw .invalid(field, "'\(field)' cannot be in the future.") }
        return date
    }
}
