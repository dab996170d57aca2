import Crypto
import Foundation
import RegistryDomain

/// A received evidence file: its bytes (read back once, for the database) and their SHA-256.
public struct EvidenceUpload: Sendable {
    public let content: Data
    public let sha256: Data

    public init(content: Data, sha256: Data) {
        self.content = content
        self.sha256 = sha256
    }
}

/// Receives an upload piece by piece: each piece goes to a private temporary file and into the
/// hash as it arrives, so the request body is never held whole in memory while it is read, and
/// the upload stops as soon as it is larger than the policy allows. The file is removed when
/// the sink is finished or dropped.
public final class EvidenceSink {
    let limit: Int
    let path: String
    let handle: FileHandle
    var hasher = SHA256()
    public private(set) var size = 0

    public init(limit: Int, directory: String = NSTemporaryDirectory()) throws {
        self.limit = limit
        path = (directory as NSString).appendingPathComponent("registry-evidence-\(UUID().uuidString).part")
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw RegistryError(.unavailable, code: "upload_failed", message: "The upload could not be received. Try again.") }
        self.handle = handle
    }

    deinit {
        try? handle.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Takes the next piece; `evidence_too_large` once the file passes the limit.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        size += bytes.count
        guard size <= limit else {
            throw RegistryError(.tooLarge, code: "evidence_too_large", message: "Evidence files are at most \(limit / 1_048_576) MB.")
        }
        hasher.update(bufferPointer: bytes)
        try handle.write(contentsOf: Data(bytes))
    }

    /// The whole file and its hash.
    public func finish() throws -> EvidenceUpload {
        try handle.synchronize()
        let content = try Data(contentsOf: URL(fileURLWithPath: path))
        return EvidenceUpload(content: content, sha256: Data(hasher.finalize()))
    }
}
