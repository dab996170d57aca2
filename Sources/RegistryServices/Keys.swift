import Foundation
import RegistrySecurity

extension Configuration {
    /// The key ring from the environment, else from the keys file, created on first use with
    /// owner-only permissions. Losing that file makes every stored ID number unreadable.
    ///
    /// The keys file must not lie inside the data folder (a copy of that folder would reveal
    /// every ID number): that is refused, except in demo mode, where a keys file left there by
    /// an earlier version is moved out to `keysFile`.
    public func loadKeys(demo: Bool = false) throws -> KeyRing {
        if let sealing = sealingKey, let index = blindIndexKey, let signing = signingKey {
            return try KeyRing(stored: .init(sealing_key: sealing, blind_index_key: index, signing_key: signing))
        }
        if sealingKey != nil || blindIndexKey != nil || signingKey != nil {
            throw ConfigurationError("set all three of REGISTRY_SEALING_KEY, REGISTRY_BLIND_INDEX_KEY and REGISTRY_SIGNING_KEY, or none")
        }
        let fm = FileManager.default
        if Self.isInside(keysFile, folder: dataDirectory), !demo {
            throw ConfigurationError(
                """
                the keys file \(keysFile) is inside the data folder \(dataDirectory): a copy of that folder would reveal every ID number. \
                Set REGISTRY_KEYS_FILE to a path outside it (or give the keys in REGISTRY_SEALING_KEY, REGISTRY_BLIND_INDEX_KEY, REGISTRY_SIGNING_KEY).
                """
            )
        }
        if !fm.fileExists(atPath: keysFile), fm.fileExists(atPath: legacyKeysFile) {
            guard demo else {
                throw ConfigurationError(
                    """
                    the keys file is inside the data folder (\(legacyKeysFile)), where a copy of the folder would carry it: \
                    move it out, e.g. `mkdir -m 700 -p \((keysFile as NSString).deletingLastPathComponent) && mv \(legacyKeysFile) \(keysFile)`, \
                    or set REGISTRY_KEYS_FILE
                    """
                )
            }
            try createKeysFolder()
            try fm.moveItem(atPath: legacyKeysFile, toPath: keysFile)
        }
        if let data = fm.contents(atPath: keysFile) {
            do {
                return try KeyRing(stored: try JSONDecoder().decode(KeyRing.Stored.self, from: data))
            } catch {
                throw ConfigurationError("\(keysFile) is not a valid keys file: \(error)")
            }
        }
        let keys = KeyRing.random()
        try saveKeys(keys)
        return keys
    }

    /// Writes the key ring to `keysFile`, owner-only, replacing the old file in one step.
    public func saveKeys(_ keys: KeyRing) throws {
        guard sealingKey == nil else { throw ConfigurationError("the keys come from the environment: change them there") }
        try createKeysFolder()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = keysFile + ".new"
        let fm = FileManager.default
        try? fm.removeItem(atPath: temporary)
        guard fm.createFile(atPath: temporary, contents: try encoder.encode(keys.stored), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("could not write \(temporary)")
        }
        guard rename(temporary, keysFile) == 0 else { throw ConfigurationError("could not replace \(keysFile)") }
    }

    func createKeysFolder() throws {
        let folder = (keysFile as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    static func isInside(_ path: String, folder: String) -> Bool {
        let p = (path as NSString).standardizingPath
        let f = (folder as NSString).standardizingPath
        return p.hasPrefix(f.hasSuffix("/") ? f : f + "/")
    }
}
