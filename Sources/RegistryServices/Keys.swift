import Foundation
import RegistrySecurity

extension Configuration {
    /// The key ring from the environment, else from the keys file, created on first use with
    /// owner-only permissions. Losing that file makes every stored ID number unreadable.
    public func loadKeys() throws -> KeyRing {
        if let sealing = sealingKey, let index = blindIndexKey, let signing = signingKey {
            return try KeyRing(stored: .init(sealing_key: sealing, blind_index_key: index, signing_key: signing))
        }
        if sealingKey != nil || blindIndexKey != nil || signingKey != nil {
            throw ConfigurationError("set all three of REGISTRY_SEALING_KEY, REGISTRY_BLIND_INDEX_KEY and REGISTRY_SIGNING_KEY, or none")
        }
        let fm = FileManager.default
        if let data = fm.contents(atPath: keysFile) {
            do {
                return try KeyRing(stored: try JSONDecoder().decode(KeyRing.Stored.self, from: data))
            } catch {
                throw ConfigurationError("\(keysFile) is not a valid keys file: \(error)")
            }
        }
        try fm.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let keys = KeyRing.random()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard fm.createFile(atPath: keysFile, contents: try encoder.encode(keys.stored), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("could not write \(keysFile)")
        }
        return keys
    }
}
