import RegistryDomain
import Testing

/// Expects `body` to throw the `RegistryError` with `code`: another error, or none, fails the test.
/// With `field`, the error must also name that field.
func expectError<T>(_ code: String, field: String? = nil, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) {
    do {
        _ = try body()
        Issue.record("expected the error \(code), but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as RegistryError {
        #expect(error.code == code, "expected the error \(code), got \(error)", sourceLocation: sourceLocation)
        if let field { #expect(error.field == field, "expected the field \(field), got \(error)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("expected the error \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
