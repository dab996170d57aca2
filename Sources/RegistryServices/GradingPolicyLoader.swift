import RegistryDomain

/// Loads `grading.yaml` from `directory` and validates it: every rule, then every example the
/// policy carries. A problem names the file, the line and what is wrong (`PolicyLoadError`).
public func loadGradingPolicy(directory: String) throws -> GradingPolicy {
    try PolicyFile.load(directory + "/grading.yaml", as: GradingPolicy.self) { policy throws(PolicyError) in
        try policy.validate()
        return policy
    }
}
