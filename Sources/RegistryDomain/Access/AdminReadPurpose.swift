/// Why an administrator opens a worker's whole file (her report, her grade's computation). Every
/// such read is an inquiry she sees in her "who looked" list, with this purpose.
public enum AdminReadPurpose: String, Sendable, CaseIterable, Codable {
    /// Adjudicating a case about her.
    case caseReview = "case"
    /// Deciding a dispute she or someone else raised.
    case dispute
    /// An audit of the registry's own records.
    case audit

    /// The purpose an administrator stated, or a 400 naming the choices.
    public static func parse(_ text: String?) throws(RegistryError) -> AdminReadPurpose {
        guard let text, !text.isEmpty else {
            throw RegistryError.invalid(
                "purpose",
                "State why you open her file: purpose=case, dispute or audit. She sees it in her list of who looked.",
                code: "purpose_required"
            )
        }
        guard let purpose = AdminReadPurpose(rawValue: text) else {
            throw RegistryError.invalid("purpose", "The purpose is case, dispute or audit.")
        }
        return purpose
    }
}
