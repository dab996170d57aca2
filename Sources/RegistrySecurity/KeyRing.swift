import Crypto
import Foundation
import RegistryDomain

/// The service's secret keys: AES-GCM for ID numbers and other sealed fields (in versions, so
/// that the key can be rotated), HMAC-SHA256 for the blind index, Ed25519 for signed reports.
///
/// A sealed value is `"RK" version 0x01 nonce ciphertext tag`: the version names the sealing key,
/// and the AES-GCM associated data is the value's place (`table.column:row`), so a ciphertext
/// copied into another row or column does not open. Values sealed before versions existed (a bare
/// `nonce ciphertext tag`, no associated data) still open with version 1 until `registry keys
/// rotate` re-seals them.
public struct KeyRing: Sendable {
    /// Sealing keys by version; new values are sealed with `currentSealingVersion`.
    public let sealingKeys: [Int: SymmetricKey]
    public let currentSealingVersion: Int
    public let blindIndexKey: SymmetricKey
    public let signingKey: Curve25519.Signing.PrivateKey

    public var sealingKey: SymmetricKey { sealingKeys[currentSealingVersion]! }

    public init(sealingKey: SymmetricKey, blindIndexKey: SymmetricKey, signingKey: Curve25519.Signing.PrivateKey) {
        self.init(sealingKeys: [1: sealingKey], current: 1, blindIndexKey: blindIndexKey, signingKey: signingKey)
    }

    public init(sealingKeys: [Int: SymmetricKey], current: Int, blindIndexKey: SymmetricKey, signingKey: Curve25519.Signing.PrivateKey) {
        precondition(sealingKeys[current] != nil && (1...255).contains(current))
        self.sealingKeys = sealingKeys
        self.currentSealingVersion = current
        self.blindIndexKey = blindIndexKey
        self.signingKey = signingKey
    }

    /// Fresh random keys (first run of an embedded registry, tests).
    public static func random() -> KeyRing {
        KeyRing(
            sealingKey: SymmetricKey(size: .bits256),
            blindIndexKey: SymmetricKey(size: .bits256),
            signingKey: Curve25519.Signing.PrivateKey()
        )
    }

    /// The same keys with a new random sealing key as the next, current version.
    public func addingSealingVersion() -> KeyRing {
        let next = (sealingKeys.keys.max() ?? 0) + 1
        var keys = sealingKeys
        keys[next] = SymmetricKey(size: .bits256)
        return KeyRing(sealingKeys: keys, current: next, blindIndexKey: blindIndexKey, signingKey: signingKey)
    }

    /// The stored form: base64 of each key; `sealing_keys` holds every version by number
    /// (`sealing_key` alone is version 1, as written before versions existed).
    public struct Stored: Codable, Sendable {
        public var sealing_key: String
        public var blind_index_key: String
        public var signing_key: String
        public var sealing_keys: [String: String]?
        public var current_sealing_version: Int?

        public init(
            sealing_key: String,
            blind_index_key: String,
            signing_key: String,
            sealing_keys: [String: String]? = nil,
            current_sealing_version: Int? = nil
        ) {
            self.sealing_key = sealing_key
            self.blind_index_key = blind_index_key
            self.signing_key = signing_key
            self.sealing_keys = sealing_keys
            self.current_sealing_version = current_sealing_version
        }
    }

    static func base64(_ key: SymmetricKey) -> String { key.withUnsafeBytes { Data($0).base64EncodedString() } }

    public var stored: Stored {
        Stored(
            sealing_key: Self.base64(sealingKeys[1] ?? sealingKey),
            blind_index_key: Self.base64(blindIndexKey),
            signing_key: signingKey.rawRepresentation.base64EncodedString(),
            sealing_keys: sealingKeys.count > 1 || currentSealingVersion != 1
                ? Dictionary(uniqueKeysWithValues: sealingKeys.map { (String($0.key), Self.base64($0.value)) }) : nil,
            current_sealing_version: currentSealingVersion != 1 ? currentSealingVersion : nil
        )
    }

    public init(stored: Stored) throws(RegistryError) {
        func key(_ b64: String, _ name: String) throws(RegistryError) -> Data {
            guard let data = Data(base64Encoded: b64), data.count == 32 else {
                throw RegistryError(.unprocessable, code: "bad_key", message: "\(name) must be 32 bytes, base64")
            }
            return data
        }
        let signing = try key(stored.signing_key, "signing_key")
        guard let signer = try? Curve25519.Signing.PrivateKey(rawRepresentation: signing) else {
            throw RegistryError(.unprocessable, code: "bad_key", message: "signing_key is not an Ed25519 key")
        }
        var sealing: [Int: SymmetricKey] = [1: SymmetricKey(data: try key(stored.sealing_key, "sealing_key"))]
        for (version, b64) in stored.sealing_keys ?? [:] {
            guard let v = Int(version), (1...255).contains(v) else {
                throw RegistryError(.unprocessable, code: "bad_key", message: "sealing_keys: '\(version)' is not a version from 1 to 255")
            }
            sealing[v] = SymmetricKey(data: try key(b64, "sealing_keys.\(version)"))
        }
        let current = stored.current_sealing_version ?? 1
        guard sealing[current] != nil, (1...255).contains(current) else {
            throw RegistryError(.unprocessable, code: "bad_key", message: "current_sealing_version \(current) has no key in sealing_keys")
        }
        self.init(
            sealingKeys: sealing,
            current: current,
            blindIndexKey: SymmetricKey(data: try key(stored.blind_index_key, "blind_index_key")),
            signingKey: signer
        )
    }

    static let header: [UInt8] = [0x52, 0x4B]  // "RK"
    static let formatWithContext: UInt8 = 0x01

    /// Seals `plaintext` for its place (`table.column:row`) under the current key version.
    public func seal(_ plaintext: String, context: String) -> [UInt8] {
        // AES-GCM with a random 96-bit nonce only fails on invalid key sizes, which init rules out.
        let box = try! AES.GCM.seal(Data(plaintext.utf8), using: sealingKey, authenticating: Data(context.utf8))
        return Self.header + [UInt8(currentSealingVersion), Self.formatWithContext] + Array(box.combined!)
    }

    /// Opens a value sealed for `context` (or, before versions existed, for no context).
    public func open(_ sealed: [UInt8], context: String) throws(RegistryError) -> String {
        if sealed.count > 4 + 28, Array(sealed.prefix(2)) == Self.header, sealed[3] == Self.formatWithContext,
            let key = sealingKeys[Int(sealed[2])],
            let box = try? AES.GCM.SealedBox(combined: Data(sealed.dropFirst(4))),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Data(context.utf8))
        {
            return String(decoding: plain, as: UTF8.self)
        }
        // A value sealed before versions: version 1, no associated data.
        if let key = sealingKeys[1], let box = try? AES.GCM.SealedBox(combined: Data(sealed)), let plain = try? AES.GCM.open(box, using: key) {
            return String(decoding: plain, as: UTF8.self)
        }
        throw RegistryError(.unprocessable, code: "unsealable", message: "A sealed value could not be opened.")
    }

    /// The key version a sealed value names (1 for a value sealed before versions existed).
    public static func version(of sealed: [UInt8]) -> Int {
        sealed.count > 4 && Array(sealed.prefix(2)) == header && sealed[3] == formatWithContext ? Int(sealed[2]) : 1
    }

    /// Whether a value is sealed in the current format, key and context-bound (nothing for a re-seal to do).
    public func isCurrent(_ sealed: [UInt8]) -> Bool {
        sealed.count > 4 && Array(sealed.prefix(2)) == Self.header && sealed[3] == Self.formatWithContext
            && Int(sealed[2]) == currentSealingVersion
    }

    /// The key that signs audit checkpoints (HMAC-SHA256), derived from the blind index key with
    /// HKDF so that the keys file needs no new entry; like every key here, never in the database.
    public var checkpointKey: SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: blindIndexKey, info: Data("registry audit checkpoint v1".utf8), outputByteCount: 32)
    }

    /// The signature of an audit checkpoint: HMAC-SHA256 of `seq|hash|takenAt`.
    public func signCheckpoint(seq: Int64, hash: String, takenAt: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data("\(seq)|\(hash)|\(takenAt)".utf8), using: checkpointKey))
    }

    /// The keyed blind index of a national ID number: HMAC-SHA256 under the index key.
    public func blindIndex(_ id: NationalID) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(id.value.utf8), using: blindIndexKey))
    }

    /// The blind index for many ID numbers in a row (a flag file): the HMAC's keyed state is
    /// computed once, each number costs only its own bytes.
    public var blindIndexer: BlindIndexer { BlindIndexer(keyed: HMAC<SHA256>(key: blindIndexKey)) }
}

/// `KeyRing.blindIndex` with the key schedule done once; the same bytes for the same number.
public struct BlindIndexer: Sendable {
    let keyed: HMAC<SHA256>

    /// The blind index of an ID number already validated (its 18 characters as UTF-8), handed to `use`.
    public func index<R>(of idNumber: UnsafeRawBufferPointer, _ use: (UnsafeRawBufferPointer) -> R) -> R {
        var mac = keyed
        mac.update(data: idNumber)
        return mac.finalize().withUnsafeBytes(use)
    }
}

/// Where a sealed value lives, the associated data it is bound to.
public enum SealedPlace {
    public static func workerID(_ workerID: UUID) -> String { "workers.id_ciphertext:" + workerID.uuidString.lowercased() }
    public static func flagNarrative(sourceID: UUID, reference: String) -> String {
        "flags.narrative_enc:" + sourceID.uuidString.lowercased() + "/" + reference
    }
    public static func sourceSecret(name: String) -> String { "integration_sources.signing_secret_enc:" + name }
}
