import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// SMS through an HTTP gateway speaking the registry's provider-neutral protocol (README,
/// "Messages"): one JSON `POST` per message, signed with HMAC-SHA256 and named by the message's
/// idempotency key, which the gateway uses to drop a repeat.
///
///     POST <REGISTRY_SMS_GATEWAY_URL>
///     Content-Type: application/json
///     X-Registry-Key-Id: <key id>
///     X-Registry-Request-Id: <idempotency key>
///     X-Registry-Timestamp: <unix seconds>
///     X-Registry-Signature: sha256=<hex HMAC-SHA256(secret, "POST\n" + path + "\n" + timestamp + "\n" + body)>
///     {"id": "<idempotency key>", "to": "<phone>", "kind": "<message kind>", "text": "<text>"}
///
/// 2xx (`{"message_id": "…"}`) and 409 (already accepted under this id) are delivered; 400, 401,
/// 403, 404 and 422 are refusals no retry can mend; anything else, a timeout or no answer is tried
/// again later.
public struct HTTPGatewayChannel: MessageChannel {
    public struct Settings: Sendable {
        public var url: String
        public var secret: String
        public var keyID: String
        public var timeout: TimeAmount

        public init(url: String, secret: String, keyID: String = "registry", timeout: TimeAmount = .seconds(10)) {
            self.url = url
            self.secret = secret
            self.keyID = keyID
            self.timeout = timeout
        }
    }

    let settings: Settings
    let client: HTTPClient
    let now: @Sendable () -> Date

    public init(_ settings: Settings, client: HTTPClient = .shared, now: @escaping @Sendable () -> Date) {
        self.settings = settings
        self.client = client
        self.now = now
    }

    struct Body: Encodable {
        var id: String
        var to: String
        var kind: String
        var text: String
    }

    struct Answer: Decodable {
        var messageID: String?
        enum CodingKeys: String, CodingKey { case messageID = "message_id" }
    }

    /// The signature of a request: HMAC-SHA256 over method, path, timestamp and body.
    public static func signature(secret: String, method: String, path: String, timestamp: String, body: [UInt8]) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        mac.update(data: Data("\(method)\n\(path)\n\(timestamp)\n".utf8))
        mac.update(data: body)
        return "sha256=" + Data(mac.finalize()).map { String(format: "%02x", $0) }.joined()
    }

    public func send(_ message: OutgoingMessage, logger: Logger) async throws -> String? {
        let body = try JSONEncoder().encode(Body(id: message.key, to: message.recipient, kind: message.kind, text: message.text))
        let timestamp = String(Int(now().timeIntervalSince1970))
        let path = URLComponents(string: settings.url)?.path ?? "/"
        var request = HTTPClientRequest(url: settings.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Registry-Key-Id", value: settings.keyID)
        request.headers.add(name: "X-Registry-Request-Id", value: message.key)
        request.headers.add(name: "X-Registry-Timestamp", value: timestamp)
        request.headers.add(
            name: "X-Registry-Signature",
            value: Self.signature(secret: settings.secret, method: "POST", path: path.isEmpty ? "/" : path, timestamp: timestamp, body: Array(body))
        )
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: settings.timeout, logger: logger)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw DeliveryError("timeout")
        } catch {
            throw DeliveryError("unreachable")
        }
        let answer = try? await response.body.collect(upTo: 64 * 1024)
        switch response.status.code {
        case 200..<300:
            return answer.flatMap { try? JSONDecoder().decode(Answer.self, from: Data($0.readableBytesView)) }?.messageID
        case 409:
            return nil  // already accepted under this id: a repeat after a crash
        case 400, 401, 403, 404, 422:
            throw DeliveryError("refused_\(response.status.code)", retryable: false)
        default:
            throw DeliveryError("http_\(response.status.code)")
        }
    }
}
