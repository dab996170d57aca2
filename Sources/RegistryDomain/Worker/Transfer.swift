/// The transfer of custody (续接) between agencies, as a pure state machine.
///
///     requested ──consent──▶ consented ──seal / deadline──▶ completed
///         │ │ └──reject──▶ rejected          │
///         │ └──expire──▶ expired (unanswered) │
///         └──cancel──▶ cancelled ◀──cancel─┘
public enum TransferStatus: String, Sendable, Codable, CaseIterable {
    case requested, consented, completed, rejected, cancelled, expired

    public var isOpen: Bool { self == .requested || self == .consented }
}

public enum TransferEvent: String, Sendable, Codable, CaseIterable {
    /// The worker agrees (in her account or by the one-time code).
    case consent
    /// The worker refuses.
    case reject
    /// The requesting agency (or an administrator) withdraws the request.
    case cancel
    /// The old agency sealed its tenure.
    case seal
    /// The sealing deadline passed; completed without the old agency.
    case deadline
    /// She did not answer within the policy's days; the request lapses and her file is free again.
    case expire
}

public enum TransferMachine {
    /// The events allowed in a state.
    public static func allowed(in status: TransferStatus) -> [TransferEvent] {
        switch status {
        case .requested: [.consent, .reject, .cancel, .expire]
        case .consented: [.seal, .deadline, .cancel]
        case .completed, .rejected, .cancelled, .expired: []
        }
    }

    /// The state after `event`, or a 409 listing what is allowed.
    public static func apply(_ event: TransferEvent, to status: TransferStatus) throws(RegistryError) -> TransferStatus {
        guard allowed(in: status).contains(event) else {
            let allowedNames = allowed(in: status).map(\.rawValue)
            throw RegistryError(
                .conflict,
                code: "illegal_transition",
                message: "A \(status.rawValue) transfer cannot take '\(event.rawValue)'."
                    + (allowedNames.isEmpty ? " It is closed." : " Allowed: \(allowedNames.joined(separator: ", "))."),
                details: ["status": status.rawValue, "allowed": allowedNames.joined(separator: ",")]
            )
        }
        switch event {
        case .consent: return .consented
        case .reject: return .rejected
        case .cancel: return .cancelled
        case .expire: return .expired
        case .seal, .deadline: return .completed
        }
    }
}
