import RegistryDomain

extension ID {
    /// A fixed identifier for a test, distinct for each number.
    static func n(_ number: Int) -> ID {
        let digits = String(number)
        return ID("00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - digits.count) + digits)!
    }
}
