import Crypto
import Foundation
import RegistryDomain

/// The service's secret keys: AES-GCM for ID numbers and other sealed fields, HMAC-SHA256 for
/// the blind index, Ed25519 for signed reports.
public struct KeyRing: Sendable {
    public let sealingKey: SymmetricKey
    public let blindIndexKey: SymmetricKey
    public let signingKey: Curve25519.Signing.PrivateKey

    public init(sealingKey: SymmetricKey, blindIndexKey: SymmetricKey, signingKey: Curve25519.Signing.PrivateKey) {
        self.sealingKey = sealingKey
        self.blindIndexKey = blindIndexKey
        self.signingKey = signingKey
    }

    /// Fresh random keys (first run of an embedded registry, tests).
    public static func random() -> KeyRing {
        KeyRing(sealingKey: SymmetricKey(size: .bits256), blindIndexKey: SymmetricKey(size: .bits256),
                signingKey: Curve25519.Signing.PrivateKey())
    }

    /// The stored form: base64 of each key.
    public struct Stored: Codable, Sendable {
        public var sealing_key: String
        public var blind_index_key: String
        public var signing_key: String

        public init(sealing_key: String, blind_index_key: String, signing_key: String) {
            self.sealing_key = sealing_key
            self.blind_index_key = blind_index_key
            self.signing_key = signing_key
        }
    }

    public var stored: Stored {
        Stored(sealing_key: sealingKey.withUnsafeBytes { Data($0).base64EncodedString() },
               blind_index_key: blindIndexKey.withUnsafeBytes { Data($0).base64EncodedString() },
               signing_key: signingKey.rawRepresentation.base64EncodedString())
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
        self.init(sealingKey: SymmetricKey(data: try key(stored.sealing_key, "sealing_key")),
                  blindIndexKey: SymmetricKey(data: try key(stored.blind_index_key, "blind_index_key")),
                  signingKey: signer)
    }

    /// AES-GCM sealed box: nonce || ciphertext || tag.
    public func seal(_ plaintext: String) -> [UInt8] {
        // AES-GCM with a random 96-bit nonce only fails on invalid key sizes, which init rules out.
        let box = try! AES.GCM.seal(Data(plaintext.utf8), using: sealingKey)
        return Array(box.combined!)
    }

    public func open(_ sealed: [UInt8]) throws(RegistryError) -> String {
        do {
            let box = try AES.GCM.SealedBox(combined: Data(sealed))
            return String(decoding: try AES.GCM.open(box, using: sealingKey), as: UTF8.self)
        } catch {
            throw RegistryError(.unprocessable, code: "unsealable", message: "A sealed value could not be opened.")
        }
    }

    /// The keyed blind index of a national ID number: HMAC-SHA256 under the index key.
    public func blindIndex(_ id: NationalID) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(id.value.utf8), using: blindIndexKey))
    }
}
