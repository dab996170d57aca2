/// The outcome of recomputing the audit chain.
public enum ChainVerification: Sendable, Equatable {
    /// Every link holds; `head` is the hex SHA-256 of the last link (all zeros when empty).
    case intact(count: Int, head: String)
    /// The first row that does not match, and why.
    case broken(seq: Int64, eventID: Int64, reason: String)
}
