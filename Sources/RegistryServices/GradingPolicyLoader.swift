import RegistryDomain

/// Loads `grading.yaml` from `directory` and validates it: every rule, then every example the
/// policy carries. A problem names the file, the line and what is wrong (`PolicyLoadError`).
/// With `sectors`, its service categories must be exactly the sectors' (a rule for each, no other).
public func loadGradingPolicy(directory: String, sectors: SectorPolicy? = nil) throws -> GradingPolicy {
    try PolicyFile.load(directory + "/grading.yaml", as: GradingPolicy.self) { file throws(PolicyError) in
        let policy = sectors.map { file.applying(sectors: $0) } ?? file
        try policy.validate()
        return policy
    }
}

/// Loads `sectors.yaml` from `directory` and validates it.
public func loadSectorPolicy(directory: String) throws -> SectorPolicy {
    try PolicyFile.load(directory + "/sectors.yaml", as: SectorPolicy.self) { policy throws(PolicyError) in
        try policy.validate()
        return policy
    }
}
